import { describe, expect, it } from 'vitest';
import { DDSketch } from '../../../collector/aggregates/ddsketch.js';
import { aggregateValue, emptyAgg, addValue, addSummary, isAggregateName } from '../../../collector/aggregates/aggregate.js';

describe('DDSketch', () => {
  it('answers quantiles of a heavy-tailed sample within its relative accuracy', () => {
    const s = new DDSketch({ relativeAccuracy: 0.02 });
    const xs: number[] = [];
    let seed = 7;
    for (let i = 0; i < 20_000; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      const x = Math.exp((seed / 2 ** 31) * 12) - 0.5; // 0.5 .. 160 000, log-uniform-ish
      xs.push(x);
      s.add(x);
    }
    xs.sort((a, b) => a - b);
    for (const q of [0, 0.1, 0.5, 0.9, 0.99, 0.999, 1]) {
      const exact = xs[Math.floor(q * (xs.length - 1))]!;
      expect(Math.abs(s.quantile(q) - exact)).toBeLessThanOrEqual(0.02 * Math.abs(exact) + 1e-9);
    }
  });

  it('orders negative values, zeros and positive values', () => {
    const s = new DDSketch();
    for (const v of [-100, -1, 0, 0, 1, 100]) s.add(v);
    expect(s.quantile(0)).toBeCloseTo(-100, 0);
    expect(s.quantile(0.4)).toBe(0);
    expect(s.quantile(1)).toBeCloseTo(100, 0);
    expect(new DDSketch().quantile(0.5)).toBeNaN();
  });

  it('round-trips its encoding and rejects bytes that are not one', () => {
    const s = new DDSketch();
    for (const v of [1, 2, 3, -4, 0, 1e6]) s.add(v);
    const d = DDSketch.decode(s.encode());
    expect(d.equals(s)).toBe(true);
    expect(() => DDSketch.decode('AAAA')).toThrow(RangeError);
    expect(() => DDSketch.decode(Buffer.from('[1,0.01,0,0,[1.5,2],[]]').toString('base64'))).toThrow(RangeError);
  });

  it('is bounded: beyond max buckets the lowest collapse (counted) and high quantiles keep their accuracy', () => {
    const s = new DDSketch({ relativeAccuracy: 0.01, maxBuckets: 64 });
    for (let i = 1; i <= 10_000; i++) s.add(i);
    expect(s.pos.size).toBeLessThanOrEqual(64);
    expect(s.collapsed).toBeGreaterThan(0);
    expect(s.count).toBe(10_000);
    expect(Math.abs(s.quantile(0.99) - 9900)).toBeLessThanOrEqual(0.01 * 9900 + 1);
  });

  it('refuses to merge sketches of different accuracy', () => {
    expect(() => new DDSketch({ relativeAccuracy: 0.01 }).merge(new DDSketch({ relativeAccuracy: 0.02 }))).toThrow(RangeError);
  });
});

describe('aggregates', () => {
  it('derives count, sum, min, max, last, avg, rate and quantiles from one state', () => {
    const s = emptyAgg({ relativeAccuracy: 0.01 });
    for (const [t, v] of [[3, 5], [1, 1], [2, 9]] as const) addValue(s, t, v);
    expect(aggregateValue(s, 'count', 1000)).toBe(3);
    expect(aggregateValue(s, 'sum', 1000)).toBe(15);
    expect(aggregateValue(s, 'min', 1000)).toBe(1);
    expect(aggregateValue(s, 'max', 1000)).toBe(9);
    expect(aggregateValue(s, 'last', 1000)).toBe(5); // latest by event time, not arrival
    expect(aggregateValue(s, 'avg', 1000)).toBe(5);
    expect(aggregateValue(s, 'rate', 10_000)).toBe(1.5);
    expect(Math.abs(aggregateValue(s, 'p50', 1000) - 5)).toBeLessThanOrEqual(0.05);
    expect(aggregateValue(emptyAgg(), 'max', 1000)).toBeNaN();
    expect(aggregateValue(emptyAgg(), 'p99', 1000)).toBeNaN();
  });

  it('takes histogram points with their own count and sum', () => {
    const s = emptyAgg({ relativeAccuracy: 0.01 });
    addSummary(s, 10, { count: 4, sum: 2, values: [[0.1, 3], [1, 1]] });
    expect(s.count).toBe(4);
    expect(s.sum).toBe(2);
    expect(s.sketch!.quantile(1)).toBeCloseTo(1, 1);
  });

  it('names aggregates strictly', () => {
    expect(['count', 'rate', 'p99', 'p99.9', 'p0', 'p100'].every(isAggregateName)).toBe(true);
    expect(['p101', 'median', 'p', 'P99'].some(isAggregateName)).toBe(false);
  });
});
