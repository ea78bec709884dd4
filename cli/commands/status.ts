/**
 * `tidewatch status --data-dir DIR | --config FILE [--json]`: what a running agent (or collector)
 * is doing, from the snapshot it rewrites every second (<data_dir>/status.json, cli/status-file.ts)
 * and the file sources' checkpoints: files watched, confirmed offsets, lag in bytes, buffer use,
 * event counters, reloads and the last warning or error.
 *
 * Exit codes follow `systemctl status`: 0 running, 3 not running (no fresh snapshot, or the
 * process is gone); the saved positions are shown either way.
 */
import { stat } from 'node:fs/promises';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CheckpointStore } from '../../agent/sources/file/checkpoint.js';
import { loadConfig } from '../../core/config/load.js';
import { TidewatchError } from '../../core/errors.js';
import type { TelemetrySample } from '../../core/telemetry.js';
import { parseArgs, stringFlag } from '../args.js';
import type { CommandIO } from '../io.js';
import { STATUS_FILE } from '../status-file.js';
import type { StatusSnapshot } from '../status-file.js';
import { allComponents } from './validate.js';

/** A snapshot older than this means the process stopped writing it (it writes every second). */
const STALE_MS = 5000;

export interface FileStatus {
  source: string;
  path: string;
  stream_id: string;
  generation: number;
  state: 'live' | 'retired';
  /** Confirmed offset: a restart resumes here. */
  offset: number;
  /** Current size of the file at `path` when it is still the same file, else null. */
  size: number | null;
  /** Bytes written and not yet confirmed by every sink (size - offset), null when unknown. */
  lag_bytes: number | null;
}

export interface StatusReport {
  running: boolean;
  why?: string;
  snapshot: StatusSnapshot;
  files: FileStatus[];
  buffer: { source: string; inflight_bytes: number; max_inflight_bytes: number | null }[];
  events: { received: number; sent: number; dropped: number; errors: number };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to another user (DynamicUser under systemd).
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function sum(samples: TelemetrySample[], name: string, match: (s: TelemetrySample) => boolean = () => true): number {
  return samples.filter((s) => s.name === name && match(s)).reduce((a, s) => a + s.value, 0);
}

export async function collectStatus(dataDir: string, now: number): Promise<StatusReport> {
  const file = join(dataDir, STATUS_FILE);
  let snap: StatusSnapshot;
  try {
    snap = JSON.parse(await readFile(file, 'utf8')) as StatusSnapshot;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new TidewatchError(
      'TW_INPUT_READ',
      code === 'ENOENT' ? `${file}: no status file; no agent or collector has run with data_dir ${dataDir}` : `${file}: cannot read the status snapshot: ${(err as Error).message}`,
      { file },
      { cause: err },
    );
  }
  const age = now - Date.parse(snap.updated_at);
  let why: string | undefined;
  if (snap.state === 'stopped') why = `stopped at ${snap.updated_at}`;
  else if (!alive(snap.pid)) why = `process ${snap.pid} is gone (last snapshot ${snap.updated_at})`;
  else if (age > STALE_MS) why = `snapshot is ${Math.round(age / 1000)} s old: process ${snap.pid} is not updating it`;

  const files: FileStatus[] = [];
  const buffer: StatusReport['buffer'] = [];
  for (const src of snap.sources) {
    if (src.state_dir === undefined) continue;
    const { state } = await new CheckpointStore(join(dataDir, src.state_dir)).load();
    for (const e of state.entries) {
      let size: number | null = null;
      if (e.state === 'live') {
        const st = await stat(e.path).catch(() => undefined);
        // Same file only: after a rotation the path holds a newer file with its own stream.
        if (st !== undefined && st.ino === e.ino && st.dev === e.dev) size = st.size;
      }
      files.push({
        source: src.name,
        path: e.path,
        stream_id: e.sid,
        generation: e.gen,
        state: e.state,
        offset: e.offset,
        size,
        lag_bytes: size === null ? null : Math.max(0, size - e.offset),
      });
    }
    buffer.push({
      source: src.name,
      inflight_bytes: sum(snap.telemetry, 'tidewatch_file_inflight_bytes', (s) => s.labels['source'] === src.name),
      max_inflight_bytes: src.max_inflight_bytes ?? null,
    });
  }
  const t = snap.telemetry;
  const report: StatusReport = {
    running: why === undefined,
    snapshot: snap,
    files,
    buffer,
    events: {
      received: sum(t, 'tidewatch_events_received_total'),
      sent: sum(t, 'tidewatch_events_sent_total'),
      dropped: sum(t, 'tidewatch_events_dropped_total'),
      errors: sum(t, 'tidewatch_errors_total'),
    },
  };
  if (why !== undefined) report.why = why;
  return report;
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1 << 20) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1 << 30) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  return `${(n / (1 << 30)).toFixed(2)} GiB`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

export function formatStatus(r: StatusReport): string {
  const s = r.snapshot;
  const out: string[] = [];
  out.push(`tidewatch ${s.role}: ${r.running ? `running (pid ${s.pid}, since ${s.started_at})` : `NOT RUNNING: ${r.why ?? ''}`}`);
  out.push(`config:     ${s.config}`);
  out.push(`data_dir:   ${s.data_dir}`);
  out.push(`events:     received ${r.events.received}, sent ${r.events.sent}, dropped ${r.events.dropped}, errors ${r.events.errors}`);
  out.push(`reloads:    ${s.reloads.ok} ok, ${s.reloads.failed} rejected${s.reloads.last_at !== undefined ? ` (last ${s.reloads.last_at})` : ''}`);
  for (const b of r.buffer) {
    const of = b.max_inflight_bytes === null ? '' : ` of ${bytes(b.max_inflight_bytes)} (${((100 * b.inflight_bytes) / b.max_inflight_bytes).toFixed(1)}%)`;
    out.push(`buffer:     ${b.source}: ${bytes(b.inflight_bytes)} in flight${of}`);
  }
  const e = s.last_error;
  out.push(`last error: ${e === undefined ? 'none' : `${e.time} ${e.level}${e.code !== undefined ? ` [${e.code}]` : ''} ${e.msg}${e.error !== undefined ? `: ${e.error}` : ''}`}`);
  if (r.files.length > 0) {
    out.push('');
    const rows = [['SOURCE', 'STREAM', 'GEN', 'STATE', 'OFFSET', 'SIZE', 'LAG', 'PATH']];
    for (const f of r.files) {
      rows.push([f.source, f.stream_id, String(f.generation), f.state, String(f.offset), f.size === null ? '-' : String(f.size), f.lag_bytes === null ? '-' : bytes(f.lag_bytes), f.path]);
    }
    out.push(table(rows));
  }
  return `${out.join('\n')}\n`;
}

export async function run(argv: string[], io: CommandIO): Promise<number> {
  const flags = parseArgs(argv, { 'data-dir': { value: true }, config: { value: true }, json: { value: false }, help: { value: false } }, 'status');
  if (flags.has('help')) {
    io.stdout(
      'Usage: tidewatch status (--data-dir DIR | --config FILE) [--json]\n\n' +
        'Shows a running agent or collector: files watched with their confirmed offsets and lag, buffer use,\n' +
        'event counters, reloads and the last error. Reads <data_dir>/status.json (rewritten every second by\n' +
        'the running process) and the file checkpoints. Exit 0 when it is running, 3 when it is not.\n',
    );
    return 0;
  }
  let dataDir = stringFlag(flags, 'data-dir');
  const config = stringFlag(flags, 'config');
  if (dataDir === undefined && config !== undefined) dataDir = (await loadConfig(config, { env: io.env, components: allComponents() })).data_dir;
  if (dataDir === undefined) throw new TidewatchError('TW_USAGE', 'status: --data-dir DIR or --config FILE is required');
  const report = await collectStatus(dataDir, Date.now());
  io.stdout(flags.has('json') ? `${JSON.stringify(report, null, 2)}\n` : formatStatus(report));
  return report.running ? 0 : 3;
}
