/**
 * The status snapshot a running agent or collector leaves for `tidewatch status`: one JSON file,
 * `<data_dir>/status.json`, rewritten every second (temp file + rename, so a reader never sees
 * half of it). Why a file and not an HTTP endpoint: it needs no port (nothing to firewall, no
 * clash between two agents on a host), works for a role that listens on nothing, and the status
 * command can still show the last state and the saved positions of an agent that has died.
 *
 * File positions are not in the snapshot: `status` reads them from the file sources' checkpoints
 * (the positions that survive a restart), so what it shows is what a restart would resume from.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TelemetrySample } from '../core/telemetry.js';

export const STATUS_FILE = 'status.json';
export const STATUS_VERSION = 1;

export interface LastError {
  time: string;
  level: string;
  msg: string;
  code?: string;
  error?: string;
}

export interface SourceStatus {
  name: string;
  type: string;
  /** Where a file source keeps its checkpoint, relative to data_dir. */
  state_dir?: string;
  /** A file source's bound on bytes handed on and not yet confirmed (its buffer). */
  max_inflight_bytes?: number;
}

export interface StatusSnapshot {
  v: typeof STATUS_VERSION;
  role: string;
  pid: number;
  config: string;
  data_dir: string;
  started_at: string;
  updated_at: string;
  /** `running`, `reloading`, `stopping`, or `stopped` (written last on a clean exit). */
  state: 'running' | 'reloading' | 'stopping' | 'stopped';
  reloads: { ok: number; failed: number; last_at?: string };
  last_error?: LastError;
  sources: SourceStatus[];
  /** The runner's stage counters and every gauge (bounded by MemoryTelemetry's series cap). */
  telemetry: TelemetrySample[];
}

const KEPT_COUNTERS = new Set(['tidewatch_events_received_total', 'tidewatch_events_sent_total', 'tidewatch_events_dropped_total', 'tidewatch_errors_total']);

/** Only what `status` shows: the per-event counters of every component would make a large file. */
export function keptTelemetry(samples: TelemetrySample[]): TelemetrySample[] {
  return samples.filter((s) => s.kind === 'gauge' || KEPT_COUNTERS.has(s.name));
}

export async function writeStatus(dataDir: string, snap: StatusSnapshot): Promise<void> {
  const file = join(dataDir, STATUS_FILE);
  // pid in the temp name: a second process on the same data_dir (a mistake) cannot tear it.
  const tmp = `${file}.${process.pid}.tmp`;
  await mkdir(dataDir, { recursive: true });
  await writeFile(tmp, `${JSON.stringify(snap)}\n`);
  await rename(tmp, file);
}
