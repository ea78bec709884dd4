/**
 * Series: every metric point and every log-derived metric is a series, a metric name plus a
 * label set, with a stable id `name{k1="v1",k2="v2"}` (labels sorted by key, values JSON-quoted;
 * the same text collector/ingest/core.ts uses as the rollups topic's key, so ids agree across
 * stages and instances).
 *
 * Cardinality is bounded per metric (`maxSeriesPerMetric`) and in metric names (`maxMetrics`):
 * a new label set beyond the limit lands in the metric's overflow series, labels
 * `{__overflow__="true"}`, so its data is still counted (visible on the dashboard and to rules)
 * instead of dropped or growing memory; `overflow` counts per metric how many points went there.
 * Metrics beyond `maxMetrics` go to the overflow series of the name `__overflow__`.
 */
import type { Attributes, AttrValue, MetricPoint } from '../core/model.js';
import { AttrKeys } from '../core/model.js';

export const OVERFLOW_LABEL = '__overflow__';
export const OVERFLOW_METRIC = '__overflow__';

export interface SeriesRef {
  readonly id: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** true for a metric's `__overflow__` series. */
  readonly overflow: boolean;
}

export interface SeriesOptions {
  readonly maxSeriesPerMetric?: number;
  readonly maxMetrics?: number;
}

/** `name{k="v",...}` with labels sorted by key. */
export function seriesId(name: string, labels: Readonly<Record<string, string>>): string {
  const keys = Object.keys(labels).sort();
  let s = `${name}{`;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    s += `${i === 0 ? '' : ','}${k}=${JSON.stringify(labels[k])}`;
  }
  return `${s}}`;
}

/** Label text of an attribute value: strings as they are, anything else as JSON. */
export function labelValue(v: AttrValue | undefined): string {
  return typeof v === 'string' ? v : JSON.stringify(v ?? null);
}

/** Resource attributes that become labels (the rest identify the process, not the series). */
export const RESOURCE_LABELS: readonly string[] = [AttrKeys.serviceName, AttrKeys.hostName];

/** The labels of a metric point: its attributes plus `service.name` and `host.name` of its resource. */
export function labelsOf(attributes: Attributes, resource: Attributes): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k in attributes) out[k] = labelValue(attributes[k]);
  for (const k of RESOURCE_LABELS) {
    const v = resource[k];
    if (typeof v === 'string' && out[k] === undefined) out[k] = v;
  }
  return out;
}

interface MetricEntry {
  readonly byId: Map<string, SeriesRef>;
  /**
   * Label sets as they arrive (insertion order, no quoting) → series: one source sends its
   * labels in the same order every time, so most points skip sorting and quoting (bench/rules.mjs).
   */
  readonly fast: Map<string, SeriesRef>;
  overflowRef: SeriesRef | undefined;
  overflow: number;
}

export class SeriesRegistry {
  private readonly metrics = new Map<string, MetricEntry>();
  private readonly maxSeries: number;
  private readonly maxMetrics: number;

  constructor(opts: SeriesOptions = {}) {
    this.maxSeries = Math.max(1, opts.maxSeriesPerMetric ?? 10_000);
    this.maxMetrics = Math.max(1, opts.maxMetrics ?? 10_000);
  }

  /** Series held, overflow series included. */
  get size(): number {
    let n = 0;
    for (const m of this.metrics.values()) n += m.byId.size + (m.overflowRef === undefined ? 0 : 1);
    return n;
  }

  /** Points that went to an overflow series, by metric name (`__overflow__` for metrics over maxMetrics). */
  overflowCounts(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [name, m] of this.metrics) if (m.overflow > 0) out.set(name, m.overflow);
    return out;
  }

  /** The series of (name, labels): an existing one, a new one, or the metric's overflow series. */
  resolve(name: string, labels: Readonly<Record<string, string>>): SeriesRef {
    let m = this.metrics.get(name);
    if (m === undefined) {
      if (this.metrics.size >= this.maxMetrics) return this.overflowOf(this.entry(OVERFLOW_METRIC), OVERFLOW_METRIC);
      m = this.entry(name);
    }
    let fk = '';
    for (const k in labels) fk += `${k}\u0000${labels[k]}\u0001`;
    const fast = m.fast.get(fk);
    if (fast !== undefined && m.byId.get(fast.id) === fast) return fast;
    const id = seriesId(name, labels);
    let ref = m.byId.get(id);
    if (ref === undefined) {
      if (m.byId.size >= this.maxSeries) return this.overflowOf(m, name);
      ref = { id, name, labels: { ...labels }, overflow: false };
      m.byId.set(id, ref);
    }
    // Bounded like byId; a full cache starts over (the slow path still answers).
    if (m.fast.size >= 2 * this.maxSeries) m.fast.clear();
    m.fast.set(fk, ref);
    return ref;
  }

  /** Forgets a series (it went stale), freeing room under its metric's limit. */
  forget(ref: SeriesRef): void {
    this.metrics.get(ref.name)?.byId.delete(ref.id);
  }

  private entry(name: string): MetricEntry {
    let m = this.metrics.get(name);
    if (m === undefined) {
      m = { byId: new Map(), fast: new Map(), overflowRef: undefined, overflow: 0 };
      this.metrics.set(name, m);
    }
    return m;
  }

  private overflowOf(m: MetricEntry, name: string): SeriesRef {
    m.overflow++;
    if (m.overflowRef === undefined) {
      const labels = { [OVERFLOW_LABEL]: 'true' };
      m.overflowRef = { id: seriesId(name, labels), name, labels, overflow: true };
    }
    return m.overflowRef;
  }
}

/** One observation of a series taken from an event. */
export interface SeriesSample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly time: number;
  /** For gauges and sums; for histograms and summaries the mean (count and sum in `summary`). */
  readonly value: number;
  readonly summary?: { count: number; sum: number; min?: number | undefined; max?: number | undefined; values: (readonly [number, number])[] };
  /** A cumulative sum: the value is a running total (rules take increases from it). */
  readonly cumulative: boolean;
  /**
   * Start of the point's interval when it is a window value (a delta sum or a rollup's gauge):
   * a later point with the same start and time restates that window (an early value, then the
   * final one) and replaces it rather than adding to it.
   */
  readonly start?: number;
}

/**
 * The samples a metric point contributes (one; none when it holds no finite value). Histogram
 * buckets feed the sketch at their upper bound (the +Inf bucket at the last bound), an
 * explicit-bucket histogram's best available value for each observation.
 */
export function sampleOf(p: MetricPoint): SeriesSample | undefined {
  const labels = labelsOf(p.attributes, p.resource);
  switch (p.type) {
    case 'gauge':
    case 'sum':
      if (!Number.isFinite(p.value)) return undefined;
      return withStart({ name: p.name, labels, time: p.time, value: p.value, cumulative: p.type === 'sum' && p.temporality === 'cumulative' }, p.start_time);
    case 'histogram': {
      if (!(p.count > 0)) return undefined;
      const sum = p.sum ?? 0;
      const values: (readonly [number, number])[] = [];
      for (let i = 0; i < p.bucket_counts.length; i++) {
        const c = p.bucket_counts[i] ?? 0;
        const b = p.bucket_bounds[Math.min(i, p.bucket_bounds.length - 1)];
        if (c > 0 && b !== undefined) values.push([b, c]);
      }
      return withStart({ name: p.name, labels, time: p.time, value: sum / p.count, summary: { count: p.count, sum, min: p.min, max: p.max, values }, cumulative: p.temporality === 'cumulative' }, p.start_time);
    }
    case 'exponential_histogram':
    case 'summary':
      if (!(p.count > 0) || p.sum === undefined || !Number.isFinite(p.sum)) return undefined;
      return { name: p.name, labels, time: p.time, value: p.sum / p.count, summary: { count: p.count, sum: p.sum, values: [] }, cumulative: p.type === 'exponential_histogram' && p.temporality === 'cumulative' };
  }
}

function withStart(s: SeriesSample, start: number | undefined): SeriesSample {
  return start === undefined || s.cumulative ? s : { ...s, start };
}
