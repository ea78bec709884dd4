/**
 * Window aggregates ⇄ RollupPartial wire records (core/wire.ts, docs/wire-format.md), pure.
 *
 * `partialFrom(window, instance)` is what an ingest stage publishes per (series, window);
 * `mergePartials(parts)` is what the rules stage and the dashboard compute from what they read:
 * within one `source_instance` a later partial replaces an earlier one (partials are cumulative,
 * and a `final` one replaces the early ones), across instances they merge as AggStates do.
 *
 * The `sketch` field is opaque to the wire (its format belongs to the rollup code). It carries
 * base64 of `[2, last_time, ddsketch|null]`: the event time of `last`, which the wire record
 * lacks and without which two instances' `last` values cannot be ordered, and the quantile
 * sketch when the window keeps one. A partial without it (an older writer) still merges; its
 * `last` then counts as of the window's end.
 */
import type { RollupPartial } from '../../core/wire.js';
import { type AggState, emptyAgg, mergeInto } from './aggregate.js';
import { DDSketch } from './ddsketch.js';

const PAYLOAD_VERSION = 2;

/** One series' window as the windows module hands it out. */
export interface WindowValue {
  readonly series_id: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Window start, epoch ms. */
  readonly start: number;
  readonly window_ms: number;
  readonly agg: AggState;
  /** false for an early value of the open window, true once it closed. */
  readonly final: boolean;
}

export function partialFrom(w: WindowValue, sourceInstance: string): RollupPartial {
  const a = w.agg;
  const empty = a.count === 0;
  return {
    series_id: w.series_id,
    name: w.name,
    labels: { ...w.labels },
    window_start: w.start,
    window_ms: w.window_ms,
    count: a.count,
    sum: a.sum,
    // An empty window has no extremes; 0 keeps the wire's finite-number rule and count 0 says why.
    min: empty ? 0 : a.min,
    max: empty ? 0 : a.max,
    last: empty ? 0 : a.last,
    sketch: encodePayload(a),
    final: w.final,
    source_instance: sourceInstance,
  };
}

/** The RollupPartial records of a flush's windows (RollupCore.flushWindows, EventTimeWindows.flush). */
export function partialsFrom(windows: readonly WindowValue[], sourceInstance: string): RollupPartial[] {
  return windows.map((w) => partialFrom(w, sourceInstance));
}

function encodePayload(a: AggState): string {
  const sk = a.sketch === undefined ? null : JSON.parse(Buffer.from(a.sketch.encode(), 'base64').toString('utf8'));
  return Buffer.from(JSON.stringify([PAYLOAD_VERSION, Number.isFinite(a.lastTime) ? a.lastTime : null, sk])).toString('base64');
}

/** The AggState a partial carries. Throws RangeError when its sketch payload is malformed (count and drop). */
export function aggOfPartial(p: RollupPartial): AggState {
  const a = emptyAgg(false);
  if (p.count === 0) return a;
  a.count = p.count;
  a.sum = p.sum;
  a.min = p.min;
  a.max = p.max;
  a.last = p.last;
  a.lastTime = p.window_start + p.window_ms;
  if (p.sketch !== undefined) {
    let v: unknown;
    try {
      v = JSON.parse(Buffer.from(p.sketch, 'base64').toString('utf8'));
    } catch {
      throw new RangeError('rollup payload: not base64 JSON');
    }
    if (!Array.isArray(v) || v[0] !== PAYLOAD_VERSION || v.length !== 3) throw new RangeError('rollup payload: unknown encoding');
    if (typeof v[1] === 'number' && Number.isFinite(v[1])) a.lastTime = v[1];
    if (v[2] !== null) a.sketch = DDSketch.decode(Buffer.from(JSON.stringify(v[2])).toString('base64'));
  }
  return a;
}

/**
 * The merged state of one (series, window) from its partials, in the order read: per instance
 * the last partial read wins, except that an early partial never replaces that instance's final.
 * `final` is true when every contributing instance sent its final partial.
 */
export function mergePartials(parts: readonly RollupPartial[]): { agg: AggState; final: boolean; sources: number } {
  const latest = new Map<string, RollupPartial>();
  for (const p of parts) mergePartial(latest, p);
  const agg = emptyAgg(false);
  let final = latest.size > 0;
  for (const p of latest.values()) {
    mergeInto(agg, aggOfPartial(p));
    if (!p.final) final = false;
  }
  return { agg, final, sources: latest.size };
}

/** Folds one partial into the per-instance latest map of its (series, window); returns whether it was taken. */
export function mergePartial(latest: Map<string, RollupPartial>, p: RollupPartial): boolean {
  const prev = latest.get(p.source_instance);
  if (prev !== undefined && prev.final && !p.final) return false;
  latest.set(p.source_instance, p);
  return true;
}
