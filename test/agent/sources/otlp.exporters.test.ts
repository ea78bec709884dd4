/**
 * The official OpenTelemetry exporters as real clients of the `otlp` source: OTLP/HTTP JSON,
 * OTLP/HTTP protobuf (gzip) and OTLP/gRPC, for metrics (delta and cumulative) and logs. Names,
 * values, attributes, temporality, timestamps, resource and scope must arrive intact.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { OTLPLogExporter as LogsGrpc } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPLogExporter as LogsJson } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as LogsProto } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPMetricExporter as MetricsGrpc } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { AggregationTemporalityPreference, OTLPMetricExporter as MetricsJson } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as MetricsProto } from '@opentelemetry/exporter-metrics-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import type { LogRecordExporter } from '@opentelemetry/sdk-logs';
import { AggregationType, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import type { PushMetricExporter } from '@opentelemetry/sdk-metrics';
import type { Event, LogRecord, MetricPoint } from '../../../core/model.js';
import { startOtlp } from './otlp-helpers.js';
import type { Running } from './otlp-helpers.js';

type Transport = 'http/json' | 'http/protobuf' | 'grpc';
const TRANSPORTS: Transport[] = ['http/json', 'http/protobuf', 'grpc'];

function metricExporter(t: Transport, r: Running, temporality: AggregationTemporalityPreference): PushMetricExporter {
  const temporalityPreference = temporality;
  if (t === 'http/json') return new MetricsJson({ url: `${r.http}/v1/metrics`, temporalityPreference });
  if (t === 'http/protobuf') return new MetricsProto({ url: `${r.http}/v1/metrics`, temporalityPreference, compression: 'gzip' as never });
  return new MetricsGrpc({ url: r.grpc, temporalityPreference, compression: 'gzip' as never });
}

function logExporter(t: Transport, r: Running): LogRecordExporter {
  if (t === 'http/json') return new LogsJson({ url: `${r.http}/v1/logs` });
  if (t === 'http/protobuf') return new LogsProto({ url: `${r.http}/v1/logs`, compression: 'gzip' as never });
  return new LogsGrpc({ url: r.grpc });
}

const resource = resourceFromAttributes({ 'service.name': 'shop', 'service.version': '1.4.0', 'deployment.environment.name': 'test' });

function metric(events: Event[], name: string, attrs: Record<string, unknown> = {}): MetricPoint[] {
  return events.filter(
    (e): e is MetricPoint => e.kind === 'metric' && e.name === name && Object.entries(attrs).every(([k, v]) => e.attributes[k] === v),
  );
}

/** Records one of every instrument kind the SDK has, exports once, returns the time window. */
async function recordAndExport(exporter: PushMetricExporter, round: number): Promise<{ before: number; after: number }> {
  const provider = new MeterProvider({
    resource,
    readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })],
    views: [{ instrumentName: 'latency.exp', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } }],
  });
  const meter = provider.getMeter('checkout', '1.2.3');
  const before = Date.now();
  const orders = meter.createCounter('orders.placed', { unit: '{order}', description: 'Orders placed' });
  const active = meter.createUpDownCounter('jobs.active');
  const duration = meter.createHistogram('http.server.duration', { unit: 's', advice: { explicitBucketBoundaries: [0.1, 0.5, 1] } });
  const exp = meter.createHistogram('latency.exp', { unit: 'ms' });
  meter.createObservableGauge('room.temperature').addCallback((o) => o.observe(21.5, { room: 'a' }));
  for (let i = 0; i < round; i++) {
    orders.add(5, { route: '/cart', retry: true, code: 200, ratio: 0.5 });
    orders.add(2, { route: '/cart', retry: true, code: 200, ratio: 0.5 });
    orders.add(1, { route: '/pay' });
    active.add(3);
    active.add(-1);
    for (const v of [0.05, 0.3, 2]) duration.record(v, { route: '/cart' });
    for (const v of [1, 2, 4]) exp.record(v);
    // A second collection within the same provider shows temporality at work.
    if (i === 0 && round > 1) await provider.forceFlush();
  }
  await provider.forceFlush();
  const after = Date.now();
  await provider.shutdown();
  return { before, after };
}

let running: Running | undefined;
afterEach(async () => {
  await running?.stop();
  running = undefined;
});

describe.each(TRANSPORTS)('otlp source with the official %s exporters', (transport) => {
  it('takes delta metrics of every instrument kind intact', async () => {
    running = await startOtlp();
    const { before, after } = await recordAndExport(metricExporter(transport, running, AggregationTemporalityPreference.DELTA), 1);
    const ev = running.events;

    const [cart, ...moreCart] = metric(ev, 'orders.placed', { route: '/cart' });
    expect(moreCart).toHaveLength(0);
    expect(cart).toMatchObject({
      kind: 'metric',
      type: 'sum',
      temporality: 'delta',
      monotonic: true,
      value: 7,
      unit: '{order}',
      description: 'Orders placed',
      attributes: { route: '/cart', retry: true, code: 200, ratio: 0.5 },
      scope: { name: 'checkout', version: '1.2.3' },
    });
    expect(cart!.resource).toMatchObject({ 'service.name': 'shop', 'service.version': '1.4.0', 'deployment.environment.name': 'test', 'tidewatch.agent.id': 'agent-1' });
    expect(cart!.time).toBeGreaterThanOrEqual(before);
    expect(cart!.time).toBeLessThanOrEqual(after);
    expect(cart!.start_time).toBeGreaterThanOrEqual(before - 1);
    expect(cart!.start_time).toBeLessThanOrEqual(cart!.time);
    expect(metric(ev, 'orders.placed', { route: '/pay' })[0]).toMatchObject({ value: 1, attributes: { route: '/pay' } });

    expect(metric(ev, 'jobs.active')[0]).toMatchObject({ type: 'sum', monotonic: false, value: 2 });

    const h = metric(ev, 'http.server.duration')[0];
    expect(h).toMatchObject({ type: 'histogram', temporality: 'delta', unit: 's', count: 3, min: 0.05, max: 2, bucket_bounds: [0.1, 0.5, 1], bucket_counts: [1, 1, 0, 1] });
    expect(h?.type === 'histogram' && h.sum).toBeCloseTo(2.35, 10);

    const e = metric(ev, 'latency.exp')[0];
    expect(e).toMatchObject({ type: 'exponential_histogram', temporality: 'delta', count: 3, sum: 7, min: 1, max: 4, zero_count: 0 });
    if (e?.type !== 'exponential_histogram') throw new Error('no exponential histogram');
    expect(e.positive.bucket_counts.reduce((a, b) => a + b, 0)).toBe(3);
    // Each value lands in the bucket the scale says: index = ceil(log2(v) * 2^scale) - 1.
    for (const v of [1, 2, 4]) {
      const idx = Math.ceil(Math.log2(v) * 2 ** e.scale) - 1;
      expect(e.positive.bucket_counts[idx - e.positive.offset], `bucket of ${v}`).toBeGreaterThanOrEqual(1);
    }

    expect(metric(ev, 'room.temperature')[0]).toMatchObject({ type: 'gauge', value: 21.5, attributes: { room: 'a' } });
  });

  it('keeps cumulative temporality and start times across two exports', async () => {
    running = await startOtlp();
    await recordAndExport(metricExporter(transport, running, AggregationTemporalityPreference.CUMULATIVE), 2);
    const pts = metric(running.events, 'orders.placed', { route: '/cart' });
    expect(pts.map((p) => (p.type === 'sum' ? [p.temporality, p.value] : []))).toEqual([
      ['cumulative', 7],
      ['cumulative', 14],
      // shutdown() collects once more: nothing new, the same cumulative value.
      ['cumulative', 14],
    ]);
    expect(pts[1]!.start_time).toBe(pts[0]!.start_time);
    expect(pts[1]!.time).toBeGreaterThanOrEqual(pts[0]!.time);
    const h = metric(running.events, 'http.server.duration');
    expect(h.map((p) => (p.type === 'histogram' ? p.bucket_counts : []))).toEqual([
      [1, 1, 0, 1],
      [2, 2, 0, 2],
      [2, 2, 0, 2],
    ]);
  });

  it('turns cumulative into deltas when cumulative_to_delta is on', async () => {
    running = await startOtlp({ cumulative_to_delta: true });
    // The SDK stamps start times from the performance clock, which may trail Date.now() by a
    // millisecond or two: keep the series start clearly after the receiver's.
    await new Promise((r) => setTimeout(r, 25));
    await recordAndExport(metricExporter(transport, running, AggregationTemporalityPreference.CUMULATIVE), 2);
    // The series started after the receiver, so the first point is a whole delta, not a baseline.
    const pts = metric(running.events, 'orders.placed', { route: '/cart' });
    expect(pts.map((p) => (p.type === 'sum' ? [p.temporality, p.value] : []))).toEqual([
      ['delta', 7],
      ['delta', 7],
      ['delta', 0],
    ]);
    expect(pts[1]!.start_time).toBe(pts[0]!.time);
  });

  it('detects a sender restart: the restarted series\' first cumulative point is a whole delta', async () => {
    running = await startOtlp({ cumulative_to_delta: true });
    await new Promise((r) => setTimeout(r, 25));
    const send = async (n: number): Promise<void> => {
      const provider = new MeterProvider({
        resource,
        readers: [new PeriodicExportingMetricReader({ exporter: metricExporter(transport, running!, AggregationTemporalityPreference.CUMULATIVE), exportIntervalMillis: 3_600_000 })],
      });
      provider.getMeter('checkout').createCounter('restarts.total').add(n);
      await provider.forceFlush();
      await provider.shutdown();
    };
    await send(10); // first process: counts 10
    await new Promise((r) => setTimeout(r, 5));
    await send(3); // restarted process: counts from 0 again, 3 so far
    const pts = metric(running.events, 'restarts.total').map((p) => (p.type === 'sum' ? [p.temporality, p.value] : []));
    // 10, then 0 from the first shutdown's extra collection, then 3 (not -7, not dropped), then 0.
    expect(pts).toEqual([
      ['delta', 10],
      ['delta', 0],
      ['delta', 3],
      ['delta', 0],
    ]);
  });

  it('takes logs from sdk-logs intact', async () => {
    running = await startOtlp();
    const provider = new LoggerProvider({ resource, processors: [new SimpleLogRecordProcessor({ exporter: logExporter(transport, running) })] });
    const logger = provider.getLogger('payments', '2.0.0');
    const t = Date.parse('2026-11-25T10:00:00.123Z');
    logger.emit({ timestamp: t, severityNumber: SeverityNumber.WARN, severityText: 'WARN', body: 'card declined', attributes: { 'user.id': 42, retry: false, 'amount.eur': 9.5 } });
    logger.emit({ severityNumber: SeverityNumber.ERROR2, body: { reason: 'timeout', tries: [1, 'two'] }, attributes: { nested: { a: 'b' } } });
    await provider.forceFlush();
    await provider.shutdown();
    // SimpleLogRecordProcessor exports each record on its own request: they may arrive in either order.
    const logs = running.events.filter((e): e is LogRecord => e.kind === 'log').sort((a, b) => (a.body === 'card declined' ? -1 : b.body === 'card declined' ? 1 : 0));
    expect(logs).toHaveLength(2);
    expect(logs[0]).toMatchObject({
      kind: 'log',
      time: t,
      severity_number: 13,
      severity_text: 'WARN',
      body: 'card declined',
      attributes: { 'user.id': 42, retry: false, 'amount.eur': 9.5 },
      scope: { name: 'payments', version: '2.0.0' },
    });
    expect(logs[0]!.resource).toMatchObject({ 'service.name': 'shop', 'tidewatch.agent.id': 'agent-1' });
    expect(logs[0]!.observed_time).toBeGreaterThanOrEqual(t);
    expect(logs[1]).toMatchObject({ severity_number: 18, body: { reason: 'timeout', tries: [1, 'two'] }, attributes: { nested: { a: 'b' } } });
  });
});
