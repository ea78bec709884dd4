import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createBus } from '../../core/transports/bus.js';
import { OpsState } from '../../dashboard/ops.js';
import { Persistence, frame, unframe } from '../../dashboard/persist.js';
import { startDashboard } from '../../dashboard/service.js';
import { SeriesStore } from '../../dashboard/store.js';
import { alert, linesPoint, pattern, publishAlert, publishPattern, publishPoints } from './fixture.js';

const NOW = 1_764_064_800_000;
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'tw-persist-'));
  dirs.push(d);
  return d;
}

describe('segment framing', () => {
  it('skips and counts a line whose checksum does not match, keeping the others', () => {
    const good = frame('{"a":1}') + frame('{"a":2}');
    const torn = `${good}${frame('{"a":3}').replace('3', '4')}${frame('{"a":5}')}0000`;
    const { records, bad } = unframe(torn);
    expect(records).toEqual([{ a: 1 }, { a: 2 }, { a: 5 }]);
    expect(bad).toBe(2);
  });
});

describe('dashboard persistence', () => {
  it('rollups, alerts and patterns survive a restart of the dashboard', async () => {
    const dataDir = tmp();
    let now = NOW;
    const run = async () => {
      const bus = createBus();
      await bus.start();
      const d = await startDashboard({ transport: bus, port: 0, dataDir, now: () => now });
      return { bus, d, stop: async () => { await d.stop(); await bus.stop(); } };
    };
    const a = await run();
    const pts = [];
    for (let i = 0; i < 180; i++) pts.push(linesPoint(NOW - 180_000 + i * 1000, i % 5, { severity: 'info' }));
    await publishPoints(a.bus, pts);
    await publishAlert(a.bus, alert({ time: NOW }));
    await publishPattern(a.bus, pattern({ last_seen: NOW, count: 77 }));
    const { csrf } = (await a.d.server.inject({ url: '/api/v1/session' })).json();
    const ack = await a.d.server.inject({ method: 'POST', url: '/api/v1/alerts/a1/ack', headers: { 'x-tidewatch-csrf': csrf }, payload: { by: 'oncall' } });
    expect(ack.statusCode).toBe(200);
    await a.d.server.inject({ method: 'POST', url: '/api/v1/alerts/a1/silence', headers: { 'x-tidewatch-csrf': csrf }, payload: { minutes: 10, by: 'oncall' } });
    await a.stop();

    now = NOW + 5000;
    const b = await run();
    try {
      const q = (await b.d.server.inject({ url: '/api/v1/query?name=log.records&from=-10m' })).json();
      expect(q.series[0].points).toHaveLength(180);
      expect(q.series[0].points[5]).toEqual([NOW - 175_000, 0]);
      const alerts = (await b.d.server.inject({ url: '/api/v1/alerts' })).json().alerts;
      expect(alerts.map((x: { rule: string; status: string }) => [x.rule, x.status])).toEqual([['HighErrorRate', 'firing']]);
      expect(alerts[0].acknowledged).toEqual({ by: 'oncall', at: NOW });
      expect(alerts[0].silenced_until).toBe(NOW + 10 * 60_000);
      const pats = (await b.d.server.inject({ url: '/api/v1/patterns' })).json().patterns;
      expect(pats.map((p: { count: number }) => p.count)).toEqual([77]);
      // The minute tier answers for ranges older than the full-resolution window.
      expect(b.d.coarse.query('log.records', 0, Infinity)[0]?.points.length).toBeGreaterThanOrEqual(3);
    } finally {
      await b.stop();
    }
  });

  it('drops points beyond retention at load and compacts a file past its byte bound', () => {
    const dir = tmp();
    let now = NOW;
    const p = new Persistence({ dir, now: () => now, fine: { retentionMs: 60_000, maxBytes: 20_000 } });
    const store = new SeriesStore();
    p.attach(store, new SeriesStore(), new OpsState());
    for (let i = 0; i < 600; i++) {
      now = NOW + i * 1000;
      store.upsert(linesPoint(now, 1));
      if (i % 50 === 49) p.flush();
    }
    p.close();
    expect(p.counters.compactions).toBeGreaterThan(0);
    expect(statSync(join(dir, 'rollups-1s.seg')).size).toBeLessThanOrEqual(20_000);
    // A torn tail (crash mid-write) does not stop the rest from loading.
    appendFileSync(join(dir, 'rollups-1s.seg'), 'deadbeef ["log.rec');
    const q = new Persistence({ dir, now: () => now, fine: { retentionMs: 60_000, maxBytes: 20_000 } });
    const again = new SeriesStore();
    q.attach(again, new SeriesStore(), new OpsState());
    q.close();
    const kept = again.query('log.records', 0, Infinity)[0]?.points ?? [];
    expect(kept.length).toBeGreaterThan(30);
    expect(kept.length).toBeLessThanOrEqual(61);
    expect(kept[0]?.[0]).toBeGreaterThanOrEqual(now - 60_000);
    expect(q.counters.corrupt).toBe(1);
  });

  it('keeps the latest record per alert when compacting the catalog', () => {
    const dir = tmp();
    const lines = [];
    for (let i = 0; i < 200; i++) lines.push(frame(JSON.stringify(alert({ time: NOW + i, value: i }))));
    writeFileSync(join(dir, 'alerts.seg'), lines.join(''));
    const p = new Persistence({ dir, now: () => NOW });
    p.compact('alerts.seg', 1_000_000);
    const { records } = unframe(readFileSync(join(dir, 'alerts.seg'), 'utf8'));
    expect(records).toHaveLength(1);
    expect((records[0] as { value: number }).value).toBe(199);
  });
});
