/**
 * `log_to_metric`: metrics derived from log records, per second of event time (the record's
 * `time`, else its observed time): counters of records (or sums of a numeric field) by chosen
 * labels, and histograms of a numeric field (nginx `request_time` by status class). Log records
 * pass through unchanged; the points come from `flush(now)`.
 *
 * Output contract: each (second, metric, label values, service) series is emitted once, as a
 * delta point (`sum`, monotonic, or `histogram`) with `start_time` = the second and `time` = its
 * end, when `now` passes the second's end plus `lateness_ms` (or at the final flush). Deltas of
 * one series never overlap, so downstream rollups add them. A record for a second already
 * emitted is late: counted in `tidewatch_log_to_metric_late_total`, not added. Series beyond
 * `max_series` open at once are dropped and counted; a value that is not a number is skipped
 * and counted (`tidewatch_log_to_metric_skipped_total{reason}`).
 */
import { Type, type Static } from '@sinclair/typebox';
import type { ComponentContext, Transform, TransformFactory } from '../../core/component.js';
import type { AttrValue, Attributes, Event, HistogramPoint, LogRecord, MetricPoint, SumPoint } from '../../core/model.js';
import { AttrKeys } from '../../core/model.js';
import { TidewatchError } from '../../core/errors.js';
import { getField } from '../parsers/fields.js';
import { all, compileCondition, type Condition } from '../parsers/filter.js';

export const DEFAULT_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const Metric = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_.]*$', description: 'Metric name (`http.server.requests`).' }),
    type: Type.Union([Type.Literal('counter'), Type.Literal('histogram')], { description: 'counter: records (or the sum of `field`) per second; histogram: distribution of `field`.' }),
    field: Type.Optional(Type.String({ description: 'Numeric field: required for histograms; for counters, summed instead of counting records.' })),
    labels: Type.Array(Type.String(), {
      default: [],
      description: 'Fields that become labels; `name=field` renames. Keep them low-cardinality (status class, method, route), never ids.',
    }),
    when: Type.Array(Type.String(), { default: [], description: 'Only records where all these `field op value` conditions hold.' }),
    buckets: Type.Array(Type.Number(), { default: [...DEFAULT_BUCKETS], description: 'Histogram upper bounds, ascending (seconds suit request_time).' }),
    unit: Type.Optional(Type.String({ description: 'UCUM unit (`s`, `By`, `{request}`).' })),
    description: Type.Optional(Type.String({ description: 'One line for readers of the metric.' })),
  },
  { additionalProperties: false },
);

export const schema = Type.Object(
  {
    metrics: Type.Array(Metric, { minItems: 1, description: 'The metrics to derive.' }),
    lateness_ms: Type.Integer({ minimum: 0, maximum: 600_000, default: 2000, description: 'How long after a second ends it stays open for stragglers before its points are emitted.' }),
    max_series: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 10_000, description: 'Most open (second, metric, labels) series at once; records beyond it are dropped from the metric and counted.' }),
  },
  { additionalProperties: false },
);
export type LogToMetricConfig = Static<typeof schema>;

const WINDOW_MS = 1000;

interface CompiledMetric {
  readonly name: string;
  readonly type: 'counter' | 'histogram';
  readonly field: string | undefined;
  readonly labels: readonly { name: string; field: string }[];
  readonly when: Condition | undefined;
  readonly bounds: readonly number[];
  readonly unit: string | undefined;
  readonly description: string | undefined;
}

interface Series {
  readonly start: number;
  readonly metric: CompiledMetric;
  readonly attributes: Attributes;
  readonly service: string | undefined;
  count: number;
  sum: number;
  min: number;
  max: number;
  buckets: number[] | undefined;
}

export interface LogToMetricCounters {
  late: number;
  overflow: number;
  notNumeric: number;
  missing: number;
}

function labelValue(v: AttrValue | undefined): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

function numeric(v: AttrValue | undefined): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string' && v.length > 0 && v.length < 32) {
    const n = Number(v);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

export function compileMetrics(config: Partial<LogToMetricConfig>): CompiledMetric[] {
  return (config.metrics ?? []).map((m, i) => {
    const where = `metrics[${i}]`;
    if (m.type === 'histogram' && m.field === undefined) throw new TidewatchError('TW_CONFIG_SCHEMA', `log_to_metric: ${where}: a histogram needs a numeric \`field\``);
    const bounds = m.buckets ?? DEFAULT_BUCKETS;
    for (let k = 1; k < bounds.length; k++) {
      if (!(bounds[k]! > bounds[k - 1]!)) throw new TidewatchError('TW_CONFIG_SCHEMA', `log_to_metric: ${where}.buckets must be strictly ascending`);
    }
    let when: Condition | undefined;
    try {
      when = (m.when ?? []).length > 0 ? all((m.when ?? []).map(compileCondition)) : undefined;
    } catch (err) {
      throw new TidewatchError('TW_CONFIG_SCHEMA', `log_to_metric: ${where}.when: ${(err as Error).message}`);
    }
    const labels = (m.labels ?? []).map((l) => {
      const eq = l.indexOf('=');
      return eq > 0 ? { name: l.slice(0, eq), field: l.slice(eq + 1) } : { name: l, field: l };
    });
    return { name: m.name, type: m.type, field: m.field, labels, when, bounds, unit: m.unit, description: m.description };
  });
}

/** The pure core: `now` passed in, no timers. */
export class LogMetrics {
  private readonly series = new Map<string, Series>();
  private closedBefore = -Infinity;
  readonly counters: LogToMetricCounters = { late: 0, overflow: 0, notNumeric: 0, missing: 0 };

  constructor(
    private readonly metrics: readonly CompiledMetric[],
    private readonly latenessMs = 2000,
    private readonly maxSeries = 10_000,
  ) {}

  get openSeries(): number {
    return this.series.size;
  }

  add(rec: LogRecord): void {
    const t = rec.time ?? rec.observed_time;
    const start = Math.floor(t / WINDOW_MS) * WINDOW_MS;
    if (start < this.closedBefore) {
      this.counters.late++;
      return;
    }
    const sv = rec.resource[AttrKeys.serviceName] ?? rec.attributes[AttrKeys.serviceName];
    const service = typeof sv === 'string' ? sv : undefined;
    for (let mi = 0; mi < this.metrics.length; mi++) {
      const m = this.metrics[mi]!;
      if (m.when !== undefined && !m.when(rec)) continue;
      let value = 1;
      if (m.field !== undefined) {
        const raw = getField(rec, m.field);
        if (raw === undefined || raw === null) {
          this.counters.missing++;
          continue;
        }
        const n = numeric(raw);
        if (n === undefined) {
          this.counters.notNumeric++;
          continue;
        }
        value = n;
      }
      let key = `${start}|${mi}|${service ?? ''}`;
      const values: (string | undefined)[] = [];
      for (const l of m.labels) {
        const v = labelValue(getField(rec, l.field));
        values.push(v);
        key += `|${v === undefined ? '\u0000' : v}`;
      }
      let s = this.series.get(key);
      if (s === undefined) {
        if (this.series.size >= this.maxSeries) {
          this.counters.overflow++;
          continue;
        }
        const attributes: Attributes = {};
        m.labels.forEach((l, k) => {
          const v = values[k];
          if (v !== undefined) attributes[l.name] = v;
        });
        s = {
          start,
          metric: m,
          attributes,
          service,
          count: 0,
          sum: 0,
          min: Infinity,
          max: -Infinity,
          buckets: m.type === 'histogram' ? new Array<number>(m.bounds.length + 1).fill(0) : undefined,
        };
        this.series.set(key, s);
      }
      s.count++;
      s.sum += value;
      if (s.buckets !== undefined) {
        if (value < s.min) s.min = value;
        if (value > s.max) s.max = value;
        // Bucket i counts values <= bounds[i] (OpenTelemetry explicit buckets: upper inclusive).
        let b = 0;
        while (b < m.bounds.length && value > m.bounds[b]!) b++;
        s.buckets[b]!++;
      }
    }
  }

  flush(now: number, final: boolean): MetricPoint[] {
    const out: MetricPoint[] = [];
    let closeUpTo = this.closedBefore;
    for (const [key, s] of this.series) {
      const end = s.start + WINDOW_MS;
      if (!final && now < end + this.latenessMs) continue;
      out.push(this.point(s));
      this.series.delete(key);
      if (end > closeUpTo) closeUpTo = end;
    }
    const idle = Math.floor((now - this.latenessMs) / WINDOW_MS) * WINDOW_MS;
    this.closedBefore = Math.max(closeUpTo, final ? now : idle);
    out.sort((a, b) => a.time - b.time);
    return out;
  }

  private point(s: Series): SumPoint | HistogramPoint {
    const m = s.metric;
    const base = {
      kind: 'metric' as const,
      name: m.name,
      start_time: s.start,
      time: s.start + WINDOW_MS,
      attributes: s.attributes,
      resource: s.service === undefined ? {} : { [AttrKeys.serviceName]: s.service },
      ...(m.unit !== undefined ? { unit: m.unit } : {}),
      ...(m.description !== undefined ? { description: m.description } : {}),
    };
    if (s.buckets === undefined) {
      return { ...base, type: 'sum', temporality: 'delta', monotonic: m.field === undefined, value: m.field === undefined ? s.count : s.sum };
    }
    return { ...base, type: 'histogram', temporality: 'delta', count: s.count, sum: s.sum, min: s.min, max: s.max, bucket_bounds: [...m.bounds], bucket_counts: s.buckets };
  }
}

export class LogToMetric implements Transform {
  private readonly core: LogMetrics;
  private reported: LogToMetricCounters = { late: 0, overflow: 0, notNumeric: 0, missing: 0 };

  constructor(
    config: Partial<LogToMetricConfig>,
    private readonly ctx: ComponentContext,
  ) {
    this.core = new LogMetrics(compileMetrics(config), config.lateness_ms ?? 2000, config.max_series ?? 10_000);
  }

  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  process(events: Event[], _now: number): Event[] {
    for (const e of events) if (e.kind === 'log') this.core.add(e);
    return events;
  }

  flush(now: number, final: boolean): Event[] {
    const out = this.core.flush(now, final);
    const c = this.core.counters;
    const r = this.reported;
    const labels = { component: this.ctx.name };
    const t = this.ctx.telemetry;
    if (c.late > r.late) {
      t.add('tidewatch_log_to_metric_late_total', labels, c.late - r.late);
      t.add('tidewatch_window_late_events_total', labels, c.late - r.late);
    }
    if (c.overflow > r.overflow) t.add('tidewatch_log_to_metric_dropped_total', { ...labels, reason: 'max_series' }, c.overflow - r.overflow);
    if (c.notNumeric > r.notNumeric) t.add('tidewatch_log_to_metric_skipped_total', { ...labels, reason: 'not_numeric' }, c.notNumeric - r.notNumeric);
    if (c.missing > r.missing) t.add('tidewatch_log_to_metric_skipped_total', { ...labels, reason: 'missing_field' }, c.missing - r.missing);
    t.set('tidewatch_log_to_metric_open_series', labels, this.core.openSeries);
    this.reported = { ...c };
    return out;
  }
}

export const logToMetricFactory: TransformFactory<typeof schema> = {
  role: 'transform',
  type: 'log_to_metric',
  description: 'Derives per-second delta counters and histograms from log fields (e.g. request_time by status class), by chosen labels.',
  schema,
  create: (config, ctx) => new LogToMetric(config, ctx),
};
