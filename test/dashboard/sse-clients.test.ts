/** `tidewatch_dashboard_sse_clients`: live stream clients, on the dashboard's /metrics. */
import { request } from 'node:http';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryTelemetry } from '../../core/telemetry.js';
import { buildServer } from '../../dashboard/server.js';
import { SeriesStore } from '../../dashboard/store.js';

const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

describe('dashboard live clients gauge', () => {
  it('counts open /api/v1/stream clients up and down, and shows them on /metrics', async () => {
    const telemetry = new MemoryTelemetry();
    const app = buildServer({ store: new SeriesStore(), telemetry, stream: { flushMs: 20 } });
    closers.push(() => app.close());
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as AddressInfo;
    const open = (): Promise<IncomingMessage> =>
      new Promise((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/api/v1/stream' }, resolve);
        req.on('error', reject);
        req.end();
      });
    const gauge = (): number => telemetry.value('tidewatch_dashboard_sse_clients');
    const waitFor = async (pred: () => boolean): Promise<void> => {
      for (let i = 0; i < 300 && !pred(); i++) await new Promise((r) => setTimeout(r, 10));
      expect(pred()).toBe(true);
    };
    const a = await open();
    const b = await open();
    a.resume();
    b.resume();
    await waitFor(() => gauge() === 2);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toMatch(/^# TYPE tidewatch_dashboard_sse_clients gauge$/m);
    expect(metrics).toMatch(/^tidewatch_dashboard_sse_clients 2$/m);
    a.destroy();
    await waitFor(() => gauge() === 1);
    b.destroy();
    await waitFor(() => gauge() === 0);
  });
});
