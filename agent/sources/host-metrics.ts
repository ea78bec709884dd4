/**
 * `host_metrics` source: the host's vital signs from /proc (and statfs for filesystems) at an
 * interval, named as the OpenTelemetry hostmetrics receiver and semantic conventions name them:
 *
 *   cpu         system.cpu.time {cpu, state} (s, cumulative since boot), system.cpu.utilization {cpu, state} (0..1)
 *   memory      system.memory.usage {state} (By), system.memory.utilization {state}, system.memory.limit (By)
 *   load        system.cpu.load_average.1m / .5m / .15m
 *   filesystem  system.filesystem.usage {device, mountpoint, type, mode, state} (By), system.filesystem.inodes.usage, system.filesystem.utilization
 *   disk        system.disk.io {device, direction} (By), system.disk.operations, system.disk.operation_time (s), system.disk.io_time (s)
 *   network     system.network.io {device, direction} (By), system.network.packets, system.network.errors, system.network.dropped
 *   uptime      system.uptime (s)
 *
 * Counters since boot are cumulative sums whose start_time is the boot time. A group that cannot
 * be read is skipped for that interval, counted (TW_HOST_READ) and logged once when it starts
 * failing, not at every interval.
 */
import { readFile, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import type { Source, SourceFactory } from '../../core/component.js';
import { TidewatchError } from '../../core/errors.js';
import type { Attributes, MetricPoint } from '../../core/model.js';
import { within } from '../../core/within.js';
import {
  DEFAULT_EXCLUDED_FS_TYPES,
  memoryStates,
  parseDiskstats,
  parseLoadavg,
  parseMeminfo,
  parseMounts,
  parseNetDev,
  parseStat,
  parseUptime,
} from './host/proc.js';
import type { CpuTimes } from './host/proc.js';

const GROUPS = ['cpu', 'memory', 'load', 'filesystem', 'disk', 'network', 'uptime'] as const;
type Group = (typeof GROUPS)[number];

export const HostMetricsSchema = Type.Object(
  {
    interval_ms: Type.Integer({ default: 10_000, minimum: 100, description: 'Time between collections; 10 s keeps the cost negligible and charts useful.' }),
    collect: Type.Array(Type.Union(GROUPS.map((g) => Type.Literal(g))), {
      default: [...GROUPS],
      uniqueItems: true,
      description: 'Which groups to collect: cpu, memory, load, filesystem, disk, network, uptime.',
    }),
    proc_root: Type.String({ default: '/proc', description: 'Where /proc is; a container watching its host mounts the host\'s /proc elsewhere (e.g. /hostfs/proc).' }),
    root_path: Type.String({ default: '', description: 'Prefix for mount points when calling statfs (e.g. /hostfs), for the same container case.' }),
    exclude_fs_types: Type.Array(Type.String(), { default: DEFAULT_EXCLUDED_FS_TYPES, description: 'Filesystem types skipped: pseudo filesystems have no capacity worth charting.' }),
    exclude_disk_devices: Type.Array(Type.String(), { default: ['^loop\\d+$', '^ram\\d+$'], description: 'Regular expressions of block devices skipped (loop and ram devices by default).' }),
    exclude_network_devices: Type.Array(Type.String(), { default: [], description: 'Regular expressions of network interfaces skipped.' }),
    max_filesystems: Type.Integer({ default: 64, minimum: 1, description: 'Mounts measured at most per interval; bounds the series a host with many mounts creates.' }),
    statfs_timeout_ms: Type.Integer({ default: 2_000, minimum: 10, description: 'A mount that does not answer statfs in time (a dead NFS server) is skipped for that interval.' }),
  },
  { additionalProperties: false },
);

export type HostMetricsConfig = Static<typeof HostMetricsSchema>;

/** What one collection needs to remember for the next (CPU utilization is a rate between two reads). */
export interface HostState {
  lastCpu: Map<string, Record<string, number>>;
  failing: Set<Group>;
}

export function newHostState(): HostState {
  return { lastCpu: new Map(), failing: new Set() };
}

export interface CollectResult {
  points: MetricPoint[];
  failed: { group: Group; error: string }[];
}

/** One collection. `now` is the points' time; file reads go through `read` so tests can use fixtures. */
export async function collectHost(config: HostMetricsConfig, state: HostState, resource: Attributes, now: number): Promise<CollectResult> {
  const out: CollectResult = { points: [], failed: [] };
  const proc = (f: string): Promise<string> => readFile(join(config.proc_root, f), 'utf8');
  const want = new Set(config.collect);
  const gauge = (name: string, unit: string, value: number, attributes: Attributes = {}): void =>
    void out.points.push({ kind: 'metric', type: 'gauge', name, unit, value, time: now, attributes, resource });
  const updown = (name: string, unit: string, value: number, attributes: Attributes): void =>
    void out.points.push({ kind: 'metric', type: 'sum', temporality: 'cumulative', monotonic: false, name, unit, value, time: now, attributes, resource });
  let boot: number | undefined;
  const counter = (name: string, unit: string, value: number, attributes: Attributes): void => {
    const p: MetricPoint = { kind: 'metric', type: 'sum', temporality: 'cumulative', monotonic: true, name, unit, value, time: now, attributes, resource };
    if (boot !== undefined) p.start_time = boot;
    out.points.push(p);
  };
  const attempt = async (group: Group, fn: () => Promise<void>): Promise<void> => {
    if (!want.has(group)) return;
    try {
      await fn();
    } catch (err) {
      out.failed.push({ group, error: (err as Error).message });
    }
  };
  const excluded = (patterns: string[]): ((s: string) => boolean) => {
    const res = patterns.map((p) => new RegExp(p));
    return (s) => res.some((r) => r.test(s));
  };

  await attempt('cpu', async () => {
    const stat = parseStat(await proc('stat'));
    boot = stat.bootTime;
    if (stat.cpus.length === 0) throw new Error('no cpuN lines in stat');
    for (const c of stat.cpus) {
      for (const [s, v] of Object.entries(c.times)) counter('system.cpu.time', 's', v, { cpu: c.cpu, state: s });
      utilization(c, state, gauge);
    }
  });
  if (boot === undefined && (want.has('disk') || want.has('network'))) {
    boot = await proc('stat').then((t) => parseStat(t).bootTime, () => undefined);
  }
  await attempt('memory', async () => {
    const mi = parseMeminfo(await proc('meminfo'));
    const states = memoryStates(mi);
    if (states === undefined) throw new Error('meminfo has no MemTotal/MemFree');
    const total = mi['MemTotal']!;
    for (const [s, v] of Object.entries(states)) {
      updown('system.memory.usage', 'By', v, { state: s });
      gauge('system.memory.utilization', '1', total > 0 ? v / total : 0, { state: s });
    }
    updown('system.memory.limit', 'By', total, {});
  });
  await attempt('load', async () => {
    const l = parseLoadavg(await proc('loadavg'));
    if (l === undefined) throw new Error('loadavg is malformed');
    gauge('system.cpu.load_average.1m', '{thread}', l.m1);
    gauge('system.cpu.load_average.5m', '{thread}', l.m5);
    gauge('system.cpu.load_average.15m', '{thread}', l.m15);
  });
  await attempt('uptime', async () => {
    const u = parseUptime(await proc('uptime'));
    if (u === undefined) throw new Error('uptime is malformed');
    gauge('system.uptime', 's', u);
  });
  await attempt('disk', async () => {
    const skip = excluded(config.exclude_disk_devices);
    for (const d of parseDiskstats(await proc('diskstats'))) {
      if (skip(d.device)) continue;
      counter('system.disk.io', 'By', d.readBytes, { device: d.device, direction: 'read' });
      counter('system.disk.io', 'By', d.writeBytes, { device: d.device, direction: 'write' });
      counter('system.disk.operations', '{operation}', d.reads, { device: d.device, direction: 'read' });
      counter('system.disk.operations', '{operation}', d.writes, { device: d.device, direction: 'write' });
      counter('system.disk.operation_time', 's', d.readTimeS, { device: d.device, direction: 'read' });
      counter('system.disk.operation_time', 's', d.writeTimeS, { device: d.device, direction: 'write' });
      counter('system.disk.io_time', 's', d.ioTimeS, { device: d.device });
    }
  });
  await attempt('network', async () => {
    const skip = excluded(config.exclude_network_devices);
    for (const n of parseNetDev(await proc('net/dev'))) {
      if (skip(n.device)) continue;
      const pair = (name: string, unit: string, rx: number, tx: number): void => {
        counter(name, unit, rx, { device: n.device, direction: 'receive' });
        counter(name, unit, tx, { device: n.device, direction: 'transmit' });
      };
      pair('system.network.io', 'By', n.rxBytes, n.txBytes);
      pair('system.network.packets', '{packet}', n.rxPackets, n.txPackets);
      pair('system.network.errors', '{error}', n.rxErrors, n.txErrors);
      pair('system.network.dropped', '{packet}', n.rxDropped, n.txDropped);
    }
  });
  await attempt('filesystem', async () => {
    const types = new Set(config.exclude_fs_types);
    const seen = new Set<string>();
    const mounts = parseMounts(await proc('mounts')).filter((m) => {
      if (types.has(m.type) || seen.has(m.mountpoint)) return false;
      seen.add(m.mountpoint);
      return true;
    });
    for (const m of mounts.slice(0, config.max_filesystems)) {
      const s = await within(
        statfs(join(config.root_path || '/', m.mountpoint)).catch(() => undefined),
        config.statfs_timeout_ms,
      );
      if (s === undefined || s === false || s.blocks === 0) continue;
      const attrs = { device: m.device, mountpoint: m.mountpoint, type: m.type, mode: m.mode };
      const used = (s.blocks - s.bfree) * s.bsize;
      const free = s.bavail * s.bsize;
      const reserved = (s.bfree - s.bavail) * s.bsize;
      updown('system.filesystem.usage', 'By', used, { ...attrs, state: 'used' });
      updown('system.filesystem.usage', 'By', free, { ...attrs, state: 'free' });
      updown('system.filesystem.usage', 'By', reserved, { ...attrs, state: 'reserved' });
      updown('system.filesystem.inodes.usage', '{inode}', s.files - s.ffree, { ...attrs, state: 'used' });
      updown('system.filesystem.inodes.usage', '{inode}', s.ffree, { ...attrs, state: 'free' });
      gauge('system.filesystem.utilization', '1', used + free > 0 ? used / (used + free) : 0, attrs);
    }
  });
  return out;
}

function utilization(c: CpuTimes, state: HostState, gauge: (name: string, unit: string, value: number, attributes: Attributes) => void): void {
  const prev = state.lastCpu.get(c.cpu);
  state.lastCpu.set(c.cpu, c.times);
  if (prev === undefined) return;
  let total = 0;
  for (const [s, v] of Object.entries(c.times)) total += v - (prev[s] ?? 0);
  if (total <= 0) return;
  for (const [s, v] of Object.entries(c.times)) gauge('system.cpu.utilization', '1', Math.max(0, (v - (prev[s] ?? 0)) / total), { cpu: c.cpu, state: s });
}

export const hostMetricsSource: SourceFactory<typeof HostMetricsSchema> = {
  type: 'host_metrics',
  role: 'source',
  description: 'Collects CPU, memory, load, filesystem, disk I/O and network metrics of the host from /proc.',
  schema: HostMetricsSchema,
  create(config, ctx): Source {
    // The patterns are compiled at each collection; a bad one must fail at start, not be logged
    // as an unreadable disk or network group every interval (found by test/fuzz/config.test.ts).
    for (const key of ['exclude_disk_devices', 'exclude_network_devices'] as const) {
      config[key].forEach((p, i) => {
        try {
          new RegExp(p);
        } catch (err) {
          throw new TidewatchError('TW_CONFIG_SCHEMA', `sources.${ctx.name}.${key}[${i}]: ${(err as Error).message}`);
        }
      });
    }
    const state = newHostState();
    const resource: Attributes = { 'host.name': ctx.hostName, 'os.type': 'linux', 'tidewatch.agent.id': ctx.agentId };
    let timer: NodeJS.Timeout | undefined;
    let running: Promise<void> | undefined;
    let stopped = false;
    const tick = async (): Promise<void> => {
      const r = await collectHost(config, state, resource, ctx.now());
      const failedNow = new Set(r.failed.map((f) => f.group));
      for (const f of r.failed) {
        ctx.telemetry.add('tidewatch_errors_total', { component: ctx.name, code: 'TW_HOST_READ' });
        if (!state.failing.has(f.group)) ctx.log.warn('host metrics group cannot be read', { group: f.group, error: f.error, code: 'TW_HOST_READ' });
      }
      for (const g of state.failing) if (!failedNow.has(g)) ctx.log.info('host metrics group readable again', { group: g });
      state.failing = failedNow;
      if (r.points.length === 0 || stopped) return;
      try {
        await ctx.emit(r.points);
      } catch {
        // Host metrics are a sample of now: a refused batch is counted, the next interval is fresh.
        ctx.telemetry.add('tidewatch_events_dropped_total', { component: ctx.name, reason: 'sink_failed' }, r.points.length);
      }
    };
    const run = (): void => {
      if (running !== undefined || stopped) return; // never overlap collections
      running = tick().finally(() => (running = undefined));
    };
    return {
      async start() {
        run();
        timer = setInterval(run, config.interval_ms);
        timer.unref();
      },
      async stop() {
        stopped = true;
        clearInterval(timer);
        await running;
      },
    };
  },
};
