import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addValue, aggregateValue, emptyAgg, mergeAgg, type AggState } from '../../../collector/aggregates/aggregate.js';
import { aggOfPartial, mergePartials, partialFrom } from '../../../collector/aggregates/partial.js';
import { decodeRollup, encodeRollup } from '../../../core/wire.js';

// Observations: (event time, value). Integer-valued doubles keep sums exact in any order, so
// "merge = aggregate of the union" can be asserted with equality, not a tolerance.
const obs = fc.record({ t: fc.integer({ min: 0, max: 999 }), v: fc.integer({ min: -1_000_000, max: 1_000_000 }) });
// A partition of the observations among up to 5 collector instances.
const split = fc.array(fc.tuple(obs, fc.integer({ min: 0, max: 4 })), { minLength: 1, maxLength: 200 });

const ALPHA = 0.01;

function aggOf(xs: readonly { t: number; v: number }[]): AggState {
  const s = emptyAgg({ relativeAccuracy: ALPHA });
  for (const x of xs) addValue(s, x.t, x.v);
  return s;
}

function parts(pairs: readonly [{ t: number; v: number }, number][]): { t: number; v: number }[][] {
  const out: { t: number; v: number }[][] = [[], [], [], [], []];
  for (const [o, i] of pairs) out[i]!.push(o);
  return out.filter((p) => p.length > 0);
}

function exactQuantile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(q * (s.length - 1))]!;
}

describe('merge(partials) = aggregate(union)', () => {
  it('holds for count, sum, min, max, last, avg and rate, and the sketches are equal bucket for bucket', () => {
    fc.assert(
      fc.property(split, (pairs) => {
        const union = aggOf(pairs.map(([o]) => o));
        const merged = mergeAgg(parts(pairs).map(aggOf));
        for (const a of ['count', 'sum', 'min', 'max', 'last', 'avg', 'rate'] as const) {
          expect(aggregateValue(merged, a, 1000)).toBe(aggregateValue(union, a, 1000));
        }
        expect(merged.sketch!.equals(union.sketch!)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('is order-independent (commutative and associative), including last on equal times', () => {
    fc.assert(
      fc.property(split, fc.integer({ min: 0, max: 1000 }), (pairs, seed) => {
        const ps = parts(pairs).map(aggOf);
        const shuffled = [...ps].sort((a, b) => ((a.count * 7919 + seed) % 13) - ((b.count * 7919 + seed) % 13));
        const a = mergeAgg(ps);
        const b = mergeAgg([mergeAgg(shuffled.slice(0, 1)), mergeAgg(shuffled.slice(1))]);
        expect([b.count, b.sum, b.min, b.max, b.last, b.lastTime]).toEqual([a.count, a.sum, a.min, a.max, a.last, a.lastTime]);
        expect(b.sketch!.equals(a.sketch!)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('quantiles of the merge are within the sketch\'s relative accuracy of the exact quantile of the union', () => {
    const pos = fc.array(fc.tuple(fc.record({ t: fc.constant(0), v: fc.double({ min: 1e-3, max: 1e9, noNaN: true }) }), fc.integer({ min: 0, max: 4 })), { minLength: 1, maxLength: 300 });
    fc.assert(
      fc.property(pos, fc.constantFrom(0, 0.5, 0.9, 0.99, 1), (pairs, q) => {
        const merged = mergeAgg(parts(pairs).map(aggOf));
        const exact = exactQuantile(pairs.map(([o]) => o.v), q);
        const got = merged.sketch!.quantile(q);
        expect(Math.abs(got - exact)).toBeLessThanOrEqual(ALPHA * exact * (1 + 1e-9));
      }),
      { numRuns: 300 },
    );
  });

  it('holds through the wire: RollupPartial records of each instance, encoded, decoded and merged', () => {
    fc.assert(
      fc.property(split, (pairs) => {
        const union = aggOf(pairs.map(([o]) => o));
        const recs = parts(pairs).map((xs, i) => {
          const w = { series_id: 'm{}', name: 'm', labels: {}, start: 0, window_ms: 1000, agg: aggOf(xs), final: true };
          return decodeRollup(encodeRollup(partialFrom(w, `c${i}`)).value);
        });
        const m = mergePartials(recs);
        expect(m.final).toBe(true);
        expect([m.agg.count, m.agg.sum, m.agg.min, m.agg.max, m.agg.last]).toEqual([union.count, union.sum, union.min, union.max, union.last]);
        expect(m.agg.sketch!.equals(union.sketch!)).toBe(true);
        expect(aggregateValue(m.agg, 'p99', 1000)).toBe(aggregateValue(union, 'p99', 1000));
      }),
      { numRuns: 200 },
    );
  });
});

describe('partials', () => {
  it('a later partial of one instance replaces its earlier one; a final is never replaced by an early one', () => {
    const w = (xs: number[], final: boolean, inst: string) => {
      const agg = aggOf(xs.map((v, i) => ({ t: i, v })));
      return partialFrom({ series_id: 's', name: 's', labels: {}, start: 0, window_ms: 1000, agg, final }, inst);
    };
    const m = mergePartials([w([1], false, 'a'), w([1, 2], false, 'a'), w([10], true, 'b'), w([1, 2, 3], true, 'a'), w([1, 2, 3, 4], false, 'a')]);
    expect(m.agg.count).toBe(4);
    expect(m.agg.sum).toBe(16);
    expect(m.final).toBe(true);
    expect(m.sources).toBe(2);
    const early = mergePartials([w([1], false, 'a'), w([10], true, 'b')]);
    expect(early.final).toBe(false);
  });

  it('reads partials without a sketch payload (older writers) and rejects a malformed one', () => {
    const p = { series_id: 's', name: 's', labels: {}, window_start: 0, window_ms: 1000, count: 2, sum: 3, min: 1, max: 2, last: 2, final: true, source_instance: 'x' };
    expect(aggOfPartial(p).sum).toBe(3);
    expect(() => aggOfPartial({ ...p, sketch: 'bm90IGpzb24=' })).toThrow(RangeError);
  });
});
