/**
 * `rollup`: event-time windows over log records and (optionally) metric points, on the windows
 * and aggregates of collector/windows/ and collector/aggregates/.
 *
 * Log records are counted per window by severity (and by `service.name` when the record's
 * resource or attributes carry one) and emitted as delta sums named `log.records`. With
 * `metrics: true`, metric points are aggregated per series too (count, sum, min, max, last,
 * rate, quantiles from a DDSketch) and emitted as gauges named `<metric>.<aggregate>`; otherwise
 * they pass through untouched.
 *
 * Output contract, from `flush(now)`: while a window is open, every flush that saw new data for
 * it emits its running value (an early value); once the watermark passes the window's end plus
 * `lateness_ms`, the final value is emitted and the window is forgotten. Early and final values
 * of one window carry the same `start_time`/`time`, so a reader replaces, never adds, them.
 * Final values carry the attribute `tidewatch.final: true` only where `mark_final` is set (off by
 * default, so one window's early and final points stay one series for readers keyed by labels).
 * Windows of tiers above the finest carry `tidewatch.window` (`10s`, `1m`, `1h`).
 * Data for a window already closed is late: counted in `tidewatch_rollup_late_total`, emitted as
 * the delta sum `tidewatch.window.late{metric=...}`, and not added (its window was final).
 *
 * Event time is the record's `time`, else its `observed_time` (`time: observed` uses the latter
 * always). Watermarks are kept per partition (the agent's stream, else the agent, else the
 * service), and an idle partition stops holding the others back after `idle_timeout_ms`.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { ComponentContext, Transform, TransformFactory } from '../../core/component.js';
import type { Attributes, Event, GaugePoint, LogRecord, MetricPoint, SumPoint } from '../../core/model.js';
import { AttrKeys } from '../../core/model.js';
import { aggregateValue, isAggregateName, type AggregateName } from '../aggregates/aggregate.js';
import type { WindowValue } from '../aggregates/partial.js';
import { SeriesRegistry, sampleOf, type SeriesRef } from '../series.js';
import { EventTimeWindows } from '../windows/windows.js';

const TIER_NAMES: Record<string, number> = { '1s': 1000, '10s': 10_000, '1m': 60_000, '1h': 3_600_000 };

export const schema = Type.Object(
  {
    lateness_ms: Type.Integer({
      minimum: 0,
      maximum: 600_000,
      default: 1000,
      description: 'How long after a window ends (by the watermark) it stays open for stragglers before the final value is emitted.',
    }),
    max_windows: Type.Integer({
      minimum: 1,
      maximum: 10_000_000,
      default: 10_000,
      description: 'Most open (series, tier, window) aggregates held at once; data beyond it is dropped and counted.',
    }),
    idle_timeout_ms: Type.Integer({
      minimum: 0,
      maximum: 3_600_000,
      default: 0,
      description: 'A partition (stream, agent) silent this long stops holding the watermark back; when all are, it follows the wall clock minus this. 0: windows close on the wall clock (one process, live data).',
    }),
    time: Type.Union([Type.Literal('event'), Type.Literal('observed')], {
      default: 'event',
      description: 'Which time places a log record in a window: its event `time` (else observed_time), or always observed_time.',
    }),
    tiers: Type.Array(Type.Union([Type.Literal('1s'), Type.Literal('10s'), Type.Literal('1m'), Type.Literal('1h')]), {
      minItems: 1,
      uniqueItems: true,
      default: ['1s'],
      description: 'Window lengths to emit. 1 s feeds the live dashboard; 10s, 1m and 1h tiers are for longer charts and rules (their points carry tidewatch.window).',
    }),
    metrics: Type.Boolean({
      default: false,
      description: 'Aggregate metric points per series too (emitted as <metric>.<aggregate> gauges) instead of passing them through.',
    }),
    aggregates: Type.Array(Type.String({ pattern: '^(count|sum|min|max|last|avg|rate|p\\d{1,3}(\\.\\d+)?)$' }), {
      default: ['count', 'sum', 'min', 'max', 'last', 'p50', 'p99'],
      description: 'Aggregates emitted per metric series and window (with metrics: true); p<percent> reads the DDSketch.',
    }),
    relative_accuracy: Type.Number({
      exclusiveMinimum: 0,
      maximum: 0.2,
      default: 0.01,
      description: 'DDSketch relative accuracy of quantiles: a p99 is within this fraction of the true value of its rank.',
    }),
    max_series_per_metric: Type.Integer({
      minimum: 1,
      maximum: 10_000_000,
      default: 10_000,
      description: 'Cardinality limit per metric name; further label sets go to the metric\'s {__overflow__="true"} series (counted).',
    }),
    mark_final: Type.Boolean({
      default: false,
      description: 'Put tidewatch.final: true on final values (readers that key points by labels then see two series).',
    }),
  },
  { additionalProperties: false },
);
export type RollupConfig = Static<typeof schema>;

export const METRIC_NAME = 'log.records';
export const LATE_METRIC = 'tidewatch.window.late';
export const WINDOW_ATTR = 'tidewatch.window';
export const FINAL_ATTR = 'tidewatch.final';

const SEVERITY_LABELS: readonly string[] = ['unspecified', 'trace', 'debug', 'info', 'warn', 'error', 'fatal'];

/** The index in SEVERITY_LABELS of an OpenTelemetry SeverityNumber's range. */
function severityIndex(n: number): number {
  if (n >= 21) return 6;
  if (n >= 17) return 5;
  if (n >= 13) return 4;
  if (n >= 9) return 3;
  if (n >= 5) return 2;
  if (n >= 1) return 1;
  return 0;
}

/** The lower-case severity label of an OpenTelemetry SeverityNumber (its range, not its text). */
export function severityLabel(n: number): string {
  return SEVERITY_LABELS[severityIndex(n)]!;
}

function serviceOf(rec: LogRecord): string | undefined {
  const v = rec.resource[AttrKeys.serviceName] ?? rec.attributes[AttrKeys.serviceName];
  return typeof v === 'string' ? v : undefined;
}

/** The watermark partition of an event: its stream, else its agent, else its service. */
export function partitionOf(e: Event): string {
  const agent = e.resource[AttrKeys.agentId];
  const stream = e.attributes[AttrKeys.streamId];
  if (typeof agent === 'string' && typeof stream === 'string') return joined(agent, '/', stream);
  if (typeof agent === 'string') return agent;
  const svc = e.resource[AttrKeys.serviceName];
  return typeof svc === 'string' ? joined('service:', '', svc) : '';
}

/**
 * `a + sep + b`, the same string object each time for the same parts: the partition is looked
 * up by every record, and a fresh concatenation would be allocated and hashed each time. A pure
 * memo, bounded (MAX_JOINED firsts of MAX_JOINED seconds); beyond it the parts are joined anew.
 */
const MAX_JOINED = 256;
const joinedMemo = new Map<string, Map<string, string>>();
function joined(a: string, sep: string, b: string): string {
  let m = joinedMemo.get(a);
  if (m === undefined) {
    if (joinedMemo.size >= MAX_JOINED) return a + sep + b;
    m = new Map();
    joinedMemo.set(a, m);
  }
  let s = m.get(b);
  if (s === undefined) {
    s = a + sep + b;
    if (m.size < MAX_JOINED) m.set(b, s);
  }
  return s;
}

function tierName(ms: number): string {
  for (const [k, v] of Object.entries(TIER_NAMES)) if (v === ms) return k;
  return `${ms}ms`;
}

export interface RollupCounters {
  absorbed: number;
  late: number;
  overflow: number;
}

export interface RollupCoreOptions {
  latenessMs?: number;
  maxWindows?: number;
  idleTimeoutMs?: number;
  time?: 'event' | 'observed';
  tiersMs?: readonly number[];
  metrics?: boolean;
  aggregates?: readonly AggregateName[];
  relativeAccuracy?: number;
  maxSeriesPerMetric?: number;
  markFinal?: boolean;
}

/**
 * The pure core: no timers, no I/O, `now` passed in. `flushWindows` hands out the raw window
 * values too (for RollupPartial records: collector/aggregates/partial.ts `partialFrom`).
 */
export class RollupCore {
  readonly windows: EventTimeWindows;
  readonly series: SeriesRegistry;
  readonly counters: RollupCounters = { absorbed: 0, late: 0, overflow: 0 };
  private readonly opts: Required<Omit<RollupCoreOptions, 'relativeAccuracy' | 'maxSeriesPerMetric' | 'maxWindows' | 'latenessMs' | 'idleTimeoutMs' | 'tiersMs'>>;
  private readonly base: number;
  /** log.records series by service (undefined: none), then by severityIndex. */
  private readonly logSeries = new Map<string | undefined, (SeriesRef | undefined)[]>();
  private logSeriesCached = 0;
  private lastFlush = Number.NaN;

  constructor(o: RollupCoreOptions = {}) {
    const tiersMs = o.tiersMs ?? [1000];
    this.windows = new EventTimeWindows({
      tiersMs,
      latenessMs: o.latenessMs ?? 1000,
      idleTimeoutMs: o.idleTimeoutMs ?? 0,
      maxWindows: o.maxWindows ?? 10_000,
      sketch: o.metrics === true ? { relativeAccuracy: o.relativeAccuracy ?? 0.01 } : false,
    });
    this.base = this.windows.tiers[0]!;
    this.series = new SeriesRegistry({ maxSeriesPerMetric: o.maxSeriesPerMetric ?? 10_000 });
    this.opts = {
      time: o.time ?? 'event',
      metrics: o.metrics ?? false,
      aggregates: o.aggregates ?? ['count', 'sum', 'min', 'max', 'last', 'p50', 'p99'],
      markFinal: o.markFinal ?? false,
    };
  }

  get openWindows(): number {
    return this.windows.openWindows;
  }

  /** Takes a batch at processing time `now`; returns what passes through (metric points unless aggregated). */
  add(events: readonly Event[], now: number): Event[] {
    const passed: Event[] = [];
    for (const e of events) {
      if (e.kind === 'log') this.addLog(e, now);
      else if (this.opts.metrics) this.addPoint(e, now);
      else passed.push(e);
    }
    return passed;
  }

  private addLog(e: LogRecord, now: number): void {
    const time = this.opts.time === 'event' && e.time !== undefined && Number.isFinite(e.time) ? e.time : e.observed_time;
    const level = severityIndex(e.severity_number);
    const service = serviceOf(e);
    // Every record resolves its series: a small cache by service, then severity, skips building
    // and sorting the label set per line (bench/sniff-rollup.mjs), and builds no key string.
    let bySeverity = this.logSeries.get(service);
    let ref = bySeverity?.[level];
    if (ref === undefined) {
      const severity = SEVERITY_LABELS[level]!;
      const labels: Record<string, string> = { severity };
      if (service !== undefined) labels[AttrKeys.serviceName] = service;
      ref = this.series.resolve(METRIC_NAME, labels);
      // Overflow series are not cached: the limit is re-checked once room is made.
      if (!ref.overflow && this.logSeriesCached < 4096) {
        if (bySeverity === undefined) {
          bySeverity = new Array<SeriesRef | undefined>(SEVERITY_LABELS.length).fill(undefined);
          this.logSeries.set(service, bySeverity);
        }
        bySeverity[level] = ref;
        this.logSeriesCached++;
      }
    }
    this.count(this.windows.add(partitionOf(e), ref, time, 1, now));
  }

  private addPoint(p: MetricPoint, now: number): void {
    const s = sampleOf(p);
    if (s === undefined) return;
    const ref = this.series.resolve(s.name, s.labels);
    this.count(this.windows.add(partitionOf(p), ref, s.time, s.value, now, s.summary));
  }

  private count(r: 'ok' | 'late' | 'overflow'): void {
    if (r === 'ok') this.counters.absorbed++;
    else if (r === 'late') this.counters.late++;
    else this.counters.overflow++;
  }

  /** Early values of open windows that changed, final values of closed ones, and late counts, as events. */
  flush(now: number, final: boolean): MetricPoint[] {
    return this.flushWindows(now, final).points;
  }

  flushWindows(now: number, final: boolean): { points: MetricPoint[]; windows: WindowValue[] } {
    const r = this.windows.flush(now, final);
    const points: MetricPoint[] = [];
    for (const w of r.windows) {
      if (w.name === METRIC_NAME) points.push(this.countPoint(w));
      else for (const a of this.opts.aggregates) points.push(this.aggPoint(w, a));
    }
    const from = Number.isNaN(this.lastFlush) ? now : this.lastFlush;
    for (const l of r.late) {
      const p: SumPoint = { kind: 'metric', type: 'sum', name: LATE_METRIC, unit: '{event}', temporality: 'delta', monotonic: true, start_time: from, time: now, value: l.count, attributes: { metric: l.name }, resource: {} };
      points.push(p);
    }
    this.lastFlush = now;
    return { points, windows: r.windows };
  }

  private attrs(w: WindowValue): Attributes {
    const a: Attributes = { ...w.labels };
    if (w.window_ms !== this.base) a[WINDOW_ATTR] = tierName(w.window_ms);
    if (w.final && this.opts.markFinal) a[FINAL_ATTR] = true;
    return a;
  }

  private countPoint(w: WindowValue): SumPoint {
    return { kind: 'metric', type: 'sum', name: METRIC_NAME, unit: '{record}', temporality: 'delta', monotonic: true, start_time: w.start, time: w.start + w.window_ms, value: w.agg.count, attributes: this.attrs(w), resource: {} };
  }

  private aggPoint(w: WindowValue, a: AggregateName): GaugePoint {
    return { kind: 'metric', type: 'gauge', name: `${w.name}.${a}`, start_time: w.start, time: w.start + w.window_ms, value: aggregateValue(w.agg, a, w.window_ms), attributes: this.attrs(w), resource: {} };
  }
}

/**
 * The per-second log count rollup with the original signature (collector/ingest/core.ts uses
 * it per partition with `now` = the partition's event time): observed time, one 1 s tier, the
 * watermark = `now`.
 */
export class CountRollup {
  private readonly core: RollupCore;

  constructor(latenessMs = 1000, maxWindows = 10_000) {
    this.core = new RollupCore({ latenessMs, maxWindows, idleTimeoutMs: 0, time: 'observed', tiersMs: [1000] });
  }

  get counters(): RollupCounters {
    return this.core.counters;
  }

  get openWindows(): number {
    return this.core.openWindows;
  }

  add(events: readonly Event[]): Event[] {
    return this.core.add(events, Number.NEGATIVE_INFINITY);
  }

  flush(now: number, final: boolean): SumPoint[] {
    return this.core.flush(now, final).filter((p): p is SumPoint => p.name === METRIC_NAME && p.type === 'sum');
  }
}

export class Rollup implements Transform {
  readonly core: RollupCore;
  private reported: RollupCounters = { absorbed: 0, late: 0, overflow: 0 };

  constructor(
    config: Partial<RollupConfig>,
    private readonly ctx: ComponentContext,
  ) {
    const aggregates = (config.aggregates ?? ['count', 'sum', 'min', 'max', 'last', 'p50', 'p99']).filter(isAggregateName);
    this.core = new RollupCore({
      latenessMs: config.lateness_ms ?? 1000,
      maxWindows: config.max_windows ?? 10_000,
      idleTimeoutMs: config.idle_timeout_ms ?? 0,
      time: config.time ?? 'event',
      tiersMs: (config.tiers ?? ['1s']).map((t) => TIER_NAMES[t] ?? 1000),
      metrics: config.metrics ?? false,
      aggregates,
      relativeAccuracy: config.relative_accuracy ?? 0.01,
      maxSeriesPerMetric: config.max_series_per_metric ?? 10_000,
      markFinal: config.mark_final ?? false,
    });
  }

  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  process(events: Event[], now: number): Event[] {
    return this.core.add(events, now);
  }

  flush(now: number, final: boolean): Event[] {
    const out = this.core.flush(now, final);
    this.report();
    return out;
  }

  private report(): void {
    const c = this.core.counters;
    const labels = { component: this.ctx.name };
    const t = this.ctx.telemetry;
    if (c.late > this.reported.late) {
      t.add('tidewatch_rollup_late_total', labels, c.late - this.reported.late);
      // One name across every windowing stage (rollup, log_to_metric, ingest), for one alert.
      t.add('tidewatch_window_late_events_total', labels, c.late - this.reported.late);
    }
    if (c.overflow > this.reported.overflow) {
      t.add('tidewatch_rollup_dropped_total', { ...labels, reason: 'max_windows' }, c.overflow - this.reported.overflow);
    }
    t.set('tidewatch_rollup_open_windows', labels, this.core.openWindows);
    for (const [metric, n] of this.core.series.overflowCounts()) t.set('tidewatch_series_overflow', { ...labels, metric }, n);
    this.reported = { ...c };
  }
}

export const rollupFactory: TransformFactory<typeof schema> = {
  role: 'transform',
  type: 'rollup',
  description: 'Event-time windows (1 s, 10 s, 1 min, 1 h tiers): log.records counts by severity, and with metrics: true count/sum/min/max/last/rate/quantiles per metric series; early and final values.',
  schema,
  create: (config, ctx) => new Rollup(config, ctx),
};
