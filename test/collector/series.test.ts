import { describe, expect, it } from 'vitest';
import { labelsOf, sampleOf, seriesId, SeriesRegistry } from '../../collector/series.js';
import { seriesId as ingestSeriesId } from '../../collector/ingest/core.js';

describe('series', () => {
  it('has a stable id whatever the label order, the same text as the rollups topic key', () => {
    const a = seriesId('http.requests', { route: '/cart', code: '200' });
    const b = seriesId('http.requests', { code: '200', route: '/cart' });
    expect(a).toBe(b);
    expect(a).toBe('http.requests{code="200",route="/cart"}');
    expect(a).toBe(ingestSeriesId('http.requests', { route: '/cart', code: '200' }));
  });

  it('puts label sets beyond the per-metric limit into a visible __overflow__ series and counts them', () => {
    const r = new SeriesRegistry({ maxSeriesPerMetric: 2 });
    const ids = ['a', 'b', 'c', 'd', 'a'].map((u) => r.resolve('req', { user: u }));
    expect(ids.map((s) => s.id)).toEqual(['req{user="a"}', 'req{user="b"}', 'req{__overflow__="true"}', 'req{__overflow__="true"}', 'req{user="a"}']);
    expect(ids[2]!.overflow).toBe(true);
    expect(r.overflowCounts()).toEqual(new Map([['req', 2]]));
    // Another metric has its own budget.
    expect(r.resolve('other', { user: 'z' }).overflow).toBe(false);
    r.forget(ids[0]!);
    expect(r.resolve('req', { user: 'e' }).overflow).toBe(false);
  });

  it('bounds metric names too', () => {
    const r = new SeriesRegistry({ maxMetrics: 1 });
    r.resolve('a', {});
    expect(r.resolve('b', {}).id).toBe('__overflow__{__overflow__="true"}');
  });

  it('labels a point by its attributes plus service.name and host.name of its resource', () => {
    expect(labelsOf({ code: 200, route: '/x' }, { 'service.name': 'shop', 'host.name': 'h1', 'process.pid': 4 })).toEqual({ code: '200', route: '/x', 'service.name': 'shop', 'host.name': 'h1' });
  });

  it('takes one sample from gauges, sums and histograms and none from NaN', () => {
    const base = { kind: 'metric' as const, name: 'm', time: 5, attributes: {}, resource: {} };
    expect(sampleOf({ ...base, type: 'gauge', value: 3 })?.value).toBe(3);
    expect(sampleOf({ ...base, type: 'gauge', value: Number.NaN })).toBeUndefined();
    expect(sampleOf({ ...base, type: 'sum', temporality: 'cumulative', monotonic: true, value: 9 })?.cumulative).toBe(true);
    const h = sampleOf({ ...base, type: 'histogram', temporality: 'delta', count: 4, sum: 2, bucket_bounds: [0.1, 1], bucket_counts: [3, 1, 0] });
    expect(h?.summary).toEqual({ count: 4, sum: 2, min: undefined, max: undefined, values: [[0.1, 3], [1, 1]] });
  });
});
