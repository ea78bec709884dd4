import { describe, expect, it } from 'vitest';
import type { ComponentContext } from '../../../core/component.js';
import type { HistogramPoint, LogRecord, SumPoint } from '../../../core/model.js';
import { MemoryTelemetry } from '../../../core/telemetry.js';
import { silentLogger } from '../../../core/log.js';
import { checkValue } from '../../../core/config/check.js';
import { components } from '../../../collector/components.js';
import { LogToMetric, schema, type LogToMetricConfig } from '../../../collector/transforms/log-to-metric.js';
import { Parse, schema as parseSchema, type ParseConfig } from '../../../collector/transforms/parse.js';
import { fixture } from '../parsers/fixtures.js';

const T0 = Date.UTC(2026, 10, 25, 10, 0, 0);

function ctx(): ComponentContext & { telemetry: MemoryTelemetry } {
  return { name: 'm', dataDir: '/tmp', telemetry: new MemoryTelemetry(), log: silentLogger, now: () => T0, agentId: 'a', hostName: 'h', bus: undefined };
}

function build(config: unknown): { t: LogToMetric; c: ReturnType<typeof ctx> } {
  const { value, issues } = checkValue(schema, config);
  expect(issues).toEqual([]);
  const c = ctx();
  return { t: new LogToMetric(value as LogToMetricConfig, c), c };
}

function log(time: number, attributes: LogRecord['attributes'], service?: string): LogRecord {
  return { kind: 'log', time, observed_time: time + 50, severity_number: 9, severity_text: 'INFO', body: '', attributes, resource: service === undefined ? {} : { 'service.name': service } };
}

describe('log_to_metric', () => {
  it('is registered in the collector', async () => {
    expect((await components.find((e) => e.type === 'log_to_metric')!.load()).type).toBe('log_to_metric');
  });

  it('counts by labels and builds histograms per second, as delta points once the second closes', () => {
    const { t } = build({
      lateness_ms: 1000,
      metrics: [
        { name: 'http.requests', type: 'counter', labels: ['status_class=http.response.status_class', 'http.request.method'], unit: '{request}' },
        { name: 'http.request_time', type: 'histogram', field: 'request_time', labels: ['http.response.status_class'], buckets: [0.1, 0.5, 1], unit: 's' },
        { name: 'http.bytes', type: 'counter', field: 'size' },
      ],
    });
    const recs = [
      log(T0 + 10, { 'http.response.status_class': '2xx', 'http.request.method': 'GET', request_time: 0.05, size: 100 }, 'shop'),
      log(T0 + 20, { 'http.response.status_class': '2xx', 'http.request.method': 'GET', request_time: '0.3', size: 50 }, 'shop'),
      log(T0 + 30, { 'http.response.status_class': '5xx', 'http.request.method': 'GET', request_time: 2.5 }, 'shop'),
      log(T0 + 1500, { 'http.response.status_class': '2xx', 'http.request.method': 'POST', request_time: 0.1 }, 'shop'),
    ];
    expect(t.process(recs, T0)).toBe(recs);
    // The first second is still open within its lateness.
    expect(t.flush(T0 + 1500, false)).toEqual([]);
    const points = t.flush(T0 + 2000, false) as (SumPoint | HistogramPoint)[];
    const sums = points.filter((p): p is SumPoint => p.type === 'sum');
    const hists = points.filter((p): p is HistogramPoint => p.type === 'histogram');
    expect(sums.filter((p) => p.name === 'http.requests').map((p) => [p.attributes, p.value])).toEqual([
      [{ status_class: '2xx', 'http.request.method': 'GET' }, 2],
      [{ status_class: '5xx', 'http.request.method': 'GET' }, 1],
    ]);
    expect(sums.find((p) => p.name === 'http.bytes')).toMatchObject({ value: 150, monotonic: false, temporality: 'delta' });
    const ok = hists.find((h) => h.attributes['http.response.status_class'] === '2xx')!;
    expect(ok).toMatchObject({ count: 2, min: 0.05, max: 0.3, bucket_bounds: [0.1, 0.5, 1], bucket_counts: [1, 1, 0, 0], start_time: T0, time: T0 + 1000, unit: 's' });
    expect(ok.sum).toBeCloseTo(0.35);
    expect(hists.find((h) => h.attributes['http.response.status_class'] === '5xx')!.bucket_counts).toEqual([0, 0, 0, 1]);
    expect(points.every((p) => p.resource['service.name'] === 'shop')).toBe(true);
    // The second second comes out at the final flush; each series exactly once.
    const rest = t.flush(T0 + 2100, true) as SumPoint[];
    expect(rest.map((p) => p.start_time)).toEqual([T0 + 1000, T0 + 1000]);
    expect(t.flush(T0 + 5000, true)).toEqual([]);
  });

  it('late records, non-numeric values, missing fields and overflow are counted', () => {
    const { t, c } = build({ lateness_ms: 0, max_series: 2, metrics: [{ name: 'rt', type: 'histogram', field: 'rt', labels: ['route'] }] });
    t.process([log(T0, { rt: 1, route: 'a' })], T0);
    t.flush(T0 + 1000, false);
    t.process([log(T0 + 10, { rt: 1, route: 'a' }), log(T0 + 1000, { rt: 'fast', route: 'a' }), log(T0 + 1000, { route: 'a' })], T0);
    t.process([log(T0 + 1000, { rt: 1, route: 'a' }), log(T0 + 1000, { rt: 1, route: 'b' }), log(T0 + 1000, { rt: 1, route: 'c' })], T0);
    t.flush(T0 + 1000, false);
    const labels = { component: 'm' };
    expect(c.telemetry.value('tidewatch_log_to_metric_late_total', labels)).toBe(1);
    expect(c.telemetry.value('tidewatch_log_to_metric_skipped_total', { ...labels, reason: 'not_numeric' })).toBe(1);
    expect(c.telemetry.value('tidewatch_log_to_metric_skipped_total', { ...labels, reason: 'missing_field' })).toBe(1);
    expect(c.telemetry.value('tidewatch_log_to_metric_dropped_total', { ...labels, reason: 'max_series' })).toBe(1);
  });

  it('`when` conditions select records; config errors are refused', () => {
    const { t } = build({ metrics: [{ name: 'errors', type: 'counter', when: ['http.response.status_code >= 500'] }] });
    t.process([log(T0, { 'http.response.status_code': 503 }), log(T0, { 'http.response.status_code': 200 })], T0);
    expect(t.flush(T0, true).map((p) => (p as SumPoint).value)).toEqual([1]);
    for (const bad of [
      { metrics: [{ name: 'h', type: 'histogram' }] },
      { metrics: [{ name: 'h', type: 'histogram', field: 'x', buckets: [1, 1] }] },
      { metrics: [{ name: 'c', type: 'counter', when: ['x ~ 1'] }] },
    ]) {
      const { value } = checkValue(schema, bad);
      expect(() => new LogToMetric(value as LogToMetricConfig, ctx())).toThrow();
    }
  });

  it('nginx request_time by status class, from the parse chain', () => {
    const p = new Parse(checkValue(parseSchema, { routes: [{ steps: [{ preset: 'nginx_combined' }] }] }).value as ParseConfig, ctx());
    const { t } = build({ metrics: [{ name: 'nginx.request_time', type: 'histogram', field: 'request_time', labels: ['http.response.status_class'] }] });
    const lines = fixture('nginx_combined.log').map((body) => ({ kind: 'log' as const, observed_time: T0, severity_number: 0, severity_text: '', body, attributes: {}, resource: {} }));
    t.process(p.process(lines, T0), T0);
    const pts = t.flush(T0 + 60_000, true) as HistogramPoint[];
    expect(pts.map((h) => [h.attributes['http.response.status_class'], h.count, h.sum])).toEqual([
      ['2xx', 1, 0.042],
      ['5xx', 1, 0.317],
    ]);
  });
});
