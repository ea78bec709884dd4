/**
 * The dashboard's operational state besides the series: alerts (latest state per alert id plus
 * a bounded history of transitions, silences and acknowledgements), the pattern catalog, the
 * agents' last heartbeats, and the live tail (a bounded ring of parsed, sampled log lines).
 *
 * Pure: every method that depends on time takes `now`. Every map and ring is bounded, and what
 * a bound turns away is counted in `counters`. Listeners run synchronously and must not throw.
 *
 * Where the tail's lines come from: the logs topic carries framed, unparsed batches, and parsing
 * them for every open tail would multiply the cost by the number of viewers. The collector (the
 * miner stage) publishes a bounded sample of parsed lines per pattern on the tail topic
 * (`tidewatch.tail`, wire type `logs`); the dashboard decodes each message once into this ring,
 * and every open tail is a filter over the ring. A test or `up` may publish there directly.
 */
import type { AgentHeartbeat, AlertRecord, PatternRecord } from '../core/wire.js';
import type { AttrValue, LogRecord } from '../core/model.js';

export type AlertStatus = 'firing' | 'pending' | 'resolved';

export interface AlertView {
  readonly alert_id: string;
  readonly rule: string;
  readonly status: AlertStatus;
  readonly severity: AlertRecord['severity'];
  readonly labels: Readonly<Record<string, string>>;
  readonly started_at: number;
  readonly time: number;
  readonly resolved_at: number | null;
  readonly value: number;
  readonly score: number | null;
  readonly summary: string;
  readonly acknowledged: { by: string; at: number } | null;
  readonly silenced_until: number | null;
}

export interface AlertEvent {
  readonly alert_id: string;
  readonly rule: string;
  readonly time: number;
  /** A state the alert entered, or a person's action. */
  readonly event: AlertStatus | 'acknowledged' | 'silenced';
  readonly detail: string;
}

export interface PatternView {
  readonly pattern_id: string;
  readonly template: string;
  readonly count: number;
  readonly first_seen: number;
  readonly last_seen: number;
  readonly sample: string | null;
  readonly labels: Readonly<Record<string, string>>;
  /** Count increase per minute over the last `sparkMinutes` minutes, oldest first. */
  readonly spark: readonly number[];
}

export interface AgentView {
  readonly agent_id: string;
  readonly host: string;
  readonly version: string;
  readonly started_at: number;
  readonly last_seen: number;
  readonly interval_ms: number;
  readonly streams: number;
  readonly stopping: boolean;
  /** Bytes not yet read or not yet confirmed, per file (`*` when the agent gives only a total). */
  readonly lag_bytes: Readonly<Record<string, number>>;
  readonly drops: Readonly<Record<string, number>>;
  readonly status: 'ok' | 'silent' | 'stopped';
}

export interface TailLine {
  readonly seq: number;
  readonly time: number;
  readonly severity: string;
  readonly body: string;
  readonly host: string;
  readonly pattern_id: string | null;
  readonly attributes: Readonly<Record<string, string>>;
}

export interface OpsCounters {
  alerts_overflow: number;
  history_evicted: number;
  patterns_overflow: number;
  agents_overflow: number;
  tail_evicted: number;
  tail_truncated: number;
}

export interface OpsOptions {
  maxAlerts?: number;
  maxHistory?: number;
  maxPatterns?: number;
  maxAgents?: number;
  /** Parsed lines kept for the live tail (default 5000). */
  tailLines?: number;
  /** Characters of one line's body kept (default 8192). */
  maxBodyChars?: number;
  /** A host is silent after this many missed heartbeat intervals (default 3). */
  silentAfterIntervals?: number;
}

export type OpsChange = { kind: 'alert'; alert: AlertView } | { kind: 'pattern'; pattern: PatternView } | { kind: 'agent'; agent: AgentView } | { kind: 'tail'; line: TailLine };

interface PatternEntry {
  rec: PatternRecord;
  /** [minute, count at the end of that minute] */
  minutes: Array<[number, number]>;
}

interface AlertEntry {
  rec: AlertRecord;
  ack: { by: string; at: number } | null;
  silencedUntil: number | null;
}

interface AgentEntry {
  hb: AgentHeartbeat;
  lag: Record<string, number>;
  drops: Record<string, number>;
}

export const HEARTBEAT_EVENT_NAME = 'tidewatch.agent.heartbeat';
const SPARK_MINUTES = 30;

function text(v: AttrValue | undefined): string {
  if (v === undefined || v === null) return '';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function statusOf(r: AlertRecord): AlertStatus {
  if (r.state === 'resolved') return 'resolved';
  // The wire record knows firing and resolved; a rules stage that publishes pending instances
  // marks them the Prometheus way, with an `alertstate` label.
  return r.labels['alertstate'] === 'pending' ? 'pending' : 'firing';
}

function severityName(n: number, t: string): string {
  if (t !== '') return t.toLowerCase();
  if (n >= 21) return 'fatal';
  if (n >= 17) return 'error';
  if (n >= 13) return 'warn';
  if (n >= 9) return 'info';
  if (n >= 5) return 'debug';
  if (n >= 1) return 'trace';
  return 'unspecified';
}

export class OpsState {
  private readonly alerts = new Map<string, AlertEntry>();
  private readonly history: AlertEvent[] = [];
  private readonly patterns = new Map<string, PatternEntry>();
  private readonly agents = new Map<string, AgentEntry>();
  private readonly tail: TailLine[] = [];
  private readonly listeners = new Set<(c: OpsChange) => void>();
  private tailSeq = 0;
  readonly counters: OpsCounters = { alerts_overflow: 0, history_evicted: 0, patterns_overflow: 0, agents_overflow: 0, tail_evicted: 0, tail_truncated: 0 };
  private readonly o: Required<OpsOptions>;

  constructor(opts: OpsOptions = {}) {
    this.o = {
      maxAlerts: opts.maxAlerts ?? 5000,
      maxHistory: opts.maxHistory ?? 10_000,
      maxPatterns: opts.maxPatterns ?? 10_000,
      maxAgents: opts.maxAgents ?? 10_000,
      tailLines: opts.tailLines ?? 5000,
      maxBodyChars: opts.maxBodyChars ?? 8192,
      silentAfterIntervals: opts.silentAfterIntervals ?? 3,
    };
  }

  subscribe(l: (c: OpsChange) => void): () => void {
    this.listeners.add(l);
    return () => void this.listeners.delete(l);
  }

  private emit(c: OpsChange): void {
    for (const l of this.listeners) l(c);
  }

  private record(e: AlertEvent): void {
    this.history.push(e);
    if (this.history.length > this.o.maxHistory) {
      this.history.splice(0, this.history.length - this.o.maxHistory);
      this.counters.history_evicted++;
    }
  }

  // ---- alerts

  applyAlert(r: AlertRecord): boolean {
    const old = this.alerts.get(r.alert_id);
    if (old === undefined && this.alerts.size >= this.o.maxAlerts) {
      // Make room by forgetting the oldest resolved alert; with none, the new one is turned away.
      const victim = [...this.alerts.entries()].find(([, e]) => e.rec.state === 'resolved');
      if (victim === undefined) {
        this.counters.alerts_overflow++;
        return false;
      }
      this.alerts.delete(victim[0]);
    }
    if (old !== undefined && old.rec.time > r.time) return false; // an older state arriving late
    const changed = old === undefined || statusOf(old.rec) !== statusOf(r);
    // A new firing episode clears the acknowledgement of the previous one.
    const ack = old !== undefined && old.rec.started_at === r.started_at ? old.ack : null;
    const entry: AlertEntry = { rec: r, ack, silencedUntil: old?.silencedUntil ?? null };
    this.alerts.delete(r.alert_id);
    this.alerts.set(r.alert_id, entry);
    if (changed) this.record({ alert_id: r.alert_id, rule: r.rule, time: r.time, event: statusOf(r), detail: r.summary });
    this.emit({ kind: 'alert', alert: this.alertView(entry, r.time) });
    return true;
  }

  private alertView(e: AlertEntry, now: number): AlertView {
    const r = e.rec;
    return {
      alert_id: r.alert_id,
      rule: r.rule,
      status: statusOf(r),
      severity: r.severity,
      labels: r.labels,
      started_at: r.started_at,
      time: r.time,
      resolved_at: r.resolved_at ?? null,
      value: r.value,
      score: r.score ?? null,
      summary: r.summary,
      acknowledged: e.ack,
      silenced_until: e.silencedUntil !== null && e.silencedUntil > now ? e.silencedUntil : null,
    };
  }

  listAlerts(now: number): AlertView[] {
    const out = [...this.alerts.values()].map((e) => this.alertView(e, now));
    const rank: Record<AlertStatus, number> = { firing: 0, pending: 1, resolved: 2 };
    return out.sort((a, b) => rank[a.status] - rank[b.status] || b.time - a.time);
  }

  alertHistory(limit = 500): AlertEvent[] {
    return this.history.slice(-limit).reverse();
  }

  acknowledge(id: string, by: string, now: number): AlertView | undefined {
    const e = this.alerts.get(id);
    if (e === undefined) return undefined;
    e.ack = { by, at: now };
    this.record({ alert_id: id, rule: e.rec.rule, time: now, event: 'acknowledged', detail: by });
    const v = this.alertView(e, now);
    this.emit({ kind: 'alert', alert: v });
    return v;
  }

  silence(id: string, untilMs: number, by: string, now: number): AlertView | undefined {
    const e = this.alerts.get(id);
    if (e === undefined) return undefined;
    e.silencedUntil = untilMs;
    this.record({ alert_id: id, rule: e.rec.rule, time: now, event: 'silenced', detail: `${by} until ${new Date(untilMs).toISOString()}` });
    const v = this.alertView(e, now);
    this.emit({ kind: 'alert', alert: v });
    return v;
  }

  // ---- patterns

  applyPattern(p: PatternRecord): boolean {
    // Merged into another pattern, whose record counts these lines too: nothing to show. True,
    // so the alias is persisted and a restart does not bring back an older live record.
    if (p.alias_of !== undefined) {
      this.patterns.delete(p.pattern_id);
      return true;
    }
    let e = this.patterns.get(p.pattern_id);
    if (e === undefined) {
      if (this.patterns.size >= this.o.maxPatterns) {
        this.counters.patterns_overflow++;
        return false;
      }
      e = { rec: p, minutes: [] };
      this.patterns.set(p.pattern_id, e);
    }
    if (p.last_seen < e.rec.last_seen) return false;
    e.rec = p;
    const minute = Math.floor(p.last_seen / 60_000);
    const last = e.minutes[e.minutes.length - 1];
    if (last !== undefined && last[0] === minute) last[1] = p.count;
    else e.minutes.push([minute, p.count]);
    if (e.minutes.length > SPARK_MINUTES + 1) e.minutes.splice(0, e.minutes.length - SPARK_MINUTES - 1);
    this.emit({ kind: 'pattern', pattern: this.patternView(e, p.last_seen) });
    return true;
  }

  private patternView(e: PatternEntry, now: number): PatternView {
    const nowMin = Math.floor(now / 60_000);
    const spark = new Array<number>(SPARK_MINUTES).fill(0);
    let prev: number | undefined;
    for (const [m, c] of e.minutes) {
      const i = SPARK_MINUTES - 1 - (nowMin - m);
      // The first observation's count is everything so far: shown in its own minute.
      const inc = prev === undefined ? c : Math.max(0, c - prev);
      if (i >= 0 && i < SPARK_MINUTES) spark[i] = (spark[i] ?? 0) + inc;
      prev = c;
    }
    const r = e.rec;
    return { pattern_id: r.pattern_id, template: r.template, count: r.count, first_seen: r.first_seen, last_seen: r.last_seen, sample: r.sample ?? null, labels: r.labels, spark };
  }

  /** Patterns by count (`sort=count`) or by first appearance, newest first (`sort=new`). */
  listPatterns(now: number, sort: 'count' | 'new' = 'count', limit = 200): PatternView[] {
    const all = [...this.patterns.values()];
    all.sort(sort === 'new' ? (a, b) => b.rec.first_seen - a.rec.first_seen : (a, b) => b.rec.count - a.rec.count);
    return all.slice(0, limit).map((e) => this.patternView(e, now));
  }

  // ---- agents

  applyHeartbeat(hb: AgentHeartbeat, extra: { lag?: Record<string, number>; drops?: Record<string, number> } = {}): boolean {
    const old = this.agents.get(hb.agent_id);
    if (old === undefined && this.agents.size >= this.o.maxAgents) {
      this.counters.agents_overflow++;
      return false;
    }
    if (old !== undefined && old.hb.time > hb.time) return false;
    const e: AgentEntry = { hb, lag: extra.lag ?? old?.lag ?? {}, drops: extra.drops ?? old?.drops ?? {} };
    this.agents.set(hb.agent_id, e);
    this.emit({ kind: 'agent', agent: this.agentView(e, hb.time) });
    return true;
  }

  /**
   * A heartbeat that arrived as a log record (agent/heartbeat.ts): the attributes carry what the
   * wire record does, plus `tidewatch.lag_bytes` (total) or `tidewatch.lag_bytes.<file>`, and
   * `tidewatch.dropped.<reason>` counts. Returns false when the record is not a heartbeat.
   */
  applyHeartbeatLog(r: LogRecord): boolean {
    const a = r.attributes;
    if (a['event.name'] !== HEARTBEAT_EVENT_NAME) return false;
    const num = (v: AttrValue | undefined, d: number): number => (typeof v === 'number' && Number.isFinite(v) ? v : d);
    const agentId = text(r.resource['tidewatch.agent.id']) || text(r.resource['host.name']);
    if (agentId === '') return false;
    const started = Date.parse(text(a['tidewatch.agent.started_at']));
    const lag: Record<string, number> = {};
    const drops: Record<string, number> = {};
    for (const [k, v] of Object.entries(a)) {
      if (k === 'tidewatch.lag_bytes') lag['*'] = num(v, 0);
      else if (k.startsWith('tidewatch.lag_bytes.')) lag[k.slice('tidewatch.lag_bytes.'.length)] = num(v, 0);
      else if (k.startsWith('tidewatch.dropped.')) drops[k.slice('tidewatch.dropped.'.length)] = num(v, 0);
    }
    return this.applyHeartbeat(
      {
        agent_id: agentId,
        host: text(r.resource['host.name']),
        version: text(a['tidewatch.agent.version']),
        started_at: Number.isFinite(started) ? started : r.observed_time,
        time: r.time ?? r.observed_time,
        interval_ms: Math.max(1, num(a['tidewatch.heartbeat.interval_ms'], 10_000)),
        streams: num(a['tidewatch.files'], 0),
        stopping: a['tidewatch.agent.state'] === 'stopping',
      },
      { lag, drops },
    );
  }

  private agentView(e: AgentEntry, now: number): AgentView {
    const hb = e.hb;
    const silent = now - hb.time > hb.interval_ms * this.o.silentAfterIntervals;
    return {
      agent_id: hb.agent_id,
      host: hb.host,
      version: hb.version,
      started_at: hb.started_at,
      last_seen: hb.time,
      interval_ms: hb.interval_ms,
      streams: hb.streams,
      stopping: hb.stopping,
      lag_bytes: e.lag,
      drops: e.drops,
      status: hb.stopping ? 'stopped' : silent ? 'silent' : 'ok',
    };
  }

  listAgents(now: number): AgentView[] {
    return [...this.agents.values()].map((e) => this.agentView(e, now)).sort((a, b) => a.host.localeCompare(b.host));
  }

  // ---- tail

  applyLog(r: LogRecord): TailLine {
    let body = text(r.body);
    if (body.length > this.o.maxBodyChars) {
      body = body.slice(0, this.o.maxBodyChars);
      this.counters.tail_truncated++;
    }
    const attributes: Record<string, string> = {};
    let n = 0;
    for (const [k, v] of Object.entries(r.attributes)) {
      if (n++ >= 64) break;
      attributes[k] = text(v).slice(0, 1024);
    }
    const line: TailLine = {
      seq: ++this.tailSeq,
      time: r.time ?? r.observed_time,
      severity: severityName(r.severity_number, r.severity_text),
      body,
      host: text(r.resource['host.name']),
      pattern_id: typeof r.attributes['tidewatch.pattern.id'] === 'string' ? r.attributes['tidewatch.pattern.id'] : null,
      attributes,
    };
    this.tail.push(line);
    if (this.tail.length > this.o.tailLines) {
      const drop = this.tail.length - this.o.tailLines;
      this.tail.splice(0, drop);
      this.counters.tail_evicted += drop;
    }
    this.emit({ kind: 'tail', line });
    return line;
  }

  /** Tail lines after `afterSeq` matching the filter, newest last, at most `limit`. */
  queryTail(f: TailFilter, limit = 500): TailLine[] {
    const out: TailLine[] = [];
    for (let i = this.tail.length - 1; i >= 0 && out.length < limit; i--) {
      const l = this.tail[i] as TailLine;
      if (l.seq <= (f.afterSeq ?? 0)) break;
      if (matchesTail(l, f)) out.push(l);
    }
    return out.reverse();
  }
}

export interface TailFilter {
  afterSeq?: number;
  severity?: string;
  host?: string;
  pattern_id?: string;
  /** Case-insensitive substring of the body. */
  contains?: string;
}

export function matchesTail(l: TailLine, f: TailFilter): boolean {
  if (f.severity !== undefined && f.severity !== '' && l.severity !== f.severity) return false;
  if (f.host !== undefined && f.host !== '' && l.host !== f.host) return false;
  if (f.pattern_id !== undefined && f.pattern_id !== '' && l.pattern_id !== f.pattern_id) return false;
  if (f.contains !== undefined && f.contains !== '' && !l.body.toLowerCase().includes(f.contains.toLowerCase())) return false;
  return true;
}
