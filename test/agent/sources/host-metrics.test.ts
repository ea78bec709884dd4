/**
 * `host_metrics` against a fixture /proc (exact values) and against this machine's real /proc
 * (values consistent with what Node's os module says).
 */
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Value } from '@sinclair/typebox/value';
import { afterEach, describe, expect, it } from 'vitest';
import { HostMetricsSchema, collectHost, hostMetricsSource, newHostState } from '../../../agent/sources/host-metrics.js';
import type { HostMetricsConfig } from '../../../agent/sources/host-metrics.js';
import { parseMounts } from '../../../agent/sources/host/proc.js';
import type { SourceContext } from '../../../core/component.js';
import { createLogger } from '../../../core/log.js';
import type { Event, MetricPoint } from '../../../core/model.js';
import { MemoryTelemetry } from '../../../core/telemetry.js';
import { waitFor } from './otlp-helpers.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/proc', import.meta.url));
const config = (o: Partial<HostMetricsConfig> = {}): HostMetricsConfig => Value.Default(HostMetricsSchema, { ...o }) as HostMetricsConfig;

function find(points: MetricPoint[], name: string, attrs: Record<string, unknown> = {}): MetricPoint | undefined {
  return points.find((p) => p.name === name && Object.entries(attrs).every(([k, v]) => p.attributes[k] === v));
}
const value = (p: MetricPoint | undefined): number | undefined => (p && (p.type === 'gauge' || p.type === 'sum') ? p.value : undefined);

let tmp: string | undefined;
afterEach(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
  tmp = undefined;
});

describe('host_metrics from a fixture /proc', () => {
  it('reads cpu, memory, load, uptime, disk, network and filesystems with their units and start times', async () => {
    const r = await collectHost(config({ proc_root: FIXTURE }), newHostState(), { 'host.name': 'h' }, 5000);
    expect(r.failed).toEqual([]);
    const p = r.points;
    const boot = 1764000000 * 1000;
    expect(find(p, 'system.cpu.time', { cpu: 'cpu0', state: 'user' })).toMatchObject({ type: 'sum', temporality: 'cumulative', monotonic: true, unit: 's', value: 10, start_time: boot, time: 5000 });
    expect(value(find(p, 'system.cpu.time', { cpu: 'cpu1', state: 'wait' }))).toBe(1.5);
    expect(value(find(p, 'system.memory.usage', { state: 'used' }))).toBe((8000000 - 1000000 - 200000 - 3000000 - 300000) * 1024);
    expect(value(find(p, 'system.memory.usage', { state: 'cached' }))).toBe(3000000 * 1024);
    expect(value(find(p, 'system.memory.limit'))).toBe(8000000 * 1024);
    expect(value(find(p, 'system.memory.utilization', { state: 'free' }))).toBeCloseTo(1 / 8, 10);
    expect(value(find(p, 'system.cpu.load_average.1m'))).toBe(0.52);
    expect(value(find(p, 'system.cpu.load_average.15m'))).toBe(0.4);
    expect(value(find(p, 'system.uptime'))).toBe(12345.67);
    expect(find(p, 'system.disk.io', { device: 'loop0' })).toBeUndefined();
    expect(value(find(p, 'system.disk.io', { device: 'sda', direction: 'read' }))).toBe(20000 * 512);
    expect(value(find(p, 'system.disk.io', { device: 'sda', direction: 'write' }))).toBe(40000 * 512);
    expect(value(find(p, 'system.disk.operations', { device: 'sda1', direction: 'write' }))).toBe(1900);
    expect(value(find(p, 'system.disk.io_time', { device: 'sda' }))).toBe(1.8);
    expect(find(p, 'system.network.io', { device: 'eth0', direction: 'receive' })).toMatchObject({ unit: 'By', value: 1000000, start_time: boot });
    expect(value(find(p, 'system.network.dropped', { device: 'eth0', direction: 'transmit' }))).toBe(4);
    expect(value(find(p, 'system.network.errors', { device: 'eth0', direction: 'receive' }))).toBe(1);
    // The fixture's mounts: "/" (overlay, measured through the real statfs), /proc skipped as a
    // pseudo filesystem, and a mount point that does not exist here, skipped.
    const fs = p.filter((x) => x.name === 'system.filesystem.usage');
    expect(new Set(fs.map((x) => x.attributes['mountpoint']))).toEqual(new Set(['/']));
    expect(fs.map((x) => x.attributes['state']).sort()).toEqual(['free', 'reserved', 'used']);
    expect(value(find(p, 'system.filesystem.usage', { mountpoint: '/', state: 'used' }))).toBeGreaterThan(0);
  });

  it('decodes octal escapes in mount points', () => {
    expect(parseMounts('/dev/sda1 /mnt/with\\040space ext4 ro,relatime 0 0\n')).toEqual([{ device: '/dev/sda1', mountpoint: '/mnt/with space', type: 'ext4', mode: 'ro' }]);
  });

  it('computes cpu utilization from two collections', async () => {
    tmp = await mkdtemp(join(tmpdir(), 'tw-proc-'));
    await cp(FIXTURE, tmp, { recursive: true });
    const state = newHostState();
    const cfg = config({ proc_root: tmp, collect: ['cpu'] });
    const first = await collectHost(cfg, state, {}, 1);
    expect(first.points.some((p) => p.name === 'system.cpu.utilization')).toBe(false);
    // cpu0: +300 user, +100 system, +600 idle ticks → 30 % user, 10 % system, 60 % idle.
    await writeFile(join(tmp, 'stat'), 'cpu0 1300 50 600 25600 150 0 100 0\ncpu1 1000 50 500 25000 150 0 100 0\nbtime 1764000000\n');
    const second = await collectHost(cfg, state, {}, 2);
    expect(value(find(second.points, 'system.cpu.utilization', { cpu: 'cpu0', state: 'user' }))).toBeCloseTo(0.3, 10);
    expect(value(find(second.points, 'system.cpu.utilization', { cpu: 'cpu0', state: 'system' }))).toBeCloseTo(0.1, 10);
    expect(value(find(second.points, 'system.cpu.utilization', { cpu: 'cpu0', state: 'idle' }))).toBeCloseTo(0.6, 10);
    // cpu1 did not move: no rate to report rather than a division by zero.
    expect(find(second.points, 'system.cpu.utilization', { cpu: 'cpu1' })).toBeUndefined();
  });

  it('skips a group it cannot read, warns once, and keeps collecting the rest', async () => {
    tmp = await mkdtemp(join(tmpdir(), 'tw-proc-'));
    await cp(FIXTURE, tmp, { recursive: true });
    await rm(join(tmp, 'diskstats'));
    const batches: Event[][] = [];
    const logs: Record<string, unknown>[] = [];
    const telemetry = new MemoryTelemetry();
    const ctx: SourceContext = {
      name: 'host',
      dataDir: '/nonexistent',
      telemetry,
      log: createLogger({ write: (l) => void logs.push(JSON.parse(l) as Record<string, unknown>) }),
      now: Date.now,
      agentId: 'a',
      hostName: 'web-1',
      bus: undefined,
      emit: async (e) => void batches.push(e),
    };
    const src = hostMetricsSource.create(config({ proc_root: tmp, interval_ms: 100, collect: ['disk', 'memory'] }), ctx);
    await src.start();
    await waitFor(() => batches.length >= 3);
    await src.stop();
    expect(logs.filter((l) => l['msg'] === 'host metrics group cannot be read').map((l) => l['group'])).toEqual(['disk']);
    expect(telemetry.value('tidewatch_errors_total', { component: 'host', code: 'TW_HOST_READ' })).toBeGreaterThanOrEqual(3);
    for (const b of batches) {
      expect(b.some((e) => e.kind === 'metric' && e.name === 'system.memory.usage')).toBe(true);
      expect(b[0]).toMatchObject({ resource: { 'host.name': 'web-1', 'os.type': 'linux', 'tidewatch.agent.id': 'a' } });
    }
  });
});

describe('host_metrics from this machine', () => {
  it('agrees with the os module on CPUs and total memory', async () => {
    const r = await collectHost(config(), newHostState(), {}, Date.now());
    expect(r.failed).toEqual([]);
    const cpuNames = new Set(r.points.filter((p) => p.name === 'system.cpu.time').map((p) => p.attributes['cpu']));
    expect(cpuNames.size).toBe(cpus().length);
    expect(value(find(r.points, 'system.memory.limit'))).toBe(totalmem());
    expect(r.points.some((p) => p.name === 'system.network.io')).toBe(true);
    expect(r.points.some((p) => p.name === 'system.filesystem.usage')).toBe(true);
  });
});
