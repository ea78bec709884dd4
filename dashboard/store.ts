/**
 * The dashboard's recent series: a bounded, in-memory window per series (by default one hour at
 * 1 s resolution) for instant charts, plus a running total per series for /metrics.
 *
 * Points for one series and one `time` replace each other: a rollup publishes the open window
 * early and its final value later with the same time (DESIGN.md), so the last value wins.
 * Delta sums add up into the series total (a replacement adds only its difference); cumulative
 * sums and gauges keep their last value as the total.
 *
 * Bounds: at most `maxSeries` series (new ones beyond it are dropped and counted), at most
 * `pointsPerSeries` points each (the oldest go first), and a point older than the series' oldest
 * kept point is dropped and counted as late. Only gauge and sum points are kept for now;
 * histograms and summaries are counted as unsupported (the rules issue brings their rollups).
 * Listeners run synchronously inside `upsert`; they must be cheap and must not throw.
 */
import type { AttrValue, Attributes, MetricPoint } from '../core/model.js';

export type SeriesLabels = Readonly<Record<string, string>>;

export interface SeriesInfo {
  readonly id: string;
  readonly name: string;
  readonly labels: SeriesLabels;
  readonly type: 'gauge' | 'sum';
  readonly temporality: 'delta' | 'cumulative' | undefined;
  readonly unit: string | undefined;
}

export interface PointUpdate {
  readonly series: SeriesInfo;
  readonly time: number;
  readonly value: number;
}

export type UpsertResult = 'appended' | 'replaced' | 'inserted' | 'late' | 'series_overflow' | 'unsupported' | 'invalid';

export interface StoreCounters {
  appended: number;
  replaced: number;
  late: number;
  series_overflow: number;
  unsupported: number;
  invalid: number;
  evicted: number;
}

interface Series {
  readonly info: SeriesInfo;
  readonly times: number[];
  readonly values: number[];
  /** Sum of delta values ever taken (evicted points included), or the last value. */
  total: number;
}

export interface StoreOptions {
  /** Points kept per series (default 3600: one hour at 1 s). */
  pointsPerSeries?: number;
  /** Series kept at most (default 2000: with 3600 points each, at most about 120 MB). */
  maxSeries?: number;
}

function objectOr(a: Attributes | undefined): Attributes {
  return a !== null && typeof a === 'object' && !Array.isArray(a) ? a : {};
}

function labelText(v: AttrValue): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** Flat string labels from a point's resource and attributes (attributes win on a clash). */
export function labelsOf(resource: Attributes, attributes: Attributes): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(resource)) out[k] = labelText(v);
  for (const [k, v] of Object.entries(attributes)) out[k] = labelText(v);
  return out;
}

export function seriesKey(name: string, labels: SeriesLabels): string {
  const keys = Object.keys(labels).sort();
  return JSON.stringify([name, ...keys.map((k) => [k, labels[k]])]);
}

/** Index of the first element of ascending `a` that is >= t. */
function lowerBound(a: readonly number[], t: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((a[mid] as number) < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class SeriesStore {
  private readonly series = new Map<string, Series>();
  private readonly byId = new Map<string, Series>();
  private readonly listeners = new Set<(u: PointUpdate) => void>();
  private nextId = 1;
  readonly pointsPerSeries: number;
  readonly maxSeries: number;
  readonly counters: StoreCounters = { appended: 0, replaced: 0, late: 0, series_overflow: 0, unsupported: 0, invalid: 0, evicted: 0 };

  constructor(opts: StoreOptions = {}) {
    this.pointsPerSeries = opts.pointsPerSeries ?? 3600;
    this.maxSeries = opts.maxSeries ?? 2000;
  }

  get size(): number {
    return this.series.size;
  }

  upsert(p: MetricPoint): UpsertResult {
    if (p.type !== 'sum' && p.type !== 'gauge') {
      this.counters.unsupported++;
      return 'unsupported';
    }
    // Points come off the wire: check what the store relies on instead of trusting the type.
    if (typeof p.name !== 'string' || !Number.isFinite(p.time) || typeof p.value !== 'number' || Number.isNaN(p.value)) {
      this.counters.invalid++;
      return 'invalid';
    }
    const labels = labelsOf(objectOr(p.resource), objectOr(p.attributes));
    const key = seriesKey(p.name, labels);
    let s = this.series.get(key);
    if (s === undefined) {
      if (this.series.size >= this.maxSeries) {
        this.counters.series_overflow++;
        return 'series_overflow';
      }
      const info: SeriesInfo = {
        id: `s${this.nextId++}`,
        name: p.name,
        labels,
        type: p.type,
        temporality: p.type === 'sum' ? p.temporality : undefined,
        unit: p.unit,
      };
      s = { info, times: [], values: [], total: 0 };
      this.series.set(key, s);
      this.byId.set(info.id, s);
    }
    const result = this.put(s, p.time, p.value);
    if (result !== 'late') {
      const u: PointUpdate = { series: s.info, time: p.time, value: p.value };
      for (const l of this.listeners) l(u);
    }
    return result;
  }

  private put(s: Series, t: number, v: number): UpsertResult {
    const { times, values } = s;
    const delta = s.info.type === 'sum' && s.info.temporality === 'delta';
    const n = times.length;
    const last = n === 0 ? -Infinity : (times[n - 1] as number);
    if (t > last) {
      times.push(t);
      values.push(v);
      s.total = delta ? s.total + v : v;
      this.counters.appended++;
      if (times.length > this.pointsPerSeries) {
        // Evict in chunks so the array shift is amortised over many appends.
        const excess = times.length - this.pointsPerSeries + Math.max(1, this.pointsPerSeries >> 6);
        const drop = Math.min(excess, times.length - 1);
        times.splice(0, drop);
        values.splice(0, drop);
        this.counters.evicted += drop;
      }
      return 'appended';
    }
    if (n === 0 || t < (times[0] as number)) {
      this.counters.late++;
      return 'late';
    }
    const i = lowerBound(times, t);
    if (times[i] === t) {
      const old = values[i] as number;
      values[i] = v;
      if (delta) s.total += v - old;
      else if (i === n - 1) s.total = v;
      this.counters.replaced++;
      return 'replaced';
    }
    times.splice(i, 0, t);
    values.splice(i, 0, v);
    if (delta) s.total += v;
    this.counters.appended++;
    return 'inserted';
  }

  /** Every series, in creation order. */
  list(): Array<SeriesInfo & { points: number; first: number | null; last: number | null; total: number }> {
    return [...this.series.values()].map((s) => ({
      ...s.info,
      points: s.times.length,
      first: s.times[0] ?? null,
      last: s.times[s.times.length - 1] ?? null,
      total: s.total,
    }));
  }

  get(id: string): SeriesInfo | undefined {
    return this.byId.get(id)?.info;
  }

  /** Points of every series named `name` (and carrying every label in `match`) with from <= time <= to. */
  query(name: string, from: number, to: number, match: SeriesLabels = {}): Array<{ series: SeriesInfo; points: Array<[number, number]> }> {
    const out: Array<{ series: SeriesInfo; points: Array<[number, number]> }> = [];
    for (const s of this.series.values()) {
      if (s.info.name !== name) continue;
      if (!Object.entries(match).every(([k, v]) => s.info.labels[k] === v)) continue;
      const a = lowerBound(s.times, from);
      const points: Array<[number, number]> = [];
      for (let i = a; i < s.times.length; i++) {
        const t = s.times[i] as number;
        if (t > to) break;
        points.push([t, s.values[i] as number]);
      }
      out.push({ series: s.info, points });
    }
    return out;
  }

  /**
   * Like `query`, reduced while scanning to at most about 2 * `width` points per series: the range
   * is cut into `width` buckets and each keeps its minimum and maximum point, in time order. No
   * intermediate array of every point is built (an hour of 200 series is 720 000 points).
   */
  queryWidth(name: string, from: number, to: number, width: number, match: SeriesLabels = {}): Array<{ series: SeriesInfo; points: Array<[number, number]> }> {
    const out: Array<{ series: SeriesInfo; points: Array<[number, number]> }> = [];
    const span = Math.max(1, to - from + 1);
    for (const s of this.series.values()) {
      if (s.info.name !== name) continue;
      if (!Object.entries(match).every(([k, v]) => s.info.labels[k] === v)) continue;
      const { times, values } = s;
      const a = lowerBound(times, from);
      let b = lowerBound(times, to);
      if (b < times.length && times[b] === to) b++;
      const points: Array<[number, number]> = [];
      if (b - a <= 2 * width) {
        for (let i = a; i < b; i++) points.push([times[i] as number, values[i] as number]);
      } else {
        let bucket = -1;
        let lo = -1;
        let hi = -1;
        const emit = (): void => {
          if (lo < 0) return;
          if (lo === hi) points.push([times[lo] as number, values[lo] as number]);
          else {
            const [x, y] = lo < hi ? [lo, hi] : [hi, lo];
            points.push([times[x] as number, values[x] as number], [times[y] as number, values[y] as number]);
          }
        };
        for (let i = a; i < b; i++) {
          const k = Math.min(width - 1, Math.floor((((times[i] as number) - from) * width) / span));
          if (k !== bucket) {
            emit();
            bucket = k;
            lo = i;
            hi = i;
          } else {
            if ((values[i] as number) < (values[lo] as number)) lo = i;
            if ((values[i] as number) > (values[hi] as number)) hi = i;
          }
        }
        emit();
      }
      out.push({ series: s.info, points });
    }
    return out;
  }

  /** Series with their totals, for the Prometheus exposition. */
  totals(): Array<{ series: SeriesInfo; total: number; last: number | null }> {
    return [...this.series.values()].map((s) => ({ series: s.info, total: s.total, last: s.times[s.times.length - 1] ?? null }));
  }

  /** Calls `listener` for every accepted point from now on; returns the unsubscribe. */
  subscribe(listener: (u: PointUpdate) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }
}
