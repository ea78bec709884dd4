/**
 * The rules engine, pure: takes events (`ingest(events)`), and at each evaluation
 * (`evaluate(now)`) judges every rule over its series, steps each alert instance through the
 * lifecycle (collector/alerts/lifecycle.ts) and returns the transitions and the active alerts.
 * Time is passed in; nothing here does I/O, so tests drive it with a fake clock and recorded
 * series, and bench/rules.mjs measures it alone.
 *
 * Routing: metric points go to the rules that name their metric (an index by name), then through
 * each rule's label matchers (the verdict per series is cached). Log records with a pattern
 * (`tidewatch.pattern.id`, from mine_templates) go to the pattern rules. Cumulative counters are
 * turned into increases here, once per series (a decrease is a counter reset: the new value is
 * the increase, as Prometheus' rate() treats it).
 *
 * Cost per evaluation is O(series judged) with no allocation for a series whose condition is
 * false and that has no alert instance: fingerprints and labels are computed once per series.
 *
 * Bounded: per rule at most `maxSeriesPerRule` series or groups and `maxAlertsPerRule` alert
 * instances, per engine `maxCounters` counter series; beyond them data is dropped and counted.
 */
import type { Event, LogRecord } from '../../core/model.js';
import type { AlertSeverity } from '../../core/wire.js';
import { createAnomalyDetector, type AnomalyDetector } from './anomaly.js';
import { type AlertContext, type Alert } from '../alerts/alert.js';
import { DEFAULT_POLICY, newInstance, step, type AlertInstance, type LifecyclePolicy, type Observation, type Transition } from '../alerts/lifecycle.js';
import { sampleOf, seriesId, SeriesRegistry, type SeriesRef, type SeriesSample } from '../series.js';
import { matches, parseMatchers, type Matcher } from './matchers.js';
import { Ring } from './ring.js';
import { SRE_WORKBOOK_WINDOWS, type RuleSpec, type Selector } from './schema.js';

export const PATTERN_ID = 'tidewatch.pattern.id';
export const PATTERN_TEMPLATE = 'tidewatch.pattern.template';

export interface EngineOptions {
  readonly maxSeriesPerRule?: number;
  readonly maxAlertsPerRule?: number;
  readonly maxCounters?: number;
  readonly maxSeriesPerMetric?: number;
}

export interface EngineCounters {
  points: number;
  logs: number;
  seriesOverflow: number;
  alertOverflow: number;
  counterOverflow: number;
  evaluationErrors: number;
  tooOld: number;
}

export interface EvaluationResult {
  /** Alerts whose state changed, with the change. */
  readonly transitions: { alert: Alert; transition: Transition }[];
  /** Every pending, firing, no-data and error alert after this evaluation. */
  readonly active: Alert[];
  /** Series (or groups) judged. */
  readonly judged: number;
}

/** Receives one judgement: `ctx` is called only when the engine needs the context. */
type Emit = (fp: string, labels: Readonly<Record<string, string>>, obs: Observation, ctx: () => AlertContext, severity?: AlertSeverity) => void;

function compare(op: string, v: number, t: number): boolean {
  switch (op) {
    case '>': return v > t;
    case '>=': return v >= t;
    case '<': return v < t;
    case '<=': return v <= t;
    case '==': return v === t;
    default: return v !== t;
  }
}

/** NaN: nothing to judge (an empty window) is no data; an infinite value is an error. */
function obsOf(v: number, op: string, t: number): Observation {
  if (Number.isNaN(v)) return 'nodata';
  if (!Number.isFinite(v)) return 'error';
  return compare(op, v, t) ? 'true' : 'false';
}

export function fingerprint(rule: string, labels: Readonly<Record<string, string>>): string {
  return seriesId(rule, labels);
}

function pick(labels: Readonly<Record<string, string>>, keys: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of keys) out[k] = labels[k] ?? '';
  return out;
}

/** What every kind shares: its spec, matchers, grouping and per-key bookkeeping. */
abstract class Rule {
  readonly matchers: Matcher[];
  readonly policy: LifecyclePolicy;
  private readonly matchCache = new Map<string, boolean>();
  seriesOverflow = 0;
  tooOld = 0;

  constructor(
    readonly spec: RuleSpec,
    readonly maxKeys: number,
  ) {
    this.matchers = parseMatchers(spec.matchers, `rule ${spec.name}`);
    this.policy = {
      for_ms: spec.for_ms ?? DEFAULT_POLICY.for_ms,
      keep_firing_for_ms: spec.keep_firing_for_ms ?? DEFAULT_POLICY.keep_firing_for_ms,
      no_data_state: spec.no_data_state ?? DEFAULT_POLICY.no_data_state,
      error_state: spec.error_state ?? DEFAULT_POLICY.error_state,
      flap_max_changes: spec.flap_max_changes ?? DEFAULT_POLICY.flap_max_changes,
      flap_window_ms: spec.flap_window_ms ?? DEFAULT_POLICY.flap_window_ms,
    };
  }

  /** Metric names this rule reads (empty for log rules). */
  abstract metrics(): string[];
  /**
   * One sample of a series this rule's metrics name. `increase` is its contribution to counters
   * (cumulative counters already differenced); `restated` is the earlier value of the same
   * window when this sample replaces it (rollup early → final), undefined for a new sample.
   */
  observe(_ref: SeriesRef, _s: SeriesSample, _increase: number, _restated: number | undefined): void {}
  observeLog(_r: LogRecord, _time: number): void {}
  abstract judge(now: number, emit: Emit): number;
  /** What an existing alert whose key produced no judgement this time observes. */
  missing(): Observation {
    return 'nodata';
  }

  protected selects(sel: { metric: string; matchers: readonly Matcher[] }, ref: SeriesRef, cache = this.matchCache): boolean {
    if (ref.name !== sel.metric) return false;
    let hit = cache.get(ref.id);
    if (hit === undefined) {
      hit = matches(sel.matchers, ref.labels);
      if (cache.size >= this.maxKeys * 2) cache.clear();
      cache.set(ref.id, hit);
    }
    return hit;
  }

  /** The group key and alert labels of a series: its own labels, or the group_by subset. */
  protected keyOf(ref: SeriesRef): { key: string; labels: Record<string, string> } {
    const g = this.spec.group_by;
    if (g === undefined) return { key: ref.id, labels: { ...ref.labels } };
    const labels = pick(ref.labels, g);
    return { key: seriesId('', labels), labels };
  }

  protected stale(now: number, last: number): boolean {
    return now - last > (this.spec.stale_ms ?? 300_000) + (this.spec.range_ms ?? 0);
  }
}

interface ThresholdSeries {
  readonly ref: SeriesRef;
  /** Computed when first needed: most series never alert. */
  fp: string | undefined;
  readonly group: { key: string; labels: Record<string, string> } | undefined;
  last: number;
  lastTime: number;
  ring: Ring | undefined;
}

class ThresholdRule extends Rule {
  private readonly series = new Map<string, ThresholdSeries>();
  private readonly sel: { metric: string; matchers: Matcher[] };

  constructor(spec: RuleSpec, maxKeys: number) {
    super(spec, maxKeys);
    if (spec.metric === undefined) throw new Error('threshold needs metric');
    this.sel = { metric: spec.metric, matchers: this.matchers };
  }

  metrics(): string[] {
    return [this.sel.metric];
  }

  override observe(ref: SeriesRef, s: SeriesSample, _increase: number, restated: number | undefined): void {
    if (!this.selects(this.sel, ref)) return;
    let st = this.series.get(ref.id);
    if (st === undefined) {
      if (this.series.size >= this.maxKeys) {
        this.seriesOverflow++;
        return;
      }
      const range = this.spec.range_ms ?? 0;
      const grouped = this.spec.group_by !== undefined;
      const agg = this.spec.aggregate ?? 'last';
      st = {
        ref,
        fp: undefined,
        group: grouped ? this.keyOf(ref) : undefined,
        last: Number.NaN,
        lastTime: Number.NEGATIVE_INFINITY,
        ring: range > 0 && agg !== 'last' ? new Ring(range, this.spec.buckets ?? 12, agg === 'min' || agg === 'max') : undefined,
      };
      this.series.set(ref.id, st);
    }
    if (s.time >= st.lastTime) {
      st.last = s.value;
      st.lastTime = s.time;
    }
    if (st.ring !== undefined) {
      const before = st.ring.tooOld;
      if (restated !== undefined) st.ring.adjust(s.time, s.value - restated, s.value);
      else if (s.summary !== undefined) st.ring.add(s.time, s.value, s.summary.count);
      else st.ring.add(s.time, s.value);
      this.tooOld += st.ring.tooOld - before;
    }
  }

  private seriesValue(st: ThresholdSeries, now: number): number {
    if (st.ring === undefined) return st.last;
    const r = st.ring.read(now);
    switch (this.spec.aggregate ?? 'last') {
      case 'avg': return r.count > 0 ? r.sum / r.count : Number.NaN;
      case 'min': return r.count > 0 ? r.min : Number.NaN;
      case 'max': return r.count > 0 ? r.max : Number.NaN;
      case 'sum': return r.sum;
      case 'count': return r.count;
      case 'rate': return r.sum / (st.ring.rangeMs / 1000);
      default: return st.last;
    }
  }

  judge(now: number, emit: Emit): number {
    const op = this.spec.op ?? '>';
    const t = this.spec.threshold ?? 0;
    const groups = this.spec.group_by === undefined ? undefined : new Map<string, { labels: Record<string, string>; vals: number[]; series: string[] }>();
    let judged = 0;
    for (const [id, st] of this.series) {
      if (this.stale(now, st.lastTime)) {
        if (this.stale(now - (this.spec.stale_ms ?? 300_000), st.lastTime)) this.series.delete(id);
        continue;
      }
      const v = this.seriesValue(st, now);
      if (groups !== undefined) {
        const g = st.group!;
        let acc = groups.get(g.key);
        if (acc === undefined) groups.set(g.key, (acc = { labels: g.labels, vals: [], series: [] }));
        acc.vals.push(v);
        if (acc.series.length < 5) acc.series.push(st.ref.id);
        continue;
      }
      judged++;
      const obs = obsOf(v, op, t);
      // A series that never judged true or error has no alert: skip it without building its
      // fingerprint or a context closure (the common case, bench/rules.mjs).
      if (st.fp === undefined && (obs === 'false' || obs === 'nodata')) continue;
      emit((st.fp ??= fingerprint(this.spec.name, st.ref.labels)), st.ref.labels, obs, () => ({ value: v, threshold: t, series: [st.ref.id] }));
    }
    if (groups !== undefined) {
      for (const g of groups.values()) {
        judged++;
        const v = combine(g.vals, this.spec.group_aggregate ?? 'max');
        emit(fingerprint(this.spec.name, g.labels), g.labels, obsOf(v, op, t), () => ({ value: v, threshold: t, series: g.series }));
      }
    }
    return judged;
  }
}

function combine(vals: readonly number[], how: string): number {
  if (vals.length === 0) return Number.NaN;
  let acc = how === 'min' ? Number.POSITIVE_INFINITY : how === 'max' ? Number.NEGATIVE_INFINITY : 0;
  for (const v of vals) {
    if (how === 'min') acc = Math.min(acc, v);
    else if (how === 'max') acc = Math.max(acc, v);
    else acc += v;
  }
  return how === 'avg' ? acc / vals.length : acc;
}

interface CounterGroup {
  readonly fp: string;
  readonly labels: Record<string, string>;
  readonly rings: Map<number, { num: Ring; den: Ring }>;
  lastTime: number;
  readonly series: Set<string>;
}

/** rate, increase, ratio and slo: increases of counters summed per group into fixed rings. */
class CounterRule extends Rule {
  private readonly groups = new Map<string, CounterGroup>();
  private readonly groupOf = new Map<string, CounterGroup | null>();
  private readonly num: { metric: string; matchers: Matcher[] };
  private readonly den: { metric: string; matchers: Matcher[] } | undefined;
  private readonly numCache = new Map<string, boolean>();
  private readonly denCache = new Map<string, boolean>();
  private readonly ranges: number[];

  constructor(spec: RuleSpec, maxKeys: number) {
    super(spec, maxKeys);
    const sel = (s: Selector | undefined, what: string): { metric: string; matchers: Matcher[] } => {
      if (s === undefined) throw new Error(`${spec.kind} needs ${what}`);
      return { metric: s.metric, matchers: parseMatchers(s.matchers, `rule ${spec.name} ${what}`) };
    };
    if (spec.kind === 'rate' || spec.kind === 'increase') {
      if (spec.metric === undefined) throw new Error(`${spec.kind} needs metric`);
      this.num = { metric: spec.metric, matchers: this.matchers };
      this.den = undefined;
    } else {
      this.num = sel(spec.numerator, 'numerator');
      this.den = sel(spec.denominator, 'denominator');
    }
    if (spec.kind === 'slo') {
      const ws = spec.windows ?? SRE_WORKBOOK_WINDOWS;
      this.ranges = [...new Set(ws.flatMap((w) => [w.long_ms, w.short_ms]))];
    } else {
      if (!((spec.range_ms ?? 0) > 0)) throw new Error(`${spec.kind} needs range_ms > 0`);
      this.ranges = [spec.range_ms!];
    }
  }

  metrics(): string[] {
    return this.den === undefined ? [this.num.metric] : [...new Set([this.num.metric, this.den.metric])];
  }

  /** Ratio-like rules without group_by judge everything as one group (sum(...)/sum(...)). */
  protected override keyOf(ref: SeriesRef): { key: string; labels: Record<string, string> } {
    if (this.den !== undefined && this.spec.group_by === undefined) return { key: '{}', labels: {} };
    return super.keyOf(ref);
  }

  override observe(ref: SeriesRef, s: SeriesSample, increase: number): void {
    const isNum = this.selects(this.num, ref, this.numCache);
    const isDen = this.den !== undefined && this.selects(this.den, ref, this.denCache);
    if (!isNum && !isDen) return;
    let g = this.groupOf.get(ref.id);
    if (g === undefined) {
      const k = this.keyOf(ref);
      g = this.groups.get(k.key) ?? null;
      if (g === null) {
        if (this.groups.size >= this.maxKeys) {
          this.seriesOverflow++;
        } else {
          const rings = new Map<number, { num: Ring; den: Ring }>();
          const b = this.spec.buckets ?? 12;
          for (const r of this.ranges) rings.set(r, { num: new Ring(r, b), den: new Ring(r, b) });
          g = { fp: fingerprint(this.spec.name, k.labels), labels: k.labels, rings, lastTime: Number.NEGATIVE_INFINITY, series: new Set() };
          this.groups.set(k.key, g);
        }
      }
      if (this.groupOf.size >= this.maxKeys * 4) this.groupOf.clear();
      this.groupOf.set(ref.id, g);
    }
    if (g === null) return;
    if (g.series.size < 5) g.series.add(ref.id);
    if (s.time > g.lastTime) g.lastTime = s.time;
    for (const r of g.rings.values()) {
      if (isNum) r.num.add(s.time, increase);
      if (isDen) r.den.add(s.time, increase);
    }
  }

  judge(now: number, emit: Emit): number {
    let judged = 0;
    const op = this.spec.op ?? '>';
    const t = this.spec.threshold ?? 0;
    for (const [k, g] of this.groups) {
      if (now - g.lastTime > (this.spec.stale_ms ?? 300_000) + Math.max(...this.ranges)) {
        this.groups.delete(k);
        for (const [sid, gg] of this.groupOf) if (gg === g) this.groupOf.delete(sid);
        continue;
      }
      if (this.stale(now, g.lastTime) && this.spec.kind !== 'slo') continue;
      judged++;
      const series = [...g.series];
      if (this.spec.kind === 'rate' || this.spec.kind === 'increase') {
        const r = g.rings.get(this.ranges[0]!)!.num.read(now);
        const v = this.spec.kind === 'rate' ? r.sum / (this.ranges[0]! / 1000) : r.sum;
        emit(g.fp, g.labels, r.count === 0 ? 'nodata' : obsOf(v, op, t), () => ({ value: v, threshold: t, series }));
      } else if (this.spec.kind === 'ratio') {
        const rr = g.rings.get(this.ranges[0]!)!;
        const n = rr.num.read(now);
        const d = rr.den.read(now);
        const v = d.sum > 0 ? n.sum / d.sum : 0;
        emit(g.fp, g.labels, d.count === 0 ? 'nodata' : d.sum > 0 ? obsOf(v, op, t) : 'false', () => ({ value: v, threshold: t, series }));
      } else {
        const budget = 1 - (this.spec.objective ?? 0.999);
        const burn = (range: number): number => {
          const rr = g.rings.get(range)!;
          const d = rr.den.read(now).sum;
          return d > 0 ? rr.num.read(now).sum / d / budget : 0;
        };
        for (const w of this.spec.windows ?? SRE_WORKBOOK_WINDOWS) {
          const long = burn(w.long_ms);
          const short = burn(w.short_ms);
          const labels = { ...g.labels, slo_window: `${dur(w.long_ms)}/${dur(w.short_ms)}` };
          const fp = fingerprint(this.spec.name, labels);
          emit(fp, labels, long > w.burn_rate && short > w.burn_rate ? 'true' : 'false', () => ({ value: Math.min(long, short), threshold: w.burn_rate, series }), w.severity);
        }
      }
    }
    return judged;
  }
}

function dur(ms: number): string {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${ms / 1000}s`;
}

class AbsenceRule extends Rule {
  private readonly seen = new Map<string, { fp: string | undefined; labels: Record<string, string>; last: number; series: string }>();
  private readonly sel: { metric: string; matchers: Matcher[] };

  constructor(spec: RuleSpec, maxKeys: number) {
    super(spec, maxKeys);
    if (spec.metric === undefined) throw new Error('absence needs metric');
    this.sel = { metric: spec.metric, matchers: this.matchers };
  }

  metrics(): string[] {
    return [this.sel.metric];
  }

  override observe(ref: SeriesRef, s: SeriesSample): void {
    if (!this.selects(this.sel, ref)) return;
    const k = this.keyOf(ref);
    let e = this.seen.get(k.key);
    if (e === undefined) {
      if (this.seen.size >= this.maxKeys) {
        this.seriesOverflow++;
        return;
      }
      e = { fp: undefined, labels: k.labels, last: s.time, series: ref.id };
      this.seen.set(k.key, e);
    }
    if (s.time > e.last) e.last = s.time;
  }

  judge(now: number, emit: Emit): number {
    const absent = this.spec.absent_for_ms ?? 300_000;
    const forget = this.spec.forget_after_ms ?? 86_400_000;
    for (const [k, e] of this.seen) {
      const silent = now - e.last;
      if (silent >= forget) {
        this.seen.delete(k);
        continue;
      }
      const obs = silent >= absent ? 'true' : 'false';
      if (obs === 'false' && e.fp === undefined) continue;
      emit((e.fp ??= fingerprint(this.spec.name, e.labels)), e.labels, obs, () => ({ value: silent, threshold: absent, series: [e.series] }));
    }
    return this.seen.size;
  }

  /** A forgotten series is not "no data": it is gone, and its absence alert resolves. */
  override missing(): Observation {
    return 'false';
  }
}

interface StepState {
  readonly fp: string;
  readonly labels: Record<string, string>;
  readonly det: AnomalyDetector;
  stepStart: number;
  count: number;
  sum: number;
  min: number;
  max: number;
  last: number;
  lastTime: number;
  result: { score: number; firing: boolean; baseline: number; value: number } | undefined;
  readonly series: string;
  readonly samples: string[];
  template: string | undefined;
}

const GRACE_MS = 2000;
const MAX_FILL_STEPS = 1440;

/** anomaly (metric series) and pattern_spike (log pattern counts): the detector fed once per step. */
class StepRule extends Rule {
  private readonly states = new Map<string, StepState>();
  private readonly sel: { metric: string; matchers: Matcher[] } | undefined;
  private readonly countLike: boolean;

  constructor(spec: RuleSpec, maxKeys: number) {
    super(spec, maxKeys);
    if (spec.kind === 'anomaly') {
      if (spec.metric === undefined) throw new Error('anomaly needs metric');
      this.sel = { metric: spec.metric, matchers: this.matchers };
    } else this.sel = undefined;
    const agg = spec.kind === 'pattern_spike' ? 'count' : (spec.aggregate ?? 'last');
    this.countLike = agg === 'sum' || agg === 'count' || agg === 'rate';
  }

  metrics(): string[] {
    return this.sel === undefined ? [] : [this.sel.metric];
  }

  private state(key: string, labels: Record<string, string>, series: string): StepState | undefined {
    let st = this.states.get(key);
    if (st === undefined) {
      if (this.states.size >= this.maxKeys) {
        this.seriesOverflow++;
        return undefined;
      }
      const opts: { sensitivity?: number; warmup_points?: number } = {};
      if (this.spec.sensitivity !== undefined) opts.sensitivity = this.spec.sensitivity;
      if (this.spec.warmup_points !== undefined) opts.warmup_points = this.spec.warmup_points;
      st = {
        fp: fingerprint(this.spec.name, labels), labels, det: createAnomalyDetector(opts), stepStart: Number.NaN,
        count: 0, sum: 0, min: Infinity, max: -Infinity, last: Number.NaN, lastTime: -Infinity, result: undefined, series, samples: [], template: undefined,
      };
      this.states.set(key, st);
    }
    return st;
  }

  private add(st: StepState, time: number, value: number): void {
    const stepMs = this.spec.step_ms ?? 60_000;
    const start = Math.floor(time / stepMs) * stepMs;
    if (Number.isNaN(st.stepStart)) st.stepStart = start;
    if (start < st.stepStart) {
      this.tooOld++;
      return;
    }
    if (start > st.stepStart) this.closeUpTo(st, start);
    st.count++;
    st.sum += value;
    if (value < st.min) st.min = value;
    if (value > st.max) st.max = value;
    if (time >= st.lastTime) {
      st.last = value;
      st.lastTime = time;
    }
  }

  /** Feeds the detector every step before `start` (empty steps as 0 for counts), then opens `start`. */
  private closeUpTo(st: StepState, start: number): void {
    const stepMs = this.spec.step_ms ?? 60_000;
    let fed = 0;
    while (st.stepStart < start) {
      if (st.count > 0 || this.countLike) {
        const v = this.stepValue(st, stepMs);
        const r = st.det.update(st.stepStart + stepMs, v);
        st.result = { score: r.score, firing: r.firing, baseline: r.baseline, value: v };
      }
      st.count = 0;
      st.sum = 0;
      st.min = Infinity;
      st.max = -Infinity;
      st.stepStart += stepMs;
      if (++fed >= MAX_FILL_STEPS) st.stepStart = start; // a long silence: skip ahead, bounded work
    }
  }

  private stepValue(st: StepState, stepMs: number): number {
    if (this.spec.kind === 'pattern_spike') return st.count;
    switch (this.spec.aggregate ?? 'last') {
      case 'avg': return st.count > 0 ? st.sum / st.count : 0;
      case 'min': return st.min;
      case 'max': return st.max;
      case 'sum': return st.sum;
      case 'count': return st.count;
      case 'rate': return st.sum / (stepMs / 1000);
      default: return st.last;
    }
  }

  override observe(ref: SeriesRef, s: SeriesSample, _increase: number, restated: number | undefined): void {
    if (this.sel === undefined || !this.selects(this.sel, ref)) return;
    const k = this.keyOf(ref);
    const st = this.state(k.key, k.labels, ref.id);
    if (st === undefined) return;
    if (restated !== undefined && Math.floor(s.time / (this.spec.step_ms ?? 60_000)) * (this.spec.step_ms ?? 60_000) === st.stepStart) {
      // The same window again (an early value, now final): replace its contribution.
      st.sum += s.value - restated;
      if (s.value < st.min) st.min = s.value;
      if (s.value > st.max) st.max = s.value;
      if (s.time >= st.lastTime) st.last = s.value;
      return;
    }
    this.add(st, s.time, s.value);
  }

  override observeLog(r: LogRecord, time: number): void {
    if (this.spec.kind !== 'pattern_spike') return;
    const pid = r.attributes[PATTERN_ID];
    if (typeof pid !== 'string') return;
    const labels: Record<string, string> = { pattern_id: pid };
    for (const k of this.spec.group_by ?? []) labels[k] = labelOfLog(r, k);
    const st = this.state(seriesId('', labels), labels, `log.pattern{pattern_id=${JSON.stringify(pid)}}`);
    if (st === undefined) return;
    const tpl = r.attributes[PATTERN_TEMPLATE];
    if (typeof tpl === 'string') st.template = tpl;
    keepSample(st.samples, r, this.spec.samples ?? 3);
    this.add(st, time, 1);
  }

  judge(now: number, emit: Emit): number {
    const stepMs = this.spec.step_ms ?? 60_000;
    let judged = 0;
    for (const [k, st] of this.states) {
      if (!Number.isNaN(st.stepStart) && now >= st.stepStart + stepMs + GRACE_MS) this.closeUpTo(st, Math.floor((now - GRACE_MS) / stepMs) * stepMs);
      if (!this.countLike && this.stale(now, st.lastTime)) {
        if (this.stale(now - (this.spec.stale_ms ?? 300_000), st.lastTime)) this.states.delete(k);
        continue;
      }
      const r = st.result;
      if (r === undefined) continue;
      judged++;
      // A spike is up: a pattern that goes quiet is not an incident.
      const firing = r.firing && (this.spec.kind !== 'pattern_spike' || r.value > r.baseline);
      emit(st.fp, st.labels, firing ? 'true' : 'false', () => {
        const c: AlertContext = { value: r.value, baseline: r.baseline, score: r.score, series: [st.series] };
        if (st.template !== undefined) c.template = st.template;
        if (st.samples.length > 0) c.samples = [...st.samples];
        return c;
      });
    }
    return judged;
  }
}

function labelOfLog(r: LogRecord, k: string): string {
  const v = r.attributes[k] ?? r.resource[k];
  return typeof v === 'string' ? v : v === undefined ? '' : JSON.stringify(v);
}

function keepSample(samples: string[], r: LogRecord, max: number): void {
  if (samples.length >= max) return;
  samples.push(typeof r.body === 'string' ? r.body.slice(0, 2000) : JSON.stringify(r.body).slice(0, 2000));
}

interface PatternEntry {
  readonly fp: string;
  readonly labels: Record<string, string>;
  readonly first: number;
  last: number;
  count: number;
  readonly learnt: boolean;
  readonly template: string;
  readonly samples: string[];
}

class NewPatternRule extends Rule {
  private readonly known = new Map<string, PatternEntry>();
  private readonly fresh = new Map<string, PatternEntry>();
  private firstLog = Number.NaN;

  metrics(): string[] {
    return [];
  }

  override observeLog(r: LogRecord, time: number): void {
    if (r.severity_number < (this.spec.min_severity ?? 13)) return;
    const pid = r.attributes[PATTERN_ID];
    if (typeof pid !== 'string') return;
    if (Number.isNaN(this.firstLog)) this.firstLog = time;
    const labels: Record<string, string> = { pattern_id: pid };
    for (const k of this.spec.group_by ?? []) labels[k] = labelOfLog(r, k);
    const key = seriesId('', labels);
    let e = this.known.get(key);
    if (e === undefined) {
      if (this.known.size >= this.maxKeys) this.evictOldest();
      const tpl = r.attributes[PATTERN_TEMPLATE];
      e = { fp: fingerprint(this.spec.name, labels), labels, first: time, last: time, count: 0, learnt: time - this.firstLog < (this.spec.learn_ms ?? 3_600_000), template: typeof tpl === 'string' ? tpl : '', samples: [] };
      this.known.set(key, e);
      if (!e.learnt) this.fresh.set(key, e);
    }
    e.count++;
    if (time > e.last) e.last = time;
    if (!e.learnt) keepSample(e.samples, r, this.spec.samples ?? 3);
  }

  private evictOldest(): void {
    let oldest: string | undefined;
    let t = Infinity;
    for (const [k, e] of this.known) if (e.last < t && !this.fresh.has(k)) [t, oldest] = [e.last, k];
    if (oldest !== undefined) this.known.delete(oldest);
    this.seriesOverflow++;
  }

  judge(now: number, emit: Emit): number {
    const newFor = this.spec.new_for_ms ?? 3_600_000;
    const active = this.spec.active_ms ?? 600_000;
    for (const [k, e] of this.fresh) {
      const young = now - e.first < newFor;
      if (!young) this.fresh.delete(k);
      emit(e.fp, e.labels, young && now - e.last < active ? 'true' : 'false', () => ({ value: e.count, series: [`log.pattern{pattern_id=${JSON.stringify(e.labels['pattern_id'])}}`], template: e.template, samples: [...e.samples] }));
    }
    return this.fresh.size;
  }

  override missing(): Observation {
    return 'false';
  }
}

export function buildRule(spec: RuleSpec, maxKeys: number): Rule {
  switch (spec.kind) {
    case 'threshold': return new ThresholdRule(spec, maxKeys);
    case 'rate':
    case 'increase':
    case 'ratio':
    case 'slo': return new CounterRule(spec, maxKeys);
    case 'absence': return new AbsenceRule(spec, maxKeys);
    case 'anomaly':
    case 'pattern_spike': return new StepRule(spec, maxKeys);
    case 'new_pattern': return new NewPatternRule(spec, maxKeys);
  }
}

interface Held {
  readonly inst: AlertInstance;
  alert: Alert | undefined;
  severity: AlertSeverity;
  context: AlertContext;
  seen: boolean;
}

function render(tpl: string, value: number, threshold: number | undefined, labels: Readonly<Record<string, string>>): string {
  return tpl.replace(/\{\{\s*\$(value|threshold|labels\.([\w.]+))\s*\}\}/g, (_m, what: string, name: string | undefined) => {
    if (what === 'value') return fmt(value);
    if (what === 'threshold') return threshold === undefined ? '' : fmt(threshold);
    return labels[name ?? ''] ?? '';
  });
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : Number(v.toPrecision(4)).toString();
}

export class RuleEngine {
  readonly rules: Rule[];
  readonly counters: EngineCounters = { points: 0, logs: 0, seriesOverflow: 0, alertOverflow: 0, counterOverflow: 0, evaluationErrors: 0, tooOld: 0 };
  private readonly byMetric = new Map<string, Rule[]>();
  private readonly logRules: Rule[];
  private readonly held = new Map<Rule, Map<string, Held>>();
  private readonly prev = new Map<string, number>();
  private readonly windowsSeen = new Map<string, { start: number; time: number; value: number; basis: number }>();
  private readonly registry: SeriesRegistry;
  private readonly maxAlerts: number;
  private readonly maxCounters: number;

  constructor(specs: readonly RuleSpec[], opts: EngineOptions = {}) {
    const maxKeys = opts.maxSeriesPerRule ?? 100_000;
    this.maxAlerts = opts.maxAlertsPerRule ?? 10_000;
    this.maxCounters = opts.maxCounters ?? 1_000_000;
    this.registry = new SeriesRegistry({ maxSeriesPerMetric: opts.maxSeriesPerMetric ?? 1_000_000, maxMetrics: 100_000 });
    this.rules = specs.map((s) => buildRule(s, maxKeys));
    for (const r of this.rules) {
      this.held.set(r, new Map());
      for (const m of r.metrics()) {
        const list = this.byMetric.get(m) ?? [];
        list.push(r);
        this.byMetric.set(m, list);
      }
    }
    this.logRules = this.rules.filter((r) => r.spec.kind === 'new_pattern' || r.spec.kind === 'pattern_spike');
  }

  ingest(events: readonly Event[]): void {
    for (const e of events) {
      if (e.kind === 'log') {
        if (this.logRules.length === 0) continue;
        this.counters.logs++;
        const time = e.time !== undefined && Number.isFinite(e.time) ? e.time : e.observed_time;
        for (const r of this.logRules) r.observeLog(e, time);
        continue;
      }
      const rules = this.byMetric.get(e.name);
      if (rules === undefined) continue;
      const s = sampleOf(e);
      if (s === undefined) continue;
      this.counters.points++;
      this.observe(rules, s);
    }
  }

  /** Feeds one sample directly (bench/rules.mjs, recorded series in tests). */
  observeSample(s: SeriesSample): void {
    const rules = this.byMetric.get(s.name);
    if (rules !== undefined) this.observe(rules, s);
  }

  private observe(rules: readonly Rule[], s: SeriesSample): void {
    const ref = this.registry.resolve(s.name, s.labels);
    let increase = s.summary !== undefined ? s.summary.count : s.value;
    let restated: number | undefined;
    if (s.start !== undefined) {
      // Window values (rollup output) come early and again final with the same interval: the
      // later one replaces the earlier, so counts are not added twice.
      const w = this.windowsSeen.get(ref.id);
      if (w !== undefined && w.start === s.start && w.time === s.time) {
        restated = w.value;
        increase -= w.basis;
      }
      if (w !== undefined || this.windowsSeen.size < this.maxCounters) this.windowsSeen.set(ref.id, { start: s.start, time: s.time, value: s.value, basis: s.summary !== undefined ? s.summary.count : s.value });
      else this.counters.counterOverflow++;
    }
    if (s.cumulative) {
      const before = this.prev.get(ref.id);
      if (before === undefined && this.prev.size >= this.maxCounters) this.counters.counterOverflow++;
      else this.prev.set(ref.id, s.value);
      // The first sample of a cumulative counter has no increase yet; a decrease is a reset.
      increase = before === undefined ? 0 : s.value >= before ? s.value - before : s.value;
    }
    for (const r of rules) r.observe(ref, s, increase, restated);
  }

  /** Judges every rule at `now` and steps its alerts. */
  evaluate(now: number): EvaluationResult {
    const transitions: { alert: Alert; transition: Transition }[] = [];
    const active: Alert[] = [];
    let judged = 0;
    for (const rule of this.rules) {
      const held = this.held.get(rule)!;
      const spec = rule.spec;
      const touch = (h: Held, obs: Observation): void => {
        h.seen = true;
        const tr = step(h.inst, obs, now, rule.policy);
        const st = h.inst.state;
        if (tr === undefined && (st === 'inactive' || st === 'resolved') && h.alert !== undefined && h.alert.state === st) return;
        const a = this.alertOf(rule, h, now);
        if (tr !== undefined) transitions.push({ alert: a, transition: tr });
      };
      const emit: Emit = (fp, labels, obs, ctx, severity) => {
        let h = held.get(fp);
        if (h === undefined) {
          if (obs === 'false' || obs === 'nodata') return;
          if (held.size >= this.maxAlerts) {
            this.counters.alertOverflow++;
            return;
          }
          h = { inst: newInstance(fp, spec.name, labels), alert: undefined, severity: severity ?? spec.severity ?? 'warning', context: { value: Number.NaN }, seen: false };
          held.set(fp, h);
        }
        h.context = ctx();
        if (severity !== undefined) h.severity = severity;
        touch(h, obs);
      };
      for (const h of held.values()) h.seen = false;
      try {
        judged += rule.judge(now, emit);
      } catch {
        // A rule whose evaluation throws is a bug or bad data; its alerts go to error_state.
        this.counters.evaluationErrors++;
        for (const h of held.values()) if (!h.seen) touch(h, 'error');
      }
      for (const [fp, h] of held) {
        if (!h.seen) touch(h, rule.missing());
        const st = h.inst.state;
        if (st === 'inactive' || (st === 'resolved' && now - h.inst.resolvedAt >= rule.policy.flap_window_ms)) held.delete(fp);
        else if (st !== 'resolved' && h.alert !== undefined) active.push(h.alert);
      }
    }
    this.counters.seriesOverflow = this.rules.reduce((n, r) => n + r.seriesOverflow, 0);
    this.counters.tooOld = this.rules.reduce((n, r) => n + r.tooOld, 0);
    return { transitions, active, judged };
  }

  private alertOf(rule: Rule, h: Held, now: number): Alert {
    const spec = rule.spec;
    const i = h.inst;
    const labels: Record<string, string> = { ...spec.labels, ...i.labels, alertname: spec.name, severity: h.severity };
    const annotations: Record<string, string> = { ...spec.annotations };
    const tpl = spec.summary ?? defaultSummary(spec);
    annotations['summary'] = render(tpl, h.context.value, h.context.threshold, labels);
    if (h.context.template !== undefined) annotations['template'] = h.context.template;
    if (i.state === 'nodata') annotations['summary'] = `${spec.name}: no data`;
    if (i.state === 'error') annotations['summary'] = `${spec.name}: evaluation error`;
    const a: Alert = {
      fingerprint: i.fingerprint,
      rule: spec.name,
      labels,
      annotations,
      state: i.state,
      severity: h.severity,
      startsAt: i.state === 'firing' || i.state === 'resolved' ? i.firingSince : i.activeSince,
      endsAt: i.state === 'resolved' ? i.resolvedAt : Number.NaN,
      time: now,
      context: h.context,
      flapping: i.flapping,
    };
    if (Number.isNaN(a.startsAt)) a.startsAt = now;
    h.alert = a;
    return a;
  }

  /** Active alerts of every rule (the dashboard's list). */
  activeAlerts(): Alert[] {
    const out: Alert[] = [];
    for (const held of this.held.values()) for (const h of held.values()) if (h.alert !== undefined && h.inst.state !== 'resolved' && h.inst.state !== 'inactive') out.push(h.alert);
    return out;
  }

  /** Series, groups and detector state held, for the memory figure. */
  get seriesTracked(): number {
    return this.registry.size;
  }
}

function defaultSummary(spec: RuleSpec): string {
  switch (spec.kind) {
    case 'absence': return `${spec.metric ?? ''} silent for {{ $value }} ms`;
    case 'anomaly': return `${spec.metric ?? ''} is anomalous: {{ $value }}`;
    case 'new_pattern': return 'new log pattern {{ $labels.pattern_id }}';
    case 'pattern_spike': return 'log pattern {{ $labels.pattern_id }} spiked to {{ $value }} per step';
    case 'slo': return `${spec.name}: error budget burning at {{ $value }}x (window {{ $labels.slo_window }})`;
    default: return `${spec.name}: {{ $value }} ${spec.op ?? '>'} {{ $threshold }}`;
  }
}
