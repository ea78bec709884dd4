/**
 * Pure parsers of the Linux /proc files the `host_metrics` source reads (proc(5)): text in,
 * numbers out, never a throw on an odd line (it is skipped). Units are converted here: CPU
 * ticks to seconds (USER_HZ, 100 on every mainstream Linux build), kB to bytes, sectors to
 * bytes (the kernel's diskstats sector is always 512 bytes), milliseconds to seconds.
 */

export const USER_HZ = 100;
export const SECTOR_BYTES = 512;

export interface CpuTimes {
  cpu: string;
  /** Seconds per state, OpenTelemetry `system.cpu.time` state names. */
  times: Record<string, number>;
}

export interface ProcStat {
  cpus: CpuTimes[];
  /** Boot time, epoch ms (the start of every since-boot counter). */
  bootTime: number | undefined;
}

const CPU_STATES = ['user', 'nice', 'system', 'idle', 'wait', 'interrupt', 'softirq', 'steal'] as const;

export function parseStat(text: string): ProcStat {
  const cpus: CpuTimes[] = [];
  let bootTime: number | undefined;
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (/^cpu\d+$/.test(f[0] ?? '')) {
      const times: Record<string, number> = {};
      CPU_STATES.forEach((s, i) => {
        const v = Number(f[i + 1]);
        if (Number.isFinite(v)) times[s] = v / USER_HZ;
      });
      cpus.push({ cpu: f[0]!, times });
    } else if (f[0] === 'btime' && Number.isFinite(Number(f[1]))) bootTime = Number(f[1]) * 1000;
  }
  return { cpus, bootTime };
}

/** /proc/meminfo as bytes by key (`MemTotal`, `MemFree`, ...). */
export function parseMeminfo(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z0-9_()]+):\s+(\d+)(?:\s+kB)?\s*$/.exec(line);
    if (m) out[m[1]!] = Number(m[2]) * (line.trimEnd().endsWith('kB') ? 1024 : 1);
  }
  return out;
}

/** Memory by OpenTelemetry `system.memory.usage` state, bytes. */
export function memoryStates(mi: Record<string, number>): Record<string, number> | undefined {
  const total = mi['MemTotal'];
  const free = mi['MemFree'];
  if (total === undefined || free === undefined) return undefined;
  const buffered = mi['Buffers'] ?? 0;
  const cached = mi['Cached'] ?? 0;
  const sreclaimable = mi['SReclaimable'] ?? 0;
  const sunreclaim = mi['SUnreclaim'] ?? 0;
  return {
    used: Math.max(0, total - free - buffered - cached - sreclaimable),
    free,
    buffered,
    cached,
    slab_reclaimable: sreclaimable,
    slab_unreclaimable: sunreclaim,
  };
}

export function parseLoadavg(text: string): { m1: number; m5: number; m15: number } | undefined {
  const f = text.trim().split(/\s+/).map(Number);
  if (f.length < 3 || !f.slice(0, 3).every(Number.isFinite)) return undefined;
  return { m1: f[0]!, m5: f[1]!, m15: f[2]! };
}

export function parseUptime(text: string): number | undefined {
  const v = Number(text.trim().split(/\s+/)[0]);
  return Number.isFinite(v) ? v : undefined;
}

export interface DiskStats {
  device: string;
  readBytes: number;
  writeBytes: number;
  reads: number;
  writes: number;
  readTimeS: number;
  writeTimeS: number;
  ioTimeS: number;
}

export function parseDiskstats(text: string): DiskStats[] {
  const out: DiskStats[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 14) continue;
    const n = f.map(Number);
    out.push({
      device: f[2]!,
      reads: n[3]!,
      readBytes: n[5]! * SECTOR_BYTES,
      readTimeS: n[6]! / 1000,
      writes: n[7]!,
      writeBytes: n[9]! * SECTOR_BYTES,
      writeTimeS: n[10]! / 1000,
      ioTimeS: n[12]! / 1000,
    });
  }
  return out.filter((d) => [d.reads, d.readBytes, d.writes, d.writeBytes, d.ioTimeS].every(Number.isFinite));
}

export interface NetStats {
  device: string;
  rxBytes: number;
  rxPackets: number;
  rxErrors: number;
  rxDropped: number;
  txBytes: number;
  txPackets: number;
  txErrors: number;
  txDropped: number;
}

export function parseNetDev(text: string): NetStats[] {
  const out: NetStats[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*([^:\s]+):\s*(.*)$/.exec(line);
    if (!m) continue;
    const n = m[2]!.trim().split(/\s+/).map(Number);
    if (n.length < 16 || !n.every(Number.isFinite)) continue;
    out.push({
      device: m[1]!,
      rxBytes: n[0]!,
      rxPackets: n[1]!,
      rxErrors: n[2]!,
      rxDropped: n[3]!,
      txBytes: n[8]!,
      txPackets: n[9]!,
      txErrors: n[10]!,
      txDropped: n[11]!,
    });
  }
  return out;
}

export interface Mount {
  device: string;
  mountpoint: string;
  type: string;
  mode: 'ro' | 'rw';
}

/** /proc/mounts (or /proc/self/mounts); octal escapes (`\040` for a space) decoded. */
export function parseMounts(text: string): Mount[] {
  const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
  const out: Mount[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4) continue;
    out.push({ device: unescape(f[0]!), mountpoint: unescape(f[1]!), type: f[2]!, mode: f[3]!.split(',').includes('ro') ? 'ro' : 'rw' });
  }
  return out;
}

/** Pseudo filesystems whose usage means nothing for capacity, as the OpenTelemetry hostmetrics defaults skip them. */
export const DEFAULT_EXCLUDED_FS_TYPES = [
  'autofs', 'binfmt_misc', 'bpf', 'cgroup', 'cgroup2', 'configfs', 'debugfs', 'devpts', 'devtmpfs', 'efivarfs', 'fusectl',
  'hugetlbfs', 'mqueue', 'nsfs', 'proc', 'procfs', 'pstore', 'rpc_pipefs', 'securityfs', 'selinuxfs', 'squashfs', 'sysfs', 'tracefs',
];
