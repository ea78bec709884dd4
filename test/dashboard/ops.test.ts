import { afterEach, describe, expect, it } from 'vitest';
import { createBus, type Bus } from '../../core/transports/bus.js';
import { OpsState } from '../../dashboard/ops.js';
import { downsample } from '../../dashboard/routes/api.js';
import { startDashboard, type DashboardService } from '../../dashboard/service.js';
import { alert, heartbeat, linesPoint, logLine, pattern, publishAlert, publishHeartbeat, publishPattern, publishPoints, publishTail } from './fixture.js';

const NOW = 1_764_064_800_000;
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(extra: { token?: string } = {}): Promise<{ bus: Bus; d: DashboardService }> {
  const bus = createBus();
  await bus.start();
  cleanups.push(() => bus.stop());
  const d = await startDashboard({ transport: bus, port: 0, now: () => NOW, ...extra });
  cleanups.push(() => d.stop());
  return { bus, d };
}

describe('OpsState', () => {
  it('keeps the latest state per alert, a history of transitions, and ignores older records', () => {
    const ops = new OpsState();
    ops.applyAlert(alert({ time: NOW, started_at: NOW }));
    ops.applyAlert(alert({ time: NOW + 1000, started_at: NOW, value: 50 }));
    expect(ops.applyAlert(alert({ time: NOW - 5000 }))).toBe(false);
    ops.applyAlert(alert({ alert_id: 'a2', labels: { alertstate: 'pending' }, time: NOW }));
    ops.applyAlert(alert({ time: NOW + 2000, started_at: NOW, state: 'resolved', resolved_at: NOW + 2000 }));
    const list = ops.listAlerts(NOW + 2000);
    expect(list.map((a) => [a.alert_id, a.status])).toEqual([
      ['a2', 'pending'],
      ['a1', 'resolved'],
    ]);
    expect(ops.alertHistory().map((h) => [h.alert_id, h.event])).toEqual([
      ['a1', 'resolved'],
      ['a2', 'pending'],
      ['a1', 'firing'],
    ]);
  });

  it('bounds the tail ring and filters it by severity, host, pattern and text', () => {
    const ops = new OpsState({ tailLines: 3 });
    for (let i = 0; i < 5; i++) ops.applyLog(logLine(`line ${i}`, { time: NOW + i, attributes: { 'tidewatch.pattern.id': i % 2 ? 'odd' : 'even' } }));
    expect(ops.counters.tail_evicted).toBe(2);
    expect(ops.queryTail({}).map((l) => l.body)).toEqual(['line 2', 'line 3', 'line 4']);
    expect(ops.queryTail({ pattern_id: 'odd' }).map((l) => l.body)).toEqual(['line 3']);
    expect(ops.queryTail({ contains: 'LINE 4' }).map((l) => l.body)).toEqual(['line 4']);
    expect(ops.queryTail({ afterSeq: 4 }).map((l) => l.body)).toEqual(['line 4']);
  });

  it('flags an agent silent after three missed heartbeats, and a stopped one as stopped', () => {
    const ops = new OpsState();
    ops.applyHeartbeat(heartbeat({ time: NOW, interval_ms: 1000 }));
    ops.applyHeartbeat(heartbeat({ agent_id: 'b', host: 'db-1', time: NOW, stopping: true }));
    expect(ops.listAgents(NOW + 2000).map((a) => [a.host, a.status])).toEqual([
      ['db-1', 'stopped'],
      ['web-1', 'ok'],
    ]);
    expect(ops.listAgents(NOW + 3500).find((a) => a.host === 'web-1')?.status).toBe('silent');
  });

  it('reads heartbeat log records with lag per file and drops by reason', () => {
    const ops = new OpsState();
    const isHb = ops.applyHeartbeatLog(
      logLine('tidewatch agent heartbeat', {
        time: NOW,
        attributes: { 'event.name': 'tidewatch.agent.heartbeat', 'tidewatch.heartbeat.interval_ms': 5000, 'tidewatch.files': 2, 'tidewatch.lag_bytes./var/log/a.log': 1234, 'tidewatch.dropped.queue_full': 7 },
        resource: { 'host.name': 'web-9', 'tidewatch.agent.id': 'ag9' },
      }),
    );
    expect(isHb).toBe(true);
    expect(ops.listAgents(NOW)).toEqual([expect.objectContaining({ agent_id: 'ag9', host: 'web-9', streams: 2, lag_bytes: { '/var/log/a.log': 1234 }, drops: { queue_full: 7 }, status: 'ok' })]);
    expect(ops.applyHeartbeatLog(logLine('ordinary'))).toBe(false);
  });

  it('gives each pattern a per-minute sparkline of count increases', () => {
    const ops = new OpsState();
    const t0 = Math.floor(NOW / 60_000) * 60_000;
    ops.applyPattern(pattern({ count: 5, first_seen: t0 - 120_000, last_seen: t0 - 120_000 + 10 }));
    ops.applyPattern(pattern({ count: 8, first_seen: t0 - 120_000, last_seen: t0 - 60_000 + 10 }));
    ops.applyPattern(pattern({ count: 20, first_seen: t0 - 120_000, last_seen: t0 + 10 }));
    const [p] = ops.listPatterns(t0 + 10);
    expect(p?.spark.slice(-3)).toEqual([5, 3, 12]);
  });
});

describe('downsample', () => {
  it('keeps about two points per pixel, with each bucket\'s min and max', () => {
    const pts: Array<[number, number]> = [];
    for (let i = 0; i < 3600; i++) pts.push([i * 1000, i === 1234 ? 1000 : i % 7]);
    const out = downsample(pts, 0, 3_599_000, 100);
    expect(out.length).toBeLessThanOrEqual(200);
    expect(out.length).toBeGreaterThan(150);
    expect(out.some((p) => p[1] === 1000)).toBe(true); // the spike survives
    expect(out.map((p) => p[0])).toEqual([...out.map((p) => p[0])].sort((a, b) => a - b));
  });
});

describe('dashboard API over a bus', () => {
  it('serves alerts, patterns, agents, tail and overview from the topics', async () => {
    const { bus, d } = await setup();
    await publishPoints(bus, [linesPoint(NOW - 1000, 90), linesPoint(NOW - 1000, 10, { severity: 'error' })]);
    await publishAlert(bus, alert({ time: NOW }));
    await publishPattern(bus, pattern({ last_seen: NOW }));
    await publishHeartbeat(bus, heartbeat({ time: NOW }));
    await publishTail(bus, [logLine('payment failed for <b>order</b>', { time: NOW })]);
    const app = d.server;
    const ov = (await app.inject({ url: '/api/v1/overview' })).json();
    expect(ov.lines_per_second).toEqual({ info: 90, error: 10 });
    expect(ov.error_ratio_5m).toBeCloseTo(0.1);
    expect(ov.firing_alerts.map((a: { rule: string }) => a.rule)).toEqual(['HighErrorRate']);
    expect(ov.top_patterns.map((p: { template: string }) => p.template)).toEqual(['GET /api/<*> 200 <*>ms']);
    expect(ov.agents.map((a: { host: string; status: string }) => [a.host, a.status])).toEqual([['web-1', 'ok']]);
    const logs = (await app.inject({ url: '/api/v1/logs?after=0&contains=payment' })).json();
    expect(logs.lines.map((l: { body: string }) => l.body)).toEqual(['payment failed for <b>order</b>']);
    expect((await app.inject({ url: '/api/v1/logs?after=x' })).statusCode).toBe(400);
  });

  it('requires the CSRF header for acknowledge and silence, and refuses cross-origin posts', async () => {
    const { bus, d } = await setup();
    await publishAlert(bus, alert({ time: NOW }));
    const app = d.server;
    const noCsrf = await app.inject({ method: 'POST', url: '/api/v1/alerts/a1/ack', payload: { by: 'me' } });
    expect(noCsrf.statusCode).toBe(403);
    const { csrf } = (await app.inject({ url: '/api/v1/session' })).json();
    const cross = await app.inject({ method: 'POST', url: '/api/v1/alerts/a1/ack', headers: { 'x-tidewatch-csrf': csrf, origin: 'http://evil.example' }, payload: { by: 'me' } });
    expect(cross.statusCode).toBe(403);
    const ok = await app.inject({ method: 'POST', url: '/api/v1/alerts/a1/ack', headers: { 'x-tidewatch-csrf': csrf }, payload: { by: 'me' } });
    expect(ok.statusCode).toBe(200);
    expect(ok.json().alert.acknowledged).toEqual({ by: 'me', at: NOW });
    const sil = await app.inject({ method: 'POST', url: '/api/v1/alerts/a1/silence', headers: { 'x-tidewatch-csrf': csrf }, payload: { minutes: 30 } });
    expect(sil.json().alert.silenced_until).toBe(NOW + 30 * 60_000);
    const missing = await app.inject({ method: 'POST', url: '/api/v1/alerts/nope/ack', headers: { 'x-tidewatch-csrf': csrf }, payload: {} });
    expect(missing.statusCode).toBe(404);
    const hist = (await app.inject({ url: '/api/v1/alerts' })).json().history.map((h: { event: string }) => h.event);
    expect(hist).toEqual(['silenced', 'acknowledged', 'firing']);
  });

  it('downsamples a query to about two points per pixel and groups by a label', async () => {
    const { bus, d } = await setup();
    const pts = [];
    for (let i = 0; i < 1200; i++) {
      pts.push(linesPoint(NOW - 1_200_000 + i * 1000, 1, { severity: 'info', 'host.name': 'a' }));
      pts.push(linesPoint(NOW - 1_200_000 + i * 1000, 2, { severity: 'error', 'host.name': 'a' }));
    }
    await publishPoints(bus, pts);
    const res = (await d.server.inject({ url: '/api/v1/query?name=log.records&from=-20m&width=200' })).json();
    expect(res.series).toHaveLength(2);
    for (const s of res.series) expect(s.points.length).toBeLessThanOrEqual(400);
    const g = (await d.server.inject({ url: '/api/v1/query?name=log.records&from=-20m&group_by=host.name' })).json();
    expect(g.series).toHaveLength(1);
    expect(g.series[0].labels).toEqual({ 'host.name': 'a' });
    expect(g.series[0].points[0][1]).toBe(3);
    expect((await d.server.inject({ url: '/api/v1/query?name=log.records&width=3' })).statusCode).toBe(400);
  });

  it('serves an OpenAPI document naming every route', async () => {
    const { d } = await setup();
    const doc = (await d.server.inject({ url: '/api/v1/openapi.json' })).json();
    expect(doc.openapi).toBe('3.1.0');
    for (const p of ['/api/v1/query', '/api/v1/stream', '/api/v1/alerts', '/api/v1/alerts/{id}/ack', '/api/v1/logs', '/api/v1/agents', '/api/v1/patterns', '/metrics']) expect(Object.keys(doc.paths)).toContain(p);
  });
});

describe('token auth', () => {
  it('refuses a non-loopback bind without a token', async () => {
    const bus = createBus();
    await expect(startDashboard({ transport: bus, host: '0.0.0.0', port: 0 })).rejects.toMatchObject({ code: 'TW_USAGE' });
  });

  it('requires the token on every route but /healthz, and trades ?token= for a cookie', async () => {
    const token = 'a-long-enough-secret-token';
    const { d } = await setup({ token });
    const app = d.server;
    expect((await app.inject({ url: '/healthz' })).statusCode).toBe(200);
    expect((await app.inject({ url: '/api/v1/series' })).statusCode).toBe(401);
    expect((await app.inject({ url: '/' })).statusCode).toBe(401);
    expect((await app.inject({ url: '/api/v1/series', headers: { authorization: 'Bearer wrong-token-wrong-token!!' } })).statusCode).toBe(401);
    expect((await app.inject({ url: '/api/v1/series', headers: { authorization: `Bearer ${token}` } })).statusCode).toBe(200);
    const trade = await app.inject({ url: `/?token=${token}` });
    expect(trade.statusCode).toBe(303);
    const set = String(trade.headers['set-cookie']);
    expect(set).toContain('HttpOnly');
    expect(set).toContain('SameSite=Strict');
    const page = await app.inject({ url: '/', headers: { cookie: set.split(';')[0] ?? '' } });
    expect(page.statusCode).toBe(200);
  });
});

describe('SeriesStore.queryWidth', () => {
  it('gives what downsample(query) gives, without building every point first', async () => {
    const { SeriesStore } = await import('../../dashboard/store.js');
    const store = new SeriesStore();
    for (let i = 0; i < 3600; i++) store.upsert(linesPoint(NOW - 3_599_000 + i * 1000, (i * 37) % 101));
    for (const [from, to, width] of [
      [NOW - 3_600_000, NOW, 300],
      [NOW - 600_000, NOW - 100_000, 50],
      [NOW - 3_600_000, NOW, 5000],
    ] as const) {
      const full = store.query('log.records', from, to)[0]?.points ?? [];
      expect(store.queryWidth('log.records', from, to, width)[0]?.points).toEqual(downsample(full, from, to, width));
    }
  });
});

describe('query across tiers', () => {
  it('answers the part of a range older than the in-memory hour from the one-a-minute tier', async () => {
    const { d } = await setup();
    for (let m = 180; m > 60; m--) d.coarse.upsert(linesPoint(NOW - m * 60_000, 60));
    for (let i = 0; i < 60; i++) d.store.upsert(linesPoint(NOW - 59_000 + i * 1000, 1));
    const res = (await d.server.inject({ url: '/api/v1/query?name=log.records&from=-3h' })).json();
    expect(res.resolution_ms).toBe(60_000);
    const pts = res.series[0].points as Array<[number, number]>;
    expect(pts).toHaveLength(120 + 60);
    expect(pts[0]).toEqual([NOW - 180 * 60_000, 60]);
    expect(pts[pts.length - 1]).toEqual([NOW, 1]);
    const recent = (await d.server.inject({ url: '/api/v1/query?name=log.records&from=-1m' })).json();
    expect(recent.resolution_ms).toBe(1000);
  });
});
