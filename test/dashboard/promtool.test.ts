/**
 * /metrics through Prometheus' own linter: `promtool check metrics` (Debian package prometheus,
 * installed by .ci/run). Missing promtool fails the test loudly instead of skipping it.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { MemoryTelemetry } from '../../core/telemetry.js';
import { buildServer } from '../../dashboard/server.js';
import { SeriesStore } from '../../dashboard/store.js';
import { linesPoint } from './fixture.js';

const NOW = 1_764_064_800_000;

function promtool(input: string): { status: number | null; out: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input, encoding: 'utf8' });
  if (r.error !== undefined) throw new Error(`promtool is missing (${r.error.message}): install the Debian package prometheus (apt-get install -y prometheus); .ci/run does`);
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('GET /metrics under promtool check metrics', () => {
  it('passes with odd names, escaped label values, gauges, counters and self-telemetry', async () => {
    const store = new SeriesStore();
    const telemetry = new MemoryTelemetry();
    store.upsert(linesPoint(NOW - 1000, 5, { severity: 'info', 'service.name': 'sh"op\\x\ny' }));
    store.upsert(linesPoint(NOW, 2, { severity: 'error' }));
    store.upsert({ kind: 'metric', type: 'gauge', name: '9http.server.active', time: NOW, value: 3, attributes: { 'k-1': 'v' }, resource: {} });
    store.upsert({ kind: 'metric', type: 'gauge', name: 'queue.depth', time: NOW, value: -1.5e-7, attributes: {}, resource: {} });
    telemetry.add('tidewatch_rollup_late_total', { component: 'r' }, 2);
    telemetry.set('tidewatch_file_unread_bytes', { path: '/var/log/a.log' }, 10);
    const app = buildServer({ store, telemetry, now: () => NOW });
    const res = await app.inject({ url: '/metrics' });
    await app.close();
    expect(res.statusCode).toBe(200);
    const r = promtool(res.body);
    expect(r.out).toBe('');
    expect(r.status).toBe(0);
  });

  it('promtool does reject a broken exposition (the check has teeth)', () => {
    const r = promtool('# TYPE x counter\nx{a="b} 1\n');
    expect(r.status).not.toBe(0);
  });
});
