/**
 * Mergeable window aggregates, pure: one `AggState` per (series, window) holds count, sum, min,
 * max, last (with its event time) and optionally a DDSketch for quantiles. Every aggregate a user
 * can ask for (count, sum, min, max, last, avg, rate, p50/p90/p99/...) is derived from the state at
 * read time, so merging states is all a collector fleet needs: counts and sums add, min and max
 * compare, `last` is the value with the greatest (time, value), sketches add bucket counts.
 * merge(partials) = aggregate(union) is proven by test/collector/aggregates/merge.property.test.ts
 * (sums exactly for integer-valued inputs; floating-point addition of arbitrary doubles is only
 * associative up to rounding).
 *
 * Ownership: functions that take a state and return nothing mutate that state; `mergeAgg`
 * returns a new one and leaves its inputs alone.
 */
import { DDSketch, type SketchOptions } from './ddsketch.js';

export interface AggState {
  count: number;
  sum: number;
  min: number;
  max: number;
  last: number;
  /** Event time of `last`; -Infinity while empty. */
  lastTime: number;
  sketch: DDSketch | undefined;
}

export const AGGREGATES = ['count', 'sum', 'min', 'max', 'last', 'avg', 'rate'] as const;
export type BasicAggregate = (typeof AGGREGATES)[number];
/** A basic aggregate, or a quantile `p<percent>` (p50, p99, p99.9). */
export type AggregateName = BasicAggregate | `p${string}`;

export function emptyAgg(sketch: SketchOptions | false = false): AggState {
  return {
    count: 0,
    sum: 0,
    min: Number.POSITIVE_INFINITY,
    max: Number.NEGATIVE_INFINITY,
    last: Number.NaN,
    lastTime: Number.NEGATIVE_INFINITY,
    sketch: sketch === false ? undefined : new DDSketch(sketch),
  };
}

/**
 * Adds one observation of `value` at event time `time` with weight `n` (a histogram bucket or a
 * pre-counted value); `sumOverride` is for points that carry their own sum (histograms). The
 * caller filters non-finite values (and counts them): an aggregate never holds NaN.
 */
export function addValue(s: AggState, time: number, value: number, n = 1): void {
  s.count += n;
  s.sum += value * n;
  if (value < s.min) s.min = value;
  if (value > s.max) s.max = value;
  if (time > s.lastTime || (time === s.lastTime && value > s.last) || Number.isNaN(s.last)) {
    s.last = value;
    s.lastTime = time;
  }
  s.sketch?.add(value, n);
}

/** Adds a pre-aggregated observation (a histogram or summary point): count, sum, min and max as given. */
export function addSummary(
  s: AggState,
  time: number,
  p: { count: number; sum: number; min?: number | undefined; max?: number | undefined; values?: readonly (readonly [number, number])[] },
): void {
  if (p.count <= 0) return;
  s.count += p.count;
  s.sum += p.sum;
  const mean = p.sum / p.count;
  const lo = p.min ?? mean;
  const hi = p.max ?? mean;
  if (lo < s.min) s.min = lo;
  if (hi > s.max) s.max = hi;
  if (time > s.lastTime || Number.isNaN(s.last)) {
    s.last = mean;
    s.lastTime = time;
  }
  if (s.sketch !== undefined) for (const [v, c] of p.values ?? [[mean, p.count]]) if (Number.isFinite(v) && c > 0) s.sketch.add(v, c);
}

/** Merges `src` into `into` (mutates `into`; `src` is left alone). */
export function mergeInto(into: AggState, src: AggState): void {
  into.count += src.count;
  into.sum += src.sum;
  if (src.min < into.min) into.min = src.min;
  if (src.max > into.max) into.max = src.max;
  if (src.count > 0 && (src.lastTime > into.lastTime || (src.lastTime === into.lastTime && src.last > into.last) || Number.isNaN(into.last))) {
    into.last = src.last;
    into.lastTime = src.lastTime;
  }
  if (src.sketch !== undefined) {
    if (into.sketch === undefined) into.sketch = src.sketch.clone();
    else into.sketch.merge(src.sketch);
  }
}

/** A new state: the merge of every state in `parts` (order does not matter). */
export function mergeAgg(parts: readonly AggState[]): AggState {
  const out = emptyAgg(false);
  for (const p of parts) mergeInto(out, p);
  return out;
}

/** True when `name` is an aggregate this module derives (`p<percent>` with 0 <= percent <= 100). */
export function isAggregateName(name: string): name is AggregateName {
  if ((AGGREGATES as readonly string[]).includes(name)) return true;
  const q = quantileOf(name);
  return q !== undefined;
}

function quantileOf(name: string): number | undefined {
  const m = /^p(\d{1,3}(?:\.\d+)?)$/.exec(name);
  if (m === null) return undefined;
  const pct = Number(m[1]);
  return pct >= 0 && pct <= 100 ? pct / 100 : undefined;
}

/**
 * The aggregate `name` of a window of `windowMs`. `rate` is per second: the sum over the window
 * length (for delta counts, events per second). Empty windows give 0 for count/sum/rate and NaN
 * for the rest; a quantile without a sketch is NaN.
 */
export function aggregateValue(s: AggState, name: AggregateName, windowMs: number): number {
  switch (name) {
    case 'count':
      return s.count;
    case 'sum':
      return s.sum;
    case 'min':
      return s.count > 0 ? s.min : Number.NaN;
    case 'max':
      return s.count > 0 ? s.max : Number.NaN;
    case 'last':
      return s.count > 0 ? s.last : Number.NaN;
    case 'avg':
      return s.count > 0 ? s.sum / s.count : Number.NaN;
    case 'rate':
      return windowMs > 0 ? s.sum / (windowMs / 1000) : Number.NaN;
    default: {
      const q = quantileOf(name);
      return q === undefined || s.sketch === undefined ? Number.NaN : s.sketch.quantile(q);
    }
  }
}
