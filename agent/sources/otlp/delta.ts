/**
 * Cumulative → delta conversion with reset detection, for sums, histograms and exponential
 * histograms (gauges and summaries pass through: a gauge has no temporality, and a summary's
 * quantiles cannot be subtracted). Pure: the caller passes points in and gets points out; the
 * only state is the last cumulative value per series, bounded by `maxSeries` (the least
 * recently seen series is evicted and counted).
 *
 * A series is (resource, scope, name, type, attributes). Its first point is a baseline and is
 * not emitted, unless its start time shows the series began after the converter did (then the
 * whole value is the first delta), as the OpenTelemetry Collector's cumulativetodelta does.
 * A reset (the sender restarted) is detected by a later start time, or by a monotonic value,
 * a count or a bucket going down; the point after a reset is a delta of its whole value since
 * the reset. Points not newer than the last one (duplicates, reordering) are dropped and counted.
 */
import type { Event, ExpBuckets, ExponentialHistogramPoint, HistogramPoint, MetricPoint, SumPoint } from '../../../core/model.js';

export interface DeltaStats {
  baseline: number;
  resets: number;
  outOfOrder: number;
  evicted: number;
}

interface SeriesState {
  time: number;
  start: number | undefined;
  point: SumPoint | HistogramPoint | ExponentialHistogramPoint;
}

type Cumulative = SumPoint | HistogramPoint | ExponentialHistogramPoint;

function sortedJson(o: Record<string, unknown>): string {
  const keys = Object.keys(o).sort();
  let s = '';
  for (const k of keys) s += `${JSON.stringify(k)}:${JSON.stringify(o[k])},`;
  return s;
}

export function seriesKey(p: MetricPoint): string {
  return `${p.type}\u0000${p.name}\u0000${p.scope?.name ?? ''}\u0000${sortedJson(p.resource)}\u0000${sortedJson(p.attributes)}`;
}

export class CumulativeToDelta {
  readonly stats: DeltaStats = { baseline: 0, resets: 0, outOfOrder: 0, evicted: 0 };
  private readonly series = new Map<string, SeriesState>();

  /**
   * @param startedAt epoch ms when conversion began: a first point whose start time is at or after
   *   it is known to be complete and is emitted whole.
   */
  constructor(
    private readonly startedAt: number,
    private readonly maxSeries = 100_000,
  ) {}

  get size(): number {
    return this.series.size;
  }

  /** Converts a batch; the input array is not changed, points that are not cumulative pass through. */
  convertAll(events: readonly Event[]): Event[] {
    const out: Event[] = [];
    for (const e of events) {
      if (e.kind !== 'metric') {
        out.push(e);
        continue;
      }
      const c = this.convert(e);
      if (c !== undefined) out.push(c);
    }
    return out;
  }

  /** One point; undefined when it only set a baseline or was out of order. */
  convert(p: MetricPoint): MetricPoint | undefined {
    if (p.type === 'gauge' || p.type === 'summary' || p.temporality !== 'cumulative') return p;
    const key = seriesKey(p);
    const prev = this.series.get(key);
    if (prev === undefined) {
      this.remember(key, p);
      if (p.start_time !== undefined && p.start_time >= this.startedAt && p.start_time <= p.time) return { ...p, temporality: 'delta' };
      this.stats.baseline++;
      return undefined;
    }
    if (p.time <= prev.time) {
      this.stats.outOfOrder++;
      return undefined;
    }
    // Refresh recency: a Map iterates in insertion order, so the first key is the least recently seen.
    this.series.delete(key);
    this.remember(key, p);
    const restarted = p.start_time !== undefined && prev.start !== undefined && p.start_time > prev.start;
    const d = restarted ? undefined : subtract(p, prev.point);
    if (d === undefined) {
      this.stats.resets++;
      return { ...p, temporality: 'delta', start_time: p.start_time ?? prev.time };
    }
    return { ...d, temporality: 'delta', start_time: prev.time };
  }

  /** Forgets series not seen since `before` (epoch ms of their last point). */
  sweep(before: number): void {
    for (const [k, s] of this.series) if (s.time < before) this.series.delete(k);
  }

  private remember(key: string, p: Cumulative): void {
    if (this.series.size >= this.maxSeries) {
      const oldest = this.series.keys().next();
      if (!oldest.done) {
        this.series.delete(oldest.value);
        this.stats.evicted++;
      }
    }
    this.series.set(key, { time: p.time, start: p.start_time, point: p });
  }
}

/** cur - prev, or undefined when the difference shows a reset. */
function subtract(cur: Cumulative, prev: Cumulative): Cumulative | undefined {
  if (cur.type === 'sum' && prev.type === 'sum') {
    const v = cur.value - prev.value;
    if (cur.monotonic && v < 0) return undefined;
    return { ...cur, value: v };
  }
  if (cur.type === 'histogram' && prev.type === 'histogram') {
    if (cur.count < prev.count) return undefined;
    if (cur.bucket_bounds.length !== prev.bucket_bounds.length || cur.bucket_bounds.some((b, i) => b !== prev.bucket_bounds[i])) return undefined;
    if (cur.bucket_counts.length !== prev.bucket_counts.length) return undefined;
    const counts = cur.bucket_counts.map((c, i) => c - prev.bucket_counts[i]!);
    if (counts.some((c) => c < 0)) return undefined;
    const out: HistogramPoint = { ...cur, count: cur.count - prev.count, bucket_counts: counts };
    if (cur.sum !== undefined && prev.sum !== undefined) out.sum = cur.sum - prev.sum;
    // min and max of the interval are unknown from two cumulative extremes.
    delete out.min;
    delete out.max;
    return out;
  }
  if (cur.type === 'exponential_histogram' && prev.type === 'exponential_histogram') {
    if (cur.count < prev.count || cur.zero_count < prev.zero_count) return undefined;
    const scale = Math.min(cur.scale, prev.scale);
    const pos = diffBuckets(downscale(cur.positive, cur.scale - scale), downscale(prev.positive, prev.scale - scale));
    const neg = diffBuckets(downscale(cur.negative, cur.scale - scale), downscale(prev.negative, prev.scale - scale));
    if (pos === undefined || neg === undefined) return undefined;
    const out: ExponentialHistogramPoint = { ...cur, scale, count: cur.count - prev.count, zero_count: cur.zero_count - prev.zero_count, positive: pos, negative: neg };
    if (cur.sum !== undefined && prev.sum !== undefined) out.sum = cur.sum - prev.sum;
    delete out.min;
    delete out.max;
    return out;
  }
  return undefined;
}

/** Merges buckets to a coarser scale: index i at scale s is index i >> by at scale s - by. */
export function downscale(b: ExpBuckets, by: number): ExpBuckets {
  if (by === 0 || b.bucket_counts.length === 0) return b;
  const offset = b.offset >> by;
  const counts: number[] = [];
  b.bucket_counts.forEach((c, i) => {
    const j = ((b.offset + i) >> by) - offset;
    counts[j] = (counts[j] ?? 0) + c;
  });
  for (let j = 0; j < counts.length; j++) counts[j] ??= 0;
  return { offset, bucket_counts: counts };
}

function diffBuckets(cur: ExpBuckets, prev: ExpBuckets): ExpBuckets | undefined {
  if (prev.bucket_counts.length === 0) return cur;
  if (cur.bucket_counts.length === 0) return prev.bucket_counts.every((c) => c === 0) ? cur : undefined;
  const lo = Math.min(cur.offset, prev.offset);
  const hi = Math.max(cur.offset + cur.bucket_counts.length, prev.offset + prev.bucket_counts.length);
  const counts: number[] = [];
  for (let i = lo; i < hi; i++) {
    const c = cur.bucket_counts[i - cur.offset] ?? 0;
    const p = prev.bucket_counts[i - prev.offset] ?? 0;
    if (c < p) return undefined;
    counts.push(c - p);
  }
  return { offset: lo, bucket_counts: counts };
}
