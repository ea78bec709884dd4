import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { SumPoint } from '../../core/model.js';
import { MemoryTelemetry } from '../../core/telemetry.js';
import { formatPrometheus } from '../../dashboard/routes/metrics.js';
import { buildServer } from '../../dashboard/server.js';
import { SeriesStore } from '../../dashboard/store.js';

function sum(time: number, value: number, attributes: Record<string, string> = { severity: 'info' }): SumPoint {
  return { kind: 'metric', type: 'sum', name: 'log.records', temporality: 'delta', monotonic: true, time, start_time: time - 1000, value, attributes, resource: {} };
}

const NOW = 1_764_064_800_000; // 2025-11-25T10:00:00Z
const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

function setup() {
  const store = new SeriesStore();
  const telemetry = new MemoryTelemetry();
  const app = buildServer({ store, telemetry, now: () => NOW, stream: { flushMs: 20 } });
  closers.push(() => app.close());
  return { store, telemetry, app };
}

describe('dashboard server', () => {
  it('GET /healthz answers ok', async () => {
    const { app } = setup();
    const res = await app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'ok', series: 0 });
  });

  it('serves the page with a strict CSP and security headers', async () => {
    const { app } = setup();
    const res = await app.inject({ method: 'GET', url: '/' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/html');
    expect(res.body).toContain('<div id="chart"');
    expect(res.body).not.toMatch(/<script>(?!<)/); // no inline script
    const csp = String(res.headers['content-security-policy']);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
  });

  it('serves app.js, style.css and uPlot from its package', async () => {
    const { app } = setup();
    for (const [url, type] of [
      ['/app.js', 'text/javascript'],
      ['/style.css', 'text/css'],
      ['/vendor/uPlot.iife.min.js', 'text/javascript'],
      ['/vendor/uPlot.min.css', 'text/css'],
    ] as const) {
      const res = await app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type'], url).toContain(type);
      expect(res.body.length, url).toBeGreaterThan(100);
    }
    const uplot = await app.inject({ method: 'GET', url: '/vendor/uPlot.iife.min.js' });
    expect(uplot.body).toContain('uPlot');
  });

  it.each([
    '/../package.json',
    '/%2e%2e/package.json',
    '/..%2fpackage.json',
    '/vendor/../../package.json',
    '/vendor/%2e%2e%2f%2e%2e%2fpackage.json',
    '/vendor/uPlot.cjs.js',
    '/index.html/../../../etc/passwd',
    '/ui/app.js',
    '/app.js%00.html',
  ])('refuses path traversal and unlisted files: %s', async (url) => {
    const { app } = setup();
    const res = await app.inject({ method: 'GET', url });
    expect([400, 404]).toContain(res.statusCode);
    expect(res.body).not.toContain('"name": "tidewatch"');
    expect(res.body).not.toContain('root:');
  });

  it('refuses a Host header that is not loopback (DNS rebinding)', async () => {
    const { app } = setup();
    const bad = await app.inject({ method: 'GET', url: '/api/v1/series', headers: { host: 'evil.example:9470' } });
    expect(bad.statusCode).toBe(403);
    expect(bad.json()).toMatchObject({ error: { code: 'TW_HTTP_REQUEST' } });
    const good = await app.inject({ method: 'GET', url: '/api/v1/series', headers: { host: '127.0.0.1:9470' } });
    expect(good.statusCode).toBe(200);
  });

  it('GET /api/v1/series lists series with counts and totals', async () => {
    const { app, store } = setup();
    store.upsert(sum(NOW - 2000, 3));
    store.upsert(sum(NOW - 1000, 4));
    const res = await app.inject({ method: 'GET', url: '/api/v1/series' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.json().series).toEqual([
      expect.objectContaining({ name: 'log.records', labels: { severity: 'info' }, points: 2, total: 7, first: NOW - 2000, last: NOW - 1000 }),
    ]);
  });

  it('GET /api/v1/query returns points in the range, relative or absolute, with label filters', async () => {
    const { app, store } = setup();
    for (let i = 10; i >= 1; i--) store.upsert(sum(NOW - i * 60_000, i));
    store.upsert(sum(NOW - 60_000, 99, { severity: 'error' }));
    const rel = await app.inject({ method: 'GET', url: '/api/v1/query?name=log.records&from=-3m' });
    expect(rel.statusCode).toBe(200);
    const body = rel.json();
    expect(body.from).toBe(NOW - 180_000);
    expect(body.to).toBe(NOW);
    expect(body.series.map((s: { labels: unknown; points: unknown }) => [s.labels, s.points])).toEqual([
      [{ severity: 'info' }, [[NOW - 180_000, 3], [NOW - 120_000, 2], [NOW - 60_000, 1]]],
      [{ severity: 'error' }, [[NOW - 60_000, 99]]],
    ]);
    const abs = await app.inject({ method: 'GET', url: `/api/v1/query?name=log.records&from=${NOW - 600_000}&to=${NOW - 540_000}&match[severity]=info` });
    expect(abs.json().series.map((s: { points: unknown }) => s.points)).toEqual([[[NOW - 600_000, 10], [NOW - 540_000, 9]]]);
  });

  it.each([
    ['/api/v1/query', 'name'],
    ['/api/v1/query?name=x&from=yesterday', 'from'],
    ['/api/v1/query?name=x&to=-5parsecs', 'to'],
    ['/api/v1/query?name=x&from=-1m&to=-5m', 'from'],
  ])('GET %s is a 400 naming %s', async (url, param) => {
    const { app } = setup();
    const res = await app.inject({ method: 'GET', url });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('TW_HTTP_REQUEST');
    expect(res.json().error.message).toContain(param);
  });

  it('GET /metrics exposes the collected series in Prometheus text format', async () => {
    const { app, store, telemetry } = setup();
    store.upsert(sum(NOW - 2000, 3, { severity: 'info', 'service.name': 'sh"op' }));
    store.upsert(sum(NOW - 1000, 4, { severity: 'info', 'service.name': 'sh"op' }));
    store.upsert(sum(NOW - 1000, 2, { severity: 'error' }));
    store.upsert(sum(NOW - 1000, 5, { severity: 'error' })); // the final value replaces the early one
    telemetry.add('tidewatch_rollup_late', { component: 'r' }, 2);
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain; version=0.0.4');
    const text = res.body;
    expect(text).toContain('# TYPE log_records_total counter');
    expect(text).toContain('log_records_total{service_name="sh\\"op",severity="info"} 7');
    expect(text).toContain('log_records_total{severity="error"} 5');
    expect(text).toContain('tidewatch_rollup_late_total{component="r"} 2');
    expect(text).toContain('tidewatch_dashboard_points_total{result="replaced"} 1');
    // Every sample line belongs to a family announced by HELP and TYPE just before it.
    let family = '';
    for (const line of text.trimEnd().split('\n')) {
      const type = /^# TYPE (\S+) (counter|gauge)$/.exec(line);
      if (type) family = type[1] ?? '';
      else if (!line.startsWith('# HELP ')) expect(line.startsWith(family), line).toBe(true);
      expect(line).toMatch(/^(# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+|[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*",?)*\})? \S+)$/);
    }
  });

  it('maps odd metric and label names to the Prometheus character set', () => {
    const store = new SeriesStore();
    store.upsert({ kind: 'metric', type: 'gauge', name: '9http.server-active', time: 1, value: 2, attributes: { 'k-1': 'v\nx', __x: 'y' }, resource: {} });
    const text = formatPrometheus(store);
    expect(text).toContain('_9http_server_active{k_1="v\\nx",x__x="y"} 2');
    expect(text).toContain('# TYPE _9http_server_active gauge');
  });

  it('GET /api/v1/stream sends only new points as server-sent events, and ends when the server closes', async () => {
    const { app, store } = setup();
    store.upsert(sum(NOW - 5000, 1)); // old: must not be sent
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as AddressInfo;
    const chunks: string[] = [];
    let ended = false;
    const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/api/v1/stream?name=log.records' }, resolve);
      req.on('error', reject);
      req.end();
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/event-stream');
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    res.setEncoding('utf8');
    res.on('data', (c: string) => chunks.push(c));
    res.on('end', () => (ended = true));
    const waitFor = async (pred: () => boolean): Promise<void> => {
      for (let i = 0; i < 200 && !pred(); i++) await new Promise((r) => setTimeout(r, 10));
      expect(pred()).toBe(true);
    };
    await waitFor(() => chunks.join('').includes('event: hello'));
    store.upsert(sum(NOW, 2));
    store.upsert(sum(NOW, 3)); // replaces the early value within one flush: only the latest goes out
    store.upsert({ kind: 'metric', type: 'gauge', name: 'other', time: NOW, value: 1, attributes: {}, resource: {} });
    await waitFor(() => chunks.join('').includes('"points"'));
    const data = chunks
      .join('')
      .split('\n\n')
      .filter((m) => m.startsWith('data: {"series"'))
      .map((m) => JSON.parse(m.slice('data: '.length)) as { series: Array<{ id: string; labels: unknown }>; points: unknown[] });
    expect(data).toHaveLength(1);
    const id = data[0]?.series[0]?.id;
    expect(data[0]?.series).toEqual([expect.objectContaining({ name: 'log.records', labels: { severity: 'info' } })]);
    expect(data[0]?.points).toEqual([[id, NOW, 3]]);
    await app.close();
    await waitFor(() => ended);
  });

  it('tells a client that fell behind to resync and closes its stream, instead of buffering without bound', async () => {
    const store = new SeriesStore();
    const telemetry = new MemoryTelemetry();
    const app = buildServer({ store, telemetry, stream: { flushMs: 60_000, maxPending: 10 } });
    closers.push(() => app.close());
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as AddressInfo;
    let body = '';
    const ended = new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/api/v1/stream' }, (res) => {
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
          if (body.includes('event: hello')) for (let i = 0; i < 11; i++) store.upsert(sum(NOW + i * 1000, i));
        });
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end();
    });
    await ended;
    expect(body).toContain('event: resync');
    expect(body).toContain('"reason":"overflow"');
    expect(telemetry.value('tidewatch_dashboard_stream_dropped_total', { reason: 'overflow' })).toBe(1);
  });

  it('limits concurrent streams', async () => {
    const store = new SeriesStore();
    const app = buildServer({ store, stream: { maxClients: 1 } });
    closers.push(() => app.close());
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as AddressInfo;
    const open = (): Promise<number> =>
      new Promise((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/api/v1/stream' }, (res) => {
          resolve(res.statusCode ?? 0);
          res.resume();
        });
        req.on('error', reject);
        req.end();
      });
    expect(await open()).toBe(200);
    expect(await open()).toBe(503);
  });
});
