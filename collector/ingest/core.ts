/**
 * The ingest stage's per-partition core, pure (no I/O, time passed in as the partition's event
 * time): decodes the messages of one input partition, drops replayed log lines against the dedup
 * state (highest offset counted per stream generation, DESIGN.md's line identity), counts the
 * rest into 1 s rollups, and hands out, per transaction, the rollup partials, the changed dedup
 * state and the next input offset. stage.ts puts those three in one Kafka transaction.
 *
 * Partials are cumulative per (series, window, source_instance): a later partial of one
 * source_instance replaces its earlier one; partials of different source_instances add up
 * (merge.ts). Each ownership of a partition is its own source_instance (`...@<session>`), so
 * when another collector takes a partition over, its counts start at zero and add to what the
 * previous owner committed: the total stays exact.
 */
import { CountRollup } from '../transforms/rollup.js';
import { WIRE_HEADER, decodeMessage } from '../../core/wire.js';
import type { RollupPartial, StreamState } from '../../core/wire.js';
import { errorCodeOf } from '../../core/errors.js';
import type { Event, LogRecord, MetricPoint } from '../../core/model.js';
import { AttrKeys } from '../../core/model.js';
import type { InMessage } from '../../core/transport.js';

export interface IngestCoreOptions {
  /** Identifies this ownership of the partition in every partial it emits. */
  sourceInstance: string;
  latenessMs: number;
  maxWindows: number;
  maxStreams: number;
  /** Dedup state restored from the state topic (taken over: the core owns it after the call). */
  state: Map<string, StreamState>;
  /**
   * Decodes a message without the tidewatch wire header (encoding otlp_proto); throws a
   * TidewatchError when it cannot. Absent: such messages are counted as invalid.
   */
  decodeForeign?: (m: InMessage) => { type: 'logs'; records: LogRecord[] } | { type: 'metrics'; records: MetricPoint[] };
}

export interface IngestCounters {
  messages: number;
  lines: number;
  replayed: number;
  points: number;
  /** Undecodable messages by error code. */
  invalid: Map<string, number>;
  /** Streams not tracked because max_streams was reached (their replays cannot be detected). */
  streamOverflow: number;
}

export interface Filtered {
  /** Events that were not seen before, in order; the caller owns them. */
  events: Event[];
  /** Counts them and records their offsets: call once they went on (emitted downstream). */
  apply(): void;
}

export interface Snapshot {
  partials: RollupPartial[];
  states: StreamState[];
  /** The input offset after the last message taken in (what the transaction commits). */
  nextOffset: string;
}

export function streamKey(agent: string, stream: string, generation: number): string {
  return `${agent}/${stream}/${generation}`;
}

export class IngestCore {
  private readonly dedup: Map<string, StreamState>;
  private readonly changed = new Set<string>();
  private readonly logs: CountRollup;
  private readonly metrics: MetricRollup;
  private watermark = Number.NEGATIVE_INFINITY;
  private nextOffset: string | undefined;
  private committedOffset: string | undefined;
  readonly counters: IngestCounters = { messages: 0, lines: 0, replayed: 0, points: 0, invalid: new Map(), streamOverflow: 0 };

  constructor(private readonly opts: IngestCoreOptions) {
    this.dedup = opts.state;
    this.logs = new CountRollup(opts.latenessMs, opts.maxWindows);
    this.metrics = new MetricRollup(opts.latenessMs, opts.maxWindows);
  }

  /** Lines and points that came after their 1 s window had closed (not rolled up). */
  get late(): number {
    return this.logs.counters.late + this.metrics.late;
  }

  /** Highest counted offset of a stream generation, -1 when none. */
  counted(key: string): number {
    return this.dedup.get(key)?.offset ?? -1;
  }

  filter(msgs: readonly InMessage[]): Filtered {
    const events: Event[] = [];
    const logs: LogRecord[] = [];
    const points: MetricPoint[] = [];
    const last = new Map<string, StreamState>();
    let replayed = 0;
    let maxTime = this.watermark;
    const invalid: string[] = [];
    for (const m of msgs) {
      let d;
      try {
        d = m.headers[WIRE_HEADER] === undefined && this.opts.decodeForeign !== undefined ? this.opts.decodeForeign(m) : decodeMessage(m);
      } catch (err) {
        invalid.push(errorCodeOf(err));
        continue;
      }
      if (d.type === 'logs') {
        for (const r of d.records) {
          const id = identity(r);
          if (id !== undefined) {
            const seen = last.get(id.key)?.offset ?? this.counted(id.key);
            if (id.state.offset <= seen) {
              replayed++;
              continue;
            }
            last.set(id.key, id.state);
          }
          if (r.observed_time > maxTime) maxTime = r.observed_time;
          logs.push(r);
          events.push(r);
        }
      } else if (d.type === 'metrics') {
        for (const p of d.records) {
          if (p.time > maxTime) maxTime = p.time;
          points.push(p);
          events.push(p);
        }
      } else {
        invalid.push('unexpected_type');
      }
    }
    const tail = msgs[msgs.length - 1];
    const next = tail === undefined ? undefined : (BigInt(tail.offset) + 1n).toString();
    return {
      events,
      apply: () => {
        this.counters.messages += msgs.length;
        this.counters.replayed += replayed;
        for (const code of invalid) this.counters.invalid.set(code, (this.counters.invalid.get(code) ?? 0) + 1);
        for (const [key, s] of last) {
          if (!this.dedup.has(key) && this.dedup.size >= this.opts.maxStreams) {
            this.counters.streamOverflow++;
            continue;
          }
          this.dedup.set(key, s);
          this.changed.add(key);
        }
        this.logs.add(logs);
        this.metrics.add(points);
        this.counters.lines += logs.length;
        this.counters.points += points.length;
        if (maxTime > this.watermark) this.watermark = maxTime;
        if (next !== undefined) this.nextOffset = next;
      },
    };
  }

  /** True when a transaction would carry something new. */
  get dirty(): boolean {
    return this.nextOffset !== this.committedOffset;
  }

  /**
   * What the next transaction carries. Windows are closed by the partition's event time (its
   * highest observed time so far), not the wall clock: a partition whose data is delayed (a
   * broker outage, a takeover) does not see its windows closed under it. `final` (orderly
   * stop) emits every open window as it stands, as an early value.
   */
  snapshot(): Snapshot | undefined {
    if (this.nextOffset === undefined || !this.dirty) return undefined;
    const now = this.watermark;
    const partials: RollupPartial[] = [];
    const lateness = this.opts.latenessMs;
    for (const p of this.logs.flush(now, false)) {
      const labels: Record<string, string> = {};
      for (const [k, v] of Object.entries(p.attributes)) labels[k] = String(v);
      const start = p.start_time ?? p.time - 1000;
      partials.push({
        series_id: seriesId(p.name, labels),
        name: p.name,
        labels,
        window_start: start,
        window_ms: p.time - start,
        count: p.value,
        sum: p.value,
        min: p.value,
        max: p.value,
        last: p.value,
        final: now >= p.time + lateness,
        source_instance: this.opts.sourceInstance,
      });
    }
    for (const p of this.metrics.flush(now)) partials.push({ ...p, source_instance: this.opts.sourceInstance });
    const states: StreamState[] = [];
    for (const key of this.changed) {
      const s = this.dedup.get(key);
      if (s !== undefined) states.push(s);
    }
    this.changed.clear();
    return { partials, states, nextOffset: this.nextOffset };
  }

  /** The snapshot's transaction committed. */
  committed(nextOffset: string): void {
    this.committedOffset = nextOffset;
  }
}

function identity(r: LogRecord): { key: string; state: StreamState } | undefined {
  const a = r.attributes;
  const stream = a[AttrKeys.streamId];
  const gen = a[AttrKeys.generation];
  const off = a[AttrKeys.offset];
  if (typeof stream !== 'string' || typeof gen !== 'number' || typeof off !== 'number') return undefined;
  const agent = r.resource[AttrKeys.agentId];
  const agentId = typeof agent === 'string' ? agent : '';
  return { key: streamKey(agentId, stream, gen), state: { agent_id: agentId, stream_id: stream, generation: gen, offset: off } };
}

/** `name{k="v",...}` with labels sorted: one id per series, the rollups topic's key. */
export function seriesId(name: string, labels: Record<string, string>): string {
  const keys = Object.keys(labels).sort();
  return `${name}{${keys.map((k) => `${k}=${JSON.stringify(labels[k])}`).join(',')}}`;
}

interface MetricWindow {
  partial: Omit<RollupPartial, 'source_instance'>;
  lastTime: number;
  dirty: boolean;
}

/**
 * Metric points per (series, 1 s window of event time): count, sum, min, max, last. Gauges and
 * sums aggregate their value; histograms and summaries their count and sum. Same closing rule
 * as the log count rollup.
 */
export class MetricRollup {
  private readonly windows = new Map<string, MetricWindow>();
  private closedBefore = Number.NEGATIVE_INFINITY;
  late = 0;
  overflow = 0;

  constructor(
    private readonly latenessMs: number,
    private readonly maxWindows: number,
  ) {}

  add(points: readonly MetricPoint[]): void {
    for (const p of points) {
      const start = Math.floor(p.time / 1000) * 1000;
      if (start < this.closedBefore) {
        this.late++;
        continue;
      }
      const labels: Record<string, string> = {};
      for (const [k, v] of Object.entries(p.attributes)) labels[k] = typeof v === 'string' ? v : JSON.stringify(v);
      const svc = p.resource[AttrKeys.serviceName];
      if (typeof svc === 'string') labels[AttrKeys.serviceName] = svc;
      const id = seriesId(p.name, labels);
      const key = `${id}|${start}`;
      const n = p.type === 'gauge' || p.type === 'sum' ? 1 : p.count;
      const sum = p.type === 'gauge' || p.type === 'sum' ? p.value : (p.sum ?? 0);
      let w = this.windows.get(key);
      if (w === undefined) {
        if (this.windows.size >= this.maxWindows) {
          this.overflow++;
          continue;
        }
        w = { partial: { series_id: id, name: p.name, labels, window_start: start, window_ms: 1000, count: 0, sum: 0, min: sum, max: sum, last: sum, final: false }, lastTime: p.time, dirty: false };
        this.windows.set(key, w);
      }
      const r = w.partial;
      r.count += n;
      r.sum += sum;
      if (sum < r.min) r.min = sum;
      if (sum > r.max) r.max = sum;
      if (p.time >= w.lastTime) {
        r.last = sum;
        w.lastTime = p.time;
      }
      w.dirty = true;
    }
  }

  flush(now: number): Omit<RollupPartial, 'source_instance'>[] {
    const out: Omit<RollupPartial, 'source_instance'>[] = [];
    for (const [key, w] of this.windows) {
      const end = w.partial.window_start + 1000;
      if (now >= end + this.latenessMs) {
        out.push({ ...w.partial, final: true });
        this.windows.delete(key);
        if (end > this.closedBefore) this.closedBefore = end;
      } else if (w.dirty) {
        w.dirty = false;
        out.push({ ...w.partial });
      }
    }
    return out;
  }
}
