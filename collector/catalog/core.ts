/**
 * The pattern catalog's merge logic. Pure: observations in, catalog records (and observations to
 * forward) out; no I/O, no clock. The catalog stage (stage.ts) runs one per observations
 * partition, as the only writer of that partition's keys; the embedded `patterns` sink runs one
 * for the whole process.
 *
 * A catalog record per pattern id (core/wire.ts PatternRecord) holds the merged count over every
 * collector instance, the first and last record time, the first sample, labels (the first value
 * of each key), and the counts of the last `maxWindows` windows.
 *
 * Aliases. When a miner merges clusters, the merged ids become aliases of the new template's id
 * (miner.ts). An observation with `alias_of` turns the catalog entry into an alias for good: what
 * it counted so far is forwarded to the target id, and so is everything observed under the old
 * id later (an instance that has not merged yet, or a miner that restarted and learns the
 * narrower template again), so the live record's count covers every line of the merged pattern
 * and an id once shown keeps resolving to the same pattern. The first alias wins; a later,
 * different one is counted as a conflict and ignored (its lines still reach the first target).
 * Forwards go through the observations topic to the target's own writer; `hops` bounds a chain
 * (a cycle would need a merge that makes a template narrower, which miners do not do).
 *
 * Bounded: `maxPatterns` entries (new ids beyond it are dropped and counted), `maxWindows`
 * windows per entry (the oldest go first), `maxLabels` label keys per entry.
 */
import type { PatternRecord } from '../../core/wire.js';
import { PATTERN_WINDOW_MS, type PatternObservation } from './observation.js';

export interface CatalogOptions {
  readonly maxPatterns: number;
  /** Windows kept per pattern; beyond it the oldest are dropped (counted). */
  readonly maxWindows: number;
  readonly windowMs: number;
  readonly maxLabels: number;
  /** An observation forwarded this many times is not forwarded again (counted as a loop). */
  readonly maxHops: number;
}

export const DEFAULT_CATALOG_OPTIONS: CatalogOptions = {
  maxPatterns: 100_000,
  maxWindows: 60,
  windowMs: PATTERN_WINDOW_MS,
  maxLabels: 16,
  maxHops: 8,
};

export interface CatalogCounters {
  observations: number;
  /** Observations of new ids dropped because `maxPatterns` entries exist. */
  overflow: number;
  /** Observations naming an alias target other than the entry's first one. */
  aliasConflicts: number;
  /** Observations not forwarded because they had gone `maxHops` times already. */
  loops: number;
  /** Window counts dropped from an entry that held `maxWindows` newer windows. */
  windowsDropped: number;
}

interface Entry {
  rec: PatternRecord;
  windows: Map<number, number>;
}

export interface CatalogChanges {
  /** The current record of every id changed since the previous drain (copies: the caller owns them). */
  records: PatternRecord[];
  /** Observations for alias targets, to deliver to the targets' writers (the caller owns them). */
  forwards: PatternObservation[];
}

export class CatalogCore {
  readonly options: CatalogOptions;
  readonly counters: CatalogCounters = { observations: 0, overflow: 0, aliasConflicts: 0, loops: 0, windowsDropped: 0 };
  private readonly entries = new Map<string, Entry>();
  private readonly changed = new Set<string>();
  private forwards: PatternObservation[] = [];

  constructor(options: Partial<CatalogOptions> = {}) {
    this.options = { ...DEFAULT_CATALOG_OPTIONS, ...options };
  }

  get size(): number {
    return this.entries.size;
  }

  /** The current record of `id` (a copy), or undefined. */
  get(id: string): PatternRecord | undefined {
    const e = this.entries.get(id);
    return e === undefined ? undefined : this.record(e);
  }

  /** True when a drain would return something. */
  get pending(): boolean {
    return this.changed.size > 0 || this.forwards.length > 0;
  }

  /** Loads a record written earlier (a restart reading the compacted catalog); not a change. */
  restore(rec: PatternRecord): boolean {
    let e = this.entries.get(rec.pattern_id);
    if (e === undefined) {
      if (this.entries.size >= this.options.maxPatterns) {
        this.counters.overflow++;
        return false;
      }
      e = { rec: { ...rec }, windows: new Map() };
      this.entries.set(rec.pattern_id, e);
    }
    e.rec = { ...rec, labels: { ...rec.labels } };
    delete e.rec.windows;
    e.windows = new Map(rec.windows ?? []);
    return true;
  }

  apply(o: PatternObservation): void {
    this.counters.observations++;
    let e = this.entries.get(o.pattern_id);
    if (e === undefined) {
      if (this.entries.size >= this.options.maxPatterns) {
        this.counters.overflow++;
        return;
      }
      e = { rec: { pattern_id: o.pattern_id, template: o.template, count: 0, first_seen: o.first_seen, last_seen: o.last_seen, labels: {} }, windows: new Map() };
      this.entries.set(o.pattern_id, e);
    }
    const r = e.rec;
    if (r.template === '' && o.template !== '') {
      r.template = o.template;
      this.changed.add(o.pattern_id);
    }
    const target = o.alias_of !== undefined && o.alias_of !== o.pattern_id ? o.alias_of : undefined;
    if (target !== undefined) {
      if (r.alias_of === undefined) {
        r.alias_of = target;
        this.changed.add(o.pattern_id);
        // Everything counted under this id so far moves to the target, once.
        if (r.count > 0) this.forward(target, o.hops, { template: '', count: r.count, first_seen: r.first_seen, last_seen: r.last_seen, labels: r.labels, windows: this.sortedWindows(e), ...(r.sample !== undefined ? { sample: r.sample } : {}) });
        e.windows.clear();
      } else if (target !== r.alias_of) this.counters.aliasConflicts++;
    }
    if (o.count === 0) {
      // No line yet under this id: the times span what was observed, whatever the order.
      if (r.count === 0) {
        r.first_seen = Math.min(r.first_seen, o.first_seen);
        r.last_seen = Math.max(r.last_seen, o.last_seen);
      }
      return;
    }
    this.changed.add(o.pattern_id);
    if (r.count === 0) {
      // Times of an entry that an alias-only observation created are not times of any line.
      r.first_seen = o.first_seen;
      r.last_seen = o.last_seen;
    }
    r.count += o.count;
    if (o.first_seen < r.first_seen) r.first_seen = o.first_seen;
    if (o.last_seen > r.last_seen) r.last_seen = o.last_seen;
    if (r.alias_of !== undefined) {
      this.forward(r.alias_of, o.hops, { template: '', count: o.count, first_seen: o.first_seen, last_seen: o.last_seen, labels: o.labels, windows: o.windows, ...(o.sample !== undefined ? { sample: o.sample } : {}) });
      return;
    }
    if (r.sample === undefined && o.sample !== undefined) r.sample = o.sample;
    let n = Object.keys(r.labels).length;
    for (const [k, v] of Object.entries(o.labels)) {
      if (k in r.labels || n >= this.options.maxLabels) continue;
      r.labels[k] = v;
      n++;
    }
    this.addWindows(e, o.windows);
  }

  /** What changed since the previous drain; clears it. */
  drain(): CatalogChanges {
    const records: PatternRecord[] = [];
    for (const id of this.changed) {
      const e = this.entries.get(id);
      if (e !== undefined) records.push(this.record(e));
    }
    this.changed.clear();
    const forwards = this.forwards;
    this.forwards = [];
    return { records, forwards };
  }

  private forward(target: string, hops: number, o: Omit<PatternObservation, 'pattern_id' | 'hops'>): void {
    if (hops + 1 > this.options.maxHops) {
      this.counters.loops++;
      return;
    }
    this.forwards.push({ ...o, labels: { ...o.labels }, windows: o.windows.map(([s, c]): [number, number] => [s, c]), pattern_id: target, hops: hops + 1 });
  }

  private addWindows(e: Entry, windows: readonly (readonly [number, number])[]): void {
    const w = this.options.windowMs;
    for (const [start, n] of windows) {
      const s = Math.floor(start / w) * w;
      e.windows.set(s, (e.windows.get(s) ?? 0) + n);
    }
    if (e.windows.size <= this.options.maxWindows) return;
    const starts = [...e.windows.keys()].sort((a, b) => a - b);
    for (const s of starts.slice(0, starts.length - this.options.maxWindows)) {
      e.windows.delete(s);
      this.counters.windowsDropped++;
    }
  }

  private sortedWindows(e: Entry): [number, number][] {
    return [...e.windows.entries()].sort((a, b) => a[0] - b[0]);
  }

  private record(e: Entry): PatternRecord {
    const r: PatternRecord = { ...e.rec, labels: { ...e.rec.labels } };
    if (e.windows.size > 0) r.windows = this.sortedWindows(e);
    return r;
  }
}
