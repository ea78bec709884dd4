/**
 * The alerts sink over the embedded bus: detect_anomalies' alert events become `alerts` wire
 * records on the alerts topic, which is what the dashboard's Alerts page reads.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { components } from '../../../collector/components.js';
import { parseConfig } from '../../../core/config/load.js';
import { PipelineRunner } from '../../../core/runner.js';
import { MemoryTelemetry } from '../../../core/telemetry.js';
import { createBus } from '../../../core/transports/bus.js';
import { decodeMessage } from '../../../core/wire.js';
import type { AlertRecord } from '../../../core/wire.js';
import { Harness, line } from '../../support/memory-components.js';

describe('alerts sink', () => {
  it('publishes each alert state change as an alert record on the alerts topic, and nothing else', async () => {
    const h = new Harness();
    const bus = createBus();
    await bus.start();
    const got: AlertRecord[] = [];
    const other: string[] = [];
    await bus.subscribe({ topics: ['tidewatch.alerts'], groupId: 'dash', fromBeginning: true }, async (b) => {
      for (const m of b.messages) {
        const d = decodeMessage(m);
        if (d.type === 'alerts') got.push(d.record);
        else other.push(d.type);
      }
    });
    const dir = await mkdtemp(join(tmpdir(), 'tw-alerts-sink-'));
    const yaml = `
data_dir: ${dir}
sources: { src: { type: test } }
transforms:
  windows: { type: rollup, lateness_ms: 0 }
  rules:
    type: detect_anomalies
    evaluation_interval_ms: 100
    pass_through: false
    rules:
      - { name: error_burst, kind: increase, metric: log.records, matchers: ['severity="error"'], range_ms: 60000, threshold: 15, severity: critical }
sinks:
  alerts: { type: alerts }
pipelines: { p: { sources: [src], transforms: [windows, rules], sinks: [alerts] } }
`;
    const all = [...components, ...h.components()];
    const telemetry = new MemoryTelemetry();
    const runner = new PipelineRunner({ config: await parseConfig(yaml, 'inline.yaml', { env: {}, components: all }), components: all, agentId: 'a', hostName: 'h', tickMs: 20, bus, telemetry });
    await runner.start();
    try {
      const now = Date.now();
      await h.sourceCtx.get('src')!.emit(Array.from({ length: 20 }, (_, i) => line(`boom ${i}`, { observed_time: now + i, severity_number: 17 })));
      const until = Date.now() + 10_000;
      while (got.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 25));
    } finally {
      await runner.stop();
      await bus.stop();
    }
    expect(got.length).toBeGreaterThanOrEqual(1);
    expect(got[0]).toMatchObject({ state: 'firing', severity: 'critical' });
    expect(got[0]!.labels['alertname']).toBe('error_burst');
    expect(other).toEqual([]);
    expect(telemetry.value('tidewatch_alerts_published_total', { component: 'alerts' })).toBe(got.length);
  });

  it('refuses to start without brokers outside the embedded mode', async () => {
    const { alertsSink } = await import('../../../collector/sinks/alerts.js');
    const sink = alertsSink.create({ topic: 'tidewatch.alerts' }, { name: 'a', dataDir: '/tmp', telemetry: new MemoryTelemetry(), log: (await import('../../../core/log.js')).silentLogger, now: Date.now, agentId: 'a', hostName: 'h', bus: undefined });
    await expect(sink.start()).rejects.toMatchObject({ code: 'TW_CONFIG_WIRING' });
  });
});
