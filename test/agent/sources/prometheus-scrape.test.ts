/**
 * `prometheus_scrape` against fixture endpoints on loopback: one with every metric type in the
 * text format, one speaking OpenMetrics, one that goes down. The source runs with a recording
 * context; time is real but intervals are short.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Value } from '@sinclair/typebox/value';
import type { Static } from '@sinclair/typebox';
import { afterEach, describe, expect, it } from 'vitest';
import { PrometheusScrapeSchema, prometheusScrapeSource, targetUrl } from '../../../agent/sources/prometheus-scrape.js';
import type { SourceContext } from '../../../core/component.js';
import { createLogger } from '../../../core/log.js';
import type { Event, MetricPoint } from '../../../core/model.js';
import { MemoryTelemetry } from '../../../core/telemetry.js';
import { waitFor } from './otlp-helpers.js';

export const EVERY_TYPE = (requests: number) => `# HELP http_requests_total Requests served.
# TYPE http_requests_total counter
http_requests_total{code="200"} ${requests}
http_requests_total{code="500"} 2
# HELP queue_depth Jobs waiting.
# TYPE queue_depth gauge
queue_depth 7
# TYPE latency_seconds histogram
latency_seconds_bucket{le="0.1"} 3
latency_seconds_bucket{le="1"} 5
latency_seconds_bucket{le="+Inf"} 6
latency_seconds_sum 4.2
latency_seconds_count 6
# TYPE rpc_seconds summary
rpc_seconds{quantile="0.5"} 0.2
rpc_seconds{quantile="0.9"} 0.8
rpc_seconds_sum 12
rpc_seconds_count 40
untyped_thing{a="b"} 1.5
`;

interface Fixture {
  server: Server;
  url: string;
  requests: number;
  body: () => string;
  contentType: string;
}

async function fixture(body: () => string, contentType = 'text/plain; version=0.0.4'): Promise<Fixture> {
  const f = { requests: 0, body, contentType } as Fixture;
  f.server = createServer((req, res) => {
    f.requests++;
    if (req.url !== '/metrics') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': f.contentType }).end(f.body());
  });
  await new Promise<void>((r) => f.server.listen(0, '127.0.0.1', r));
  f.url = `http://127.0.0.1:${(f.server.address() as AddressInfo).port}/metrics`;
  return f;
}

const servers: Server[] = [];
const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
  for (const s of servers.splice(0)) {
    const closed = new Promise((r) => s.close(r));
    // The scraper's keep-alive sockets would hold close() for seconds.
    s.closeAllConnections();
    await closed;
  }
});

function run(options: Partial<Static<typeof PrometheusScrapeSchema>> & { targets: string[] }) {
  const config = Value.Default(PrometheusScrapeSchema, { interval_ms: 300, timeout_ms: 300, ...options }) as Static<typeof PrometheusScrapeSchema>;
  const batches: Event[][] = [];
  const logLines: Record<string, unknown>[] = [];
  const telemetry = new MemoryTelemetry();
  const ctx: SourceContext = {
    name: 'scrape',
    dataDir: '/nonexistent',
    telemetry,
    log: createLogger({ level: 'debug', write: (l) => void logLines.push(JSON.parse(l) as Record<string, unknown>) }),
    now: Date.now,
    agentId: 'agent-1',
    hostName: 'host-1',
    bus: undefined,
    async emit(events) {
      batches.push(events);
    },
  };
  const source = prometheusScrapeSource.create(config, ctx);
  stops.push(() => source.stop());
  return { source, batches, logLines, telemetry };
}

const points = (batch: Event[] | undefined): MetricPoint[] => (batch ?? []).filter((e): e is MetricPoint => e.kind === 'metric');

describe('prometheus_scrape', () => {
  it('normalises targets', () => {
    expect(targetUrl('127.0.0.1:9100').href).toBe('http://127.0.0.1:9100/metrics');
    expect(targetUrl('http://h:1/custom').href).toBe('http://h:1/custom');
    expect(() => targetUrl('ftp://h/x')).toThrow(/only http and https/);
  });

  it('yields every metric type of a fixture, with up, scrape_duration_seconds and reset-aware start times', async () => {
    let requests = 100;
    const f = await fixture(() => EVERY_TYPE(requests));
    servers.push(f.server);
    const r = run({ targets: [f.url], job: 'shop', labels: { env: 'test' } });
    await r.source.start();
    await waitFor(() => r.batches.length >= 2);
    requests = 5; // the target restarted: its counter went down
    const seen = r.batches.length;
    await waitFor(() => r.batches.length >= seen + 2);
    await r.source.stop();

    // The first successful scrape (on a loaded machine a scrape may miss its timeout: up = 0).
    const first = points(r.batches.find((b) => points(b).some((p) => p.name === 'up' && p.type === 'gauge' && p.value === 1)));
    const by = (name: string) => first.filter((p) => p.name === name);
    const instance = new URL(f.url).host;
    expect(by('up')[0]).toMatchObject({ type: 'gauge', value: 1, resource: { 'service.name': 'shop', 'service.instance.id': instance, 'tidewatch.agent.id': 'agent-1' } });
    expect(by('scrape_duration_seconds')[0]!.type === 'gauge' && by('scrape_duration_seconds')[0]).toMatchObject({ value: expect.any(Number) });
    expect(by('scrape_samples_scraped')[0]).toMatchObject({ value: 13 });
    expect(by('http_requests_total')).toEqual([
      expect.objectContaining({ type: 'sum', temporality: 'cumulative', monotonic: true, value: 100, attributes: { env: 'test', code: '200' }, description: 'Requests served.' }),
      expect.objectContaining({ value: 2, attributes: { env: 'test', code: '500' } }),
    ]);
    expect(by('queue_depth')[0]).toMatchObject({ type: 'gauge', value: 7 });
    expect(by('latency_seconds')[0]).toMatchObject({ type: 'histogram', count: 6, sum: 4.2, bucket_bounds: [0.1, 1], bucket_counts: [3, 2, 1] });
    expect(by('rpc_seconds')[0]).toMatchObject({ type: 'summary', count: 40, sum: 12, quantiles: [{ quantile: 0.5, value: 0.2 }, { quantile: 0.9, value: 0.8 }] });
    expect(by('untyped_thing')[0]).toMatchObject({ type: 'gauge', value: 1.5, attributes: { a: 'b', env: 'test' } });

    // Start times: fixed while the counter grows, moved forward after it went down.
    const series = r.batches.map((b) => points(b).find((p) => p.name === 'http_requests_total' && p.attributes['code'] === '200')).filter((p): p is MetricPoint => p !== undefined);
    const before = series.filter((p) => p.type === 'sum' && p.value === 100);
    const after = series.filter((p) => p.type === 'sum' && p.value === 5);
    expect(new Set(before.map((p) => p.start_time)).size).toBe(1);
    expect(after[0]!.start_time).toBeGreaterThan(before[0]!.start_time!);
    expect(after[0]!.start_time).toBeLessThan(after[0]!.time);
  });

  it('turns counters into deltas across a reset when cumulative_to_delta is on', async () => {
    let requests = 100;
    const f = await fixture(() => EVERY_TYPE(requests));
    servers.push(f.server);
    const r = run({ targets: [f.url], cumulative_to_delta: true });
    await r.source.start();
    await waitFor(() => r.batches.length >= 1);
    requests = 130;
    await waitFor(() => r.batches.some((b) => points(b).some((p) => p.name === 'http_requests_total' && p.type === 'sum' && p.value === 30)));
    requests = 4;
    await waitFor(() => r.batches.some((b) => points(b).some((p) => p.name === 'http_requests_total' && p.type === 'sum' && p.value === 4)));
    await r.source.stop();
    const values = r.batches.map((b) => points(b).find((p) => p.name === 'http_requests_total' && p.attributes['code'] === '200')).map((p) => (p?.type === 'sum' ? p.value : undefined));
    // First scrape is the baseline (no point), then increases only, never a negative delta.
    expect(values[0]).toBeUndefined();
    expect(values.every((v) => v === undefined || v >= 0)).toBe(true);
    expect(points(r.batches.at(-1)).find((p) => p.name === 'http_requests_total')).toMatchObject({ temporality: 'delta' });
  });

  it('reads OpenMetrics when the target answers with it', async () => {
    const f = await fixture(() => '# TYPE jobs counter\njobs_total 3 1700000000.5\njobs_created 1699999999\n# EOF\n', 'application/openmetrics-text; version=1.0.0; charset=utf-8');
    servers.push(f.server);
    const r = run({ targets: [f.url] });
    await r.source.start();
    await waitFor(() => r.batches.some((b) => points(b).some((p) => p.name === 'jobs_total')));
    await r.source.stop();
    expect(r.batches.map((b) => points(b).find((p) => p.name === 'jobs_total')).find((p) => p !== undefined)).toMatchObject({ type: 'sum', value: 3, time: 1700000000500, start_time: 1699999999000 });
  });

  it('a target that goes down yields up = 0 each interval, one warning, and comes back', async () => {
    const f = await fixture(() => EVERY_TYPE(1));
    const port = (f.server.address() as AddressInfo).port;
    const r = run({ targets: [f.url] });
    await r.source.start();
    await waitFor(() => r.batches.length >= 1);
    await new Promise((res) => f.server.close(res));
    f.server.closeAllConnections();
    const downFrom = r.batches.length;
    await waitFor(() => r.batches.length >= downFrom + 5);
    const down = r.batches.slice(downFrom + 1);
    for (const b of down) {
      const up = points(b).find((p) => p.name === 'up');
      expect(up).toMatchObject({ value: 0 });
      // Only the scrape's own gauges: no stale samples.
      expect(points(b).map((p) => p.name).sort()).toEqual(['scrape_duration_seconds', 'scrape_samples_scraped', 'up']);
    }
    const warnings = r.logLines.filter((l) => l['msg'] === 'scrape target down');
    expect(warnings).toHaveLength(1);
    expect(r.telemetry.value('tidewatch_errors_total', { component: 'scrape', code: 'TW_SCRAPE_FAILED' })).toBeGreaterThanOrEqual(down.length);

    // Same port again: the target is back.
    const back = await fixture(() => EVERY_TYPE(1));
    await new Promise((res) => back.server.close(res));
    await new Promise<void>((res) => back.server.listen(port, '127.0.0.1', res));
    servers.push(back.server);
    await waitFor(() => points(r.batches.at(-1)).some((p) => p.name === 'up' && p.type === 'gauge' && p.value === 1));
    expect(r.logLines.filter((l) => l['msg'] === 'scrape target up again')).toHaveLength(1);
  });

  it('fails a scrape that is too slow or too large (up = 0) without waiting past the timeout', async () => {
    const slow = createServer((_req, res) => void setTimeout(() => res.end('x 1\n'), 1000).unref());
    await new Promise<void>((res) => slow.listen(0, '127.0.0.1', res));
    servers.push(slow);
    const big = await fixture(() => `big_metric 1\n${'# padding\n'.repeat(20_000)}`);
    servers.push(big.server);
    const r = run({ targets: [`http://127.0.0.1:${(slow.address() as AddressInfo).port}/metrics`, big.url], max_body_bytes: 64 * 1024, interval_ms: 100, timeout_ms: 80 });
    await r.source.start();
    await waitFor(() => r.batches.length >= 4);
    await r.source.stop();
    for (const b of r.batches) expect(points(b).find((p) => p.name === 'up')).toMatchObject({ value: 0 });
    expect(r.logLines.filter((l) => l['msg'] === 'scrape target down').map((l) => l['error']).sort()).toEqual([
      'body is over max_body_bytes (65536)',
      'timed out after 80 ms',
    ]);
  });
});
