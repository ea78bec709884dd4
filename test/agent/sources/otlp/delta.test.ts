import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CumulativeToDelta, downscale } from '../../../../agent/sources/otlp/delta.js';
import type { ExponentialHistogramPoint, HistogramPoint, MetricPoint, SumPoint } from '../../../../core/model.js';

const sum = (value: number, time: number, start?: number, attrs: Record<string, string> = {}): SumPoint => ({
  kind: 'metric', type: 'sum', name: 'c', temporality: 'cumulative', monotonic: true, value, time, attributes: attrs, resource: {},
  ...(start !== undefined ? { start_time: start } : {}),
});
const values = (ps: (MetricPoint | undefined)[]): (number | undefined)[] => ps.map((p) => (p?.type === 'sum' ? p.value : undefined));

describe('cumulative → delta', () => {
  it('uses the first point as a baseline, then subtracts', () => {
    const d = new CumulativeToDelta(1000);
    expect(values([sum(10, 2000, 500), sum(15, 3000, 500), sum(15, 4000, 500)].map((p) => d.convert(p)))).toEqual([undefined, 5, 0]);
    expect(d.stats.baseline).toBe(1);
  });

  it('emits the whole first value when the series started after the converter', () => {
    const d = new CumulativeToDelta(1000);
    expect(d.convert(sum(7, 2000, 1500))).toMatchObject({ temporality: 'delta', value: 7, start_time: 1500 });
  });

  it('detects a sender restart by a later start time, even when the value grew', () => {
    const d = new CumulativeToDelta(0);
    d.convert(sum(10, 2000, 100));
    // Restarted at 2500 and already counted 12: the delta is all 12, not 2.
    expect(d.convert(sum(12, 3000, 2500))).toMatchObject({ value: 12, start_time: 2500 });
    expect(d.stats.resets).toBe(1);
  });

  it('detects a reset by a lower value when there are no start times (Prometheus)', () => {
    const d = new CumulativeToDelta(0);
    expect(values([sum(10, 1), sum(20, 2), sum(3, 3), sum(8, 4)].map((p) => d.convert(p)))).toEqual([undefined, 10, 3, 5]);
  });

  it('drops duplicates and reordered points', () => {
    const d = new CumulativeToDelta(0);
    d.convert(sum(10, 2000));
    expect(d.convert(sum(10, 2000))).toBeUndefined();
    expect(d.convert(sum(9, 1000))).toBeUndefined();
    expect(d.stats.outOfOrder).toBe(2);
  });

  it('keeps series apart by attributes and evicts the least recently seen beyond its bound', () => {
    const d = new CumulativeToDelta(0, 2);
    d.convert(sum(1, 1, undefined, { k: 'a' }));
    d.convert(sum(1, 1, undefined, { k: 'b' }));
    d.convert(sum(2, 2, undefined, { k: 'a' })); // a is now the most recent
    d.convert(sum(1, 1, undefined, { k: 'c' })); // evicts b
    expect(d.stats.evicted).toBe(1);
    expect(d.convert(sum(5, 3, undefined, { k: 'a' }))).toMatchObject({ value: 3 });
    expect(d.convert(sum(5, 3, undefined, { k: 'b' }))).toBeUndefined(); // b starts over as a baseline
  });

  it('subtracts histograms bucket by bucket and treats a lower count as a reset', () => {
    const h = (count: number, counts: number[], time: number): HistogramPoint => ({
      kind: 'metric', type: 'histogram', name: 'h', temporality: 'cumulative', count, sum: count, bucket_bounds: [1, 2], bucket_counts: counts, time, attributes: {}, resource: {},
    });
    const d = new CumulativeToDelta(0);
    d.convert(h(3, [1, 1, 1], 1));
    expect(d.convert(h(6, [2, 3, 1], 2))).toMatchObject({ temporality: 'delta', count: 3, sum: 3, bucket_counts: [1, 2, 0] });
    expect(d.convert(h(2, [1, 1, 0], 3))).toMatchObject({ count: 2, bucket_counts: [1, 1, 0] });
  });

  it('subtracts exponential histograms across a scale change', () => {
    const e = (scale: number, offset: number, counts: number[], time: number): ExponentialHistogramPoint => ({
      kind: 'metric', type: 'exponential_histogram', name: 'e', temporality: 'cumulative', count: counts.reduce((a, b) => a + b, 0), scale, zero_count: 0,
      positive: { offset, bucket_counts: counts }, negative: { offset: 0, bucket_counts: [] }, time, attributes: {}, resource: {},
    });
    const d = new CumulativeToDelta(0);
    d.convert(e(1, 2, [1, 1], 1)); // indexes 2,3 at scale 1 → index 1 at scale 0
    expect(d.convert(e(0, 1, [4, 1], 2))).toMatchObject({ scale: 0, count: 3, positive: { offset: 1, bucket_counts: [2, 1] } });
    expect(downscale({ offset: -3, bucket_counts: [1, 2, 3, 4] }, 1)).toEqual({ offset: -2, bucket_counts: [1, 5, 4] });
  });

  it('deltas always add up to the cumulative total since the last reset (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(1000), { minLength: 1, maxLength: 50 }), (increments) => {
        const d = new CumulativeToDelta(0);
        let total = 0;
        let emitted = 0;
        increments.forEach((inc, i) => {
          total += inc;
          const out = d.convert(sum(total, i + 1));
          if (out?.type === 'sum') emitted += out.value;
        });
        // The first point is the baseline: everything after it arrives as deltas.
        expect(emitted).toBe(total - increments[0]!);
      }),
    );
  });
});
