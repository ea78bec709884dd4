import { describe, expect, it } from 'vitest';
import type { MetricPoint, SumPoint } from '../../core/model.js';
import { SeriesStore } from '../../dashboard/store.js';

function sum(time: number, value: number, severity = 'info', temporality: 'delta' | 'cumulative' = 'delta'): SumPoint {
  return { kind: 'metric', type: 'sum', name: 'log.records', temporality, monotonic: true, time, start_time: time - 1000, value, attributes: { severity }, resource: {} };
}

describe('SeriesStore', () => {
  it('keeps one series per name and label set, in time order', () => {
    const s = new SeriesStore();
    s.upsert(sum(1000, 1, 'info'));
    s.upsert(sum(2000, 2, 'info'));
    s.upsert(sum(1000, 5, 'error'));
    const q = s.query('log.records', 0, 10_000);
    expect(q.map((r) => [r.series.labels, r.points])).toEqual([
      [{ severity: 'info' }, [[1000, 1], [2000, 2]]],
      [{ severity: 'error' }, [[1000, 5]]],
    ]);
    expect(s.size).toBe(2);
  });

  it('replaces an early value by the later value for the same time, and totals add only the difference', () => {
    const s = new SeriesStore();
    expect(s.upsert(sum(1000, 3))).toBe('appended');
    expect(s.upsert(sum(2000, 1))).toBe('appended');
    expect(s.upsert(sum(1000, 7))).toBe('replaced');
    expect(s.upsert(sum(2000, 4))).toBe('replaced');
    expect(s.query('log.records', 0, 5000)[0]?.points).toEqual([[1000, 7], [2000, 4]]);
    expect(s.totals()[0]?.total).toBe(11);
  });

  it('inserts a point that arrives out of order inside the kept range', () => {
    const s = new SeriesStore();
    s.upsert(sum(1000, 1));
    s.upsert(sum(3000, 3));
    expect(s.upsert(sum(2000, 2))).toBe('inserted');
    expect(s.query('log.records', 0, 5000)[0]?.points).toEqual([[1000, 1], [2000, 2], [3000, 3]]);
    expect(s.totals()[0]?.total).toBe(6);
  });

  it('bounds points per series (oldest go first) and keeps the total of evicted points', () => {
    const s = new SeriesStore({ pointsPerSeries: 100 });
    for (let i = 1; i <= 1000; i++) s.upsert(sum(i * 1000, 1));
    const [info] = s.list();
    expect(info?.points).toBeLessThanOrEqual(100);
    expect(info?.points).toBeGreaterThanOrEqual(90);
    expect(info?.last).toBe(1_000_000);
    expect(info?.total).toBe(1000);
    expect(s.counters.evicted).toBe(1000 - (info?.points ?? 0));
    // A point older than the oldest kept one is late: dropped and counted.
    expect(s.upsert(sum(1000, 1))).toBe('late');
    expect(s.counters.late).toBe(1);
  });

  it('bounds the number of series and counts the overflow', () => {
    const s = new SeriesStore({ maxSeries: 2 });
    s.upsert(sum(1000, 1, 'a'));
    s.upsert(sum(1000, 1, 'b'));
    expect(s.upsert(sum(1000, 1, 'c'))).toBe('series_overflow');
    expect(s.upsert(sum(2000, 1, 'a'))).toBe('appended');
    expect(s.size).toBe(2);
    expect(s.counters.series_overflow).toBe(1);
  });

  it('keeps the last value as the total of gauges and cumulative sums', () => {
    const s = new SeriesStore();
    s.upsert({ kind: 'metric', type: 'gauge', name: 'g', time: 1000, value: 5, attributes: {}, resource: {} });
    s.upsert({ kind: 'metric', type: 'gauge', name: 'g', time: 2000, value: 3, attributes: {}, resource: {} });
    s.upsert(sum(1000, 10, 'x', 'cumulative'));
    s.upsert(sum(2000, 12, 'x', 'cumulative'));
    expect(s.totals().map((t) => t.total)).toEqual([3, 12]);
  });

  it('refuses histograms and malformed points, counted', () => {
    const s = new SeriesStore();
    const h: MetricPoint = { kind: 'metric', type: 'histogram', name: 'h', temporality: 'delta', time: 1, count: 1, bucket_bounds: [], bucket_counts: [1], attributes: {}, resource: {} };
    expect(s.upsert(h)).toBe('unsupported');
    expect(s.upsert({ ...sum(1000, 1), time: Number.NaN })).toBe('invalid');
    expect(s.upsert({ ...sum(1000, 1), value: 'x' as unknown as number })).toBe('invalid');
    const noAttrs = { ...sum(1000, 1) } as Partial<SumPoint>;
    delete noAttrs.attributes;
    expect(s.upsert(noAttrs as SumPoint)).toBe('appended');
    expect(s.counters.unsupported).toBe(1);
    expect(s.counters.invalid).toBe(2);
  });

  it('merges resource and attributes into string labels', () => {
    const s = new SeriesStore();
    s.upsert({ ...sum(1000, 1), resource: { 'service.name': 'shop', n: 3 }, attributes: { severity: 'warn' } });
    expect(s.list()[0]?.labels).toEqual({ 'service.name': 'shop', n: '3', severity: 'warn' });
  });

  it('filters queries by time range and labels', () => {
    const s = new SeriesStore();
    for (let t = 1000; t <= 10_000; t += 1000) s.upsert(sum(t, t / 1000, t % 2000 === 0 ? 'even' : 'odd'));
    const q = s.query('log.records', 3000, 6000, { severity: 'even' });
    expect(q).toHaveLength(1);
    expect(q[0]?.points).toEqual([[4000, 4], [6000, 6]]);
    expect(s.query('other', 0, 1e12)).toEqual([]);
  });

  it('tells subscribers about accepted points only, until they unsubscribe', () => {
    const s = new SeriesStore({ pointsPerSeries: 10 });
    const seen: Array<[string, number, number]> = [];
    const off = s.subscribe((u) => seen.push([u.series.labels['severity'] ?? '', u.time, u.value]));
    s.upsert(sum(1000, 1));
    s.upsert(sum(1000, 2));
    off();
    s.upsert(sum(2000, 3));
    expect(seen).toEqual([
      ['info', 1000, 1],
      ['info', 1000, 2],
    ]);
  });
});
