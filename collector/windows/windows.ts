/**
 * Event-time tumbling windows, pure: a 1 s base resolution and coarser tiers (10 s, 1 min, 1 h
 * by default), per series, with a watermark per input partition (watermark.ts), allowed
 * lateness, early values of open windows and a final value when each window closes.
 *
 * Contract:
 * - `add(partition, series, time, value, now)` puts one observation into the window of each
 *   tier that holds `time`. It is late when its base (finest) window has already closed, i.e.
 *   `watermark >= end + latenessMs`: it is then added to no tier (so tiers stay consistent with
 *   each other), counted in `counters.late` and in the late counts `flush` hands out.
 * - `flush(now, final)` advances the watermark, then returns, oldest first: an early value
 *   (`final: false`) for every open window that changed since the last flush (when `early`), and
 *   the final value (`final: true`) of every window whose end plus lateness the watermark passed,
 *   which is then forgotten. `final = true` (stop) closes every window. Early and final values of
 *   one window carry the same start and length, so a reader replaces, never adds, them.
 * - The returned values own fresh copies of nothing: their `agg` is the window's state, handed
 *   over for a final value and shared (read-only) for an early one.
 *
 * Bounded: at most `maxWindows` open (series, tier, start) windows. An observation that would
 * need more is dropped whole (no tier gets it) and counted in `counters.overflow`.
 */
import { addSummary, addValue, emptyAgg, type AggState } from '../aggregates/aggregate.js';
import type { SketchOptions } from '../aggregates/ddsketch.js';
import type { WindowValue } from '../aggregates/partial.js';
import type { SeriesRef } from '../series.js';
import { Watermarks } from './watermark.js';

export const DEFAULT_TIERS_MS: readonly number[] = [1000, 10_000, 60_000, 3_600_000];

export interface WindowOptions {
  /** Window lengths, finest first; each a multiple of the first. */
  readonly tiersMs?: readonly number[];
  readonly latenessMs?: number;
  readonly idleTimeoutMs?: number;
  readonly maxWindows?: number;
  readonly maxPartitions?: number;
  /** Emit early values of open windows on flush. */
  readonly early?: boolean;
  /** Keep a DDSketch per window (quantiles), or not. */
  readonly sketch?: SketchOptions | false;
}

export interface WindowCounters {
  added: number;
  late: number;
  overflow: number;
}

export interface LateCount {
  /** The metric whose observations came late. */
  readonly name: string;
  readonly count: number;
}

export interface FlushResult {
  readonly windows: WindowValue[];
  /** Late observations since the previous flush, by metric name. */
  readonly late: LateCount[];
  readonly watermark: number;
}

interface Win {
  readonly series: SeriesRef;
  readonly tier: number;
  readonly start: number;
  readonly agg: AggState;
  dirty: boolean;
  /** Cleared when flush closes the window, so a cached reference to it is seen to be stale. */
  open: boolean;
}

/** Most series whose current windows are remembered (a cache: when full it starts over). */
const MAX_RECENT = 4096;

export interface Summary {
  count: number;
  sum: number;
  min?: number | undefined;
  max?: number | undefined;
  values?: readonly (readonly [number, number])[];
}

export class EventTimeWindows {
  readonly tiers: readonly number[];
  readonly latenessMs: number;
  readonly watermarks: Watermarks;
  readonly counters: WindowCounters = { added: 0, late: 0, overflow: 0 };
  private readonly maxWindows: number;
  private readonly early: boolean;
  private readonly sketch: SketchOptions | false;
  private readonly open = new Map<string, Win>();
  private readonly lateByName = new Map<string, number>();
  private readonly keys: string[];
  private readonly found: (Win | undefined)[];
  /**
   * Each series' windows from its last observation, one per tier. Observations of a series
   * mostly fall in the windows its previous one did, and then no `tier|start|series` key is
   * built or hashed: that string and the two lookups by it were about 15 % of parse + rollup
   * in bench/parse.mjs. `open` (the map above) stays the source of truth; this only skips to it.
   */
  private readonly recent = new Map<SeriesRef, Win[]>();

  constructor(opts: WindowOptions = {}) {
    const tiers = [...(opts.tiersMs ?? DEFAULT_TIERS_MS)].sort((a, b) => a - b);
    const base = tiers[0];
    if (base === undefined || !(base > 0) || tiers.some((t) => t % base !== 0)) throw new RangeError('tiers must be positive multiples of the finest one');
    this.tiers = tiers;
    this.latenessMs = Math.max(0, opts.latenessMs ?? 1000);
    this.maxWindows = Math.max(1, opts.maxWindows ?? 100_000);
    this.early = opts.early ?? true;
    this.sketch = opts.sketch ?? false;
    this.watermarks = new Watermarks({ idleTimeoutMs: Math.max(0, opts.idleTimeoutMs ?? 5000), maxPartitions: Math.max(1, opts.maxPartitions ?? 1024) });
    this.keys = new Array<string>(tiers.length);
    this.found = new Array<Win | undefined>(tiers.length);
  }

  get openWindows(): number {
    return this.open.size;
  }

  /** Adds one value (or a pre-aggregated summary) of `series` at event time `time`. */
  add(partition: string, series: SeriesRef, time: number, value: number, now: number, summary?: Summary): 'ok' | 'late' | 'overflow' {
    const base = this.tiers[0]!;
    const baseStart = Math.floor(time / base) * base;
    if (this.watermarks.current >= baseStart + base + this.latenessMs) {
      this.counters.late++;
      // Bounded by metric names; past 1024 of them (between two flushes) they share one entry.
      const name = this.lateByName.has(series.name) || this.lateByName.size < 1024 ? series.name : '__overflow__';
      this.lateByName.set(name, (this.lateByName.get(name) ?? 0) + 1);
      return 'late';
    }
    let wins = this.recent.get(series);
    let missing = 0;
    for (let i = 0; i < this.tiers.length; i++) {
      const tier = this.tiers[i]!;
      const start = Math.floor(time / tier) * tier;
      const cached = wins?.[i];
      if (cached !== undefined && cached.start === start && cached.open) {
        this.found[i] = cached;
        continue;
      }
      const key = `${tier}|${start}|${series.id}`;
      this.keys[i] = key;
      const w = this.open.get(key);
      this.found[i] = w;
      if (w === undefined) missing++;
    }
    if (missing > 0 && this.open.size + missing > this.maxWindows) {
      this.counters.overflow++;
      return 'overflow';
    }
    this.watermarks.observe(partition, time, now);
    if (wins === undefined) {
      if (this.recent.size >= MAX_RECENT) this.recent.clear();
      wins = new Array<Win>(this.tiers.length);
      this.recent.set(series, wins);
    }
    for (let i = 0; i < this.tiers.length; i++) {
      let w = this.found[i];
      if (w === undefined) {
        const tier = this.tiers[i]!;
        w = { series, tier, start: Math.floor(time / tier) * tier, agg: emptyAgg(this.sketch), dirty: false, open: true };
        this.open.set(this.keys[i]!, w);
      }
      wins[i] = w;
      this.found[i] = undefined;
      if (summary === undefined) addValue(w.agg, time, value);
      else addSummary(w.agg, time, summary);
      w.dirty = true;
    }
    this.counters.added++;
    return 'ok';
  }

  flush(now: number, final: boolean): FlushResult {
    const wm = this.watermarks.advance(now);
    const windows: WindowValue[] = [];
    for (const [key, w] of this.open) {
      const end = w.start + w.tier;
      if (final || wm >= end + this.latenessMs) {
        windows.push(value(w, true));
        w.open = false;
        this.open.delete(key);
      } else if (w.dirty && this.early) {
        w.dirty = false;
        windows.push(value(w, false));
      }
    }
    windows.sort((a, b) => a.start + a.window_ms - (b.start + b.window_ms) || a.window_ms - b.window_ms);
    const late: LateCount[] = [];
    for (const [name, count] of this.lateByName) late.push({ name, count });
    this.lateByName.clear();
    return { windows, late, watermark: wm };
  }
}

function value(w: Win, final: boolean): WindowValue {
  return { series_id: w.series.id, name: w.series.name, labels: w.series.labels, start: w.start, window_ms: w.tier, agg: w.agg, final };
}
