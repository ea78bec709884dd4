/**
 * Merges rollup partials (tw-type `rollups`) into one value per (series, window), pure.
 *
 * Rule (collector/ingest/core.ts writes partials this way): within one `source_instance`, a
 * later partial replaces the earlier one (partials are cumulative); across source_instances
 * they add up: counts and sums add, min/max take the extremes, `last` is the latest partial's.
 * Merging is idempotent, so a reader that reads a stretch of the topic again (a rules-stage
 * owner rebuilding after a rebalance) ends with the same totals.
 *
 * Bounded: at most `maxWindows` (series, window) entries; beyond it the oldest windows are
 * evicted and counted.
 */
import type { RollupPartial } from '../../core/wire.js';

/** One (series, window) merged over its source instances; the partial's fields, minus whose it was. */
export type MergedWindow = Omit<RollupPartial, 'source_instance' | 'sketch' | 'final'> & {
  /** Every contributing instance sent its final partial. */
  final: boolean;
  /** Number of source instances that contributed. */
  sources: number;
};

interface Entry {
  readonly parts: Map<string, RollupPartial>;
  merged: MergedWindow;
}

export class PartialMerger {
  private readonly entries = new Map<string, Entry>();
  evicted = 0;

  constructor(private readonly maxWindows = 100_000) {}

  get size(): number {
    return this.entries.size;
  }

  /** Adds a partial; returns the window's merged value after it. */
  add(p: RollupPartial): MergedWindow {
    const key = `${p.series_id}|${p.window_start}`;
    let e = this.entries.get(key);
    if (e === undefined) {
      if (this.entries.size >= this.maxWindows) this.evictOldest();
      e = { parts: new Map(), merged: undefined as unknown as MergedWindow };
      this.entries.set(key, e);
    }
    e.parts.set(p.source_instance, p);
    e.merged = mergeParts(p, e.parts);
    return e.merged;
  }

  get(seriesId: string, windowStart: number): MergedWindow | undefined {
    return this.entries.get(`${seriesId}|${windowStart}`)?.merged;
  }

  windows(): IterableIterator<MergedWindow> {
    const it = this.entries.values();
    return (function* () {
      for (const e of it) yield e.merged;
    })();
  }

  /** Drops windows that started before `before` (a reader keeps recent history only). */
  prune(before: number): void {
    for (const [k, e] of this.entries) if (e.merged.window_start < before) this.entries.delete(k);
  }

  private evictOldest(): void {
    let oldestKey: string | undefined;
    let oldest = Number.POSITIVE_INFINITY;
    for (const [k, e] of this.entries) {
      if (e.merged.window_start < oldest) {
        oldest = e.merged.window_start;
        oldestKey = k;
      }
    }
    if (oldestKey !== undefined) {
      this.entries.delete(oldestKey);
      this.evicted++;
    }
  }
}

function mergeParts(latest: RollupPartial, parts: Map<string, RollupPartial>): MergedWindow {
  const m: MergedWindow = {
    series_id: latest.series_id,
    name: latest.name,
    labels: latest.labels,
    window_start: latest.window_start,
    window_ms: latest.window_ms,
    count: 0,
    sum: 0,
    min: Number.POSITIVE_INFINITY,
    max: Number.NEGATIVE_INFINITY,
    last: latest.last,
    final: true,
    sources: parts.size,
  };
  for (const p of parts.values()) {
    m.count += p.count;
    m.sum += p.sum;
    if (p.min < m.min) m.min = p.min;
    if (p.max > m.max) m.max = p.max;
    if (!p.final) m.final = false;
  }
  return m;
}
