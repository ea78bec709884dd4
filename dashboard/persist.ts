/**
 * The dashboard's embedded store under `<data_dir>/dashboard/`: rollups, alerts and the pattern
 * catalog survive a restart.
 *
 * Format: append-only segment files, one record per line, `<crc32 as 8 hex> <json>\n`. A line
 * whose checksum does not match (a torn write at a crash, a flipped bit) is skipped and counted;
 * everything before and after it still loads. Files:
 *   rollups-1s.seg   every point the store accepted, [name, labels, type, temporality, time, value]
 *   rollups-1m.seg   the same series downsampled to one point a minute (delta sums add up, gauges
 *                    and cumulative sums keep the minute's last value), kept much longer
 *   alerts.seg       alert records (latest per alert id wins on load)
 *   patterns.seg     pattern records (latest per pattern id wins on load)
 *   actions.seg      acknowledgements and silences (latest per alert id and kind wins)
 * Appends are buffered and written every `flushMs` in one write per file, so the cost does not grow
 * with the number of points per second. When a file grows beyond its byte bound it is compacted:
 * rewritten (to a temporary file, then renamed, so a crash leaves the old or the new file) with
 * only the records still within retention (rollups) or the latest per id (alerts, patterns),
 * and, if that is still too big, without its oldest records.
 *
 * Why not SQLite: better-sqlite3 is a native module (a compiler on every lightweight install) and
 * the dashboard needs only append, load-at-start and drop-old: a few hundred lines of plain files.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { MetricPoint } from '../core/model.js';
import type { AlertRecord, PatternRecord } from '../core/wire.js';
import type { OpsState } from './ops.js';
import type { PointUpdate, SeriesStore } from './store.js';

export interface TierOptions {
  retentionMs: number;
  maxBytes: number;
}

export interface PersistOptions {
  dir: string;
  now?: () => number;
  flushMs?: number;
  /** Full resolution (default: 1 h, 64 MiB). */
  fine?: TierOptions;
  /** One point a minute (default: 7 days, 64 MiB). */
  coarse?: TierOptions;
  /** alerts.seg and patterns.seg each (default 16 MiB). */
  catalogBytes?: number;
}

export interface PersistCounters {
  written: number;
  corrupt: number;
  compactions: number;
  write_errors: number;
}

type Row = [string, Record<string, string>, 'gauge' | 'sum', 'delta' | 'cumulative' | null, number, number];

interface Minute {
  row: Row;
  minute: number;
  /** The minute's points by time: an early value replaced by the final one counts once. */
  values: Map<number, number>;
}

export function frame(json: string): string {
  return `${(crc32(json) >>> 0).toString(16).padStart(8, '0')} ${json}\n`;
}

/** The records of a segment file's text; lines with a bad checksum are counted in `bad`. */
export function unframe(text: string): { records: unknown[]; bad: number } {
  const records: unknown[] = [];
  let bad = 0;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const json = line.slice(9);
    if (line[8] !== ' ' || (crc32(json) >>> 0).toString(16).padStart(8, '0') !== line.slice(0, 8)) {
      bad++;
      continue;
    }
    try {
      records.push(JSON.parse(json));
    } catch {
      bad++;
    }
  }
  return { records, bad };
}

function toPoint(r: Row): MetricPoint {
  const [name, labels, type, temporality, time, value] = r;
  if (type === 'sum') return { kind: 'metric', type: 'sum', name, temporality: temporality ?? 'cumulative', monotonic: false, time, value, attributes: labels, resource: {} };
  return { kind: 'metric', type: 'gauge', name, time, value, attributes: labels, resource: {} };
}

function isRow(r: unknown): r is Row {
  return Array.isArray(r) && r.length === 6 && typeof r[0] === 'string' && typeof r[4] === 'number' && typeof r[5] === 'number';
}

/** A person's action on an alert, kept across restarts. */
export interface AlertAction {
  alert_id: string;
  action: 'ack' | 'silence';
  by: string;
  at: number;
  until?: number;
}

export class Persistence {
  readonly counters: PersistCounters = { written: 0, corrupt: 0, compactions: 0, write_errors: 0 };
  private readonly pending = new Map<string, string[]>();
  private readonly minutes = new Map<string, Minute>();
  private readonly now: () => number;
  private readonly fine: TierOptions;
  private readonly coarse: TierOptions;
  private readonly catalogBytes: number;
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private loading = false;

  constructor(private readonly opts: PersistOptions) {
    this.now = opts.now ?? Date.now;
    this.fine = opts.fine ?? { retentionMs: 3_600_000, maxBytes: 64 * 1024 * 1024 };
    this.coarse = opts.coarse ?? { retentionMs: 7 * 86_400_000, maxBytes: 64 * 1024 * 1024 };
    this.catalogBytes = opts.catalogBytes ?? 16 * 1024 * 1024;
    mkdirSync(opts.dir, { recursive: true });
  }

  private file(name: string): string {
    return join(this.opts.dir, name);
  }

  private read(name: string): unknown[] {
    const path = this.file(name);
    if (!existsSync(path)) return [];
    const text = readFileSync(path, 'utf8');
    // A write torn by a crash leaves a partial last line: end it, so the next append starts clean.
    if (text.length > 0 && !text.endsWith('\n')) appendFileSync(path, '\n');
    const { records, bad } = unframe(text);
    this.counters.corrupt += bad;
    return records;
  }

  /**
   * Loads what the files hold into `store` (full resolution, within retention), `coarse` (one
   * point a minute) and `ops` (alerts, patterns), then records what those receive from now on.
   */
  attach(store: SeriesStore, coarse: SeriesStore, ops: OpsState): void {
    const now = this.now();
    this.loading = true;
    try {
      for (const r of this.read('rollups-1s.seg')) if (isRow(r) && r[4] >= now - this.fine.retentionMs) store.upsert(toPoint(r));
      for (const r of this.read('rollups-1m.seg')) if (isRow(r) && r[4] >= now - this.coarse.retentionMs) coarse.upsert(toPoint(r));
      for (const r of this.read('alerts.seg')) if (r !== null && typeof r === 'object') ops.applyAlert(r as AlertRecord);
      for (const r of this.read('patterns.seg')) if (r !== null && typeof r === 'object') ops.applyPattern(r as PatternRecord);
      for (const r of this.read('actions.seg')) {
        const a = r as Partial<AlertAction> | null;
        if (a === null || typeof a !== 'object' || typeof a.alert_id !== 'string' || typeof a.at !== 'number' || typeof a.by !== 'string') continue;
        if (a.action === 'ack') ops.acknowledge(a.alert_id, a.by, a.at);
        else if (a.action === 'silence' && typeof a.until === 'number') ops.silence(a.alert_id, a.until, a.by, a.at);
      }
    } finally {
      this.loading = false;
    }
    this.unsubscribe = store.subscribe((u) => this.point(u, coarse));
    this.timer = setInterval(() => this.flush(), this.opts.flushMs ?? 1000);
    this.timer.unref();
  }

  private append(name: string, record: unknown): void {
    if (this.loading) return;
    let a = this.pending.get(name);
    if (a === undefined) this.pending.set(name, (a = []));
    a.push(frame(JSON.stringify(record)));
    // Bounded between flushes: beyond this the oldest buffered lines go (counted as write errors).
    if (a.length > 200_000) {
      a.shift();
      this.counters.write_errors++;
    }
  }

  private point(u: PointUpdate, coarse: SeriesStore): void {
    const s = u.series;
    const row: Row = [s.name, { ...s.labels }, s.type, s.temporality ?? null, u.time, u.value];
    this.append('rollups-1s.seg', row);
    // Downsample to the minute: points carry the end of their window, so a minute's point is the
    // one whose time is in (m-1 min, m]. Values are kept per time within the open minute, so an
    // early value later replaced by the final one is counted once.
    const minute = Math.ceil(u.time / 60_000) * 60_000;
    const delta = s.type === 'sum' && s.temporality === 'delta';
    let m = this.minutes.get(s.id);
    if (m !== undefined && minute < m.minute) return; // late for the minute tier; the fine tier has it
    if (m !== undefined && minute > m.minute) {
      this.append('rollups-1m.seg', m.row);
      coarse.upsert(toPoint(m.row));
      m = undefined;
    }
    if (m === undefined) {
      m = { minute, values: new Map(), row: [s.name, { ...s.labels }, s.type, s.temporality ?? null, minute, 0] };
      this.minutes.set(s.id, m);
    }
    m.values.set(u.time, u.value);
    let v = 0;
    let latest = -Infinity;
    for (const [t, x] of m.values) {
      if (delta) v += x;
      else if (t > latest) {
        latest = t;
        v = x;
      }
    }
    m.row[5] = v;
  }

  alert(r: AlertRecord): void {
    this.append('alerts.seg', r);
  }

  pattern(r: PatternRecord): void {
    this.append('patterns.seg', r);
  }

  action(a: AlertAction): void {
    this.append('actions.seg', a);
  }

  /** Writes what is buffered (one append per file) and compacts files beyond their bound. */
  flush(): void {
    for (const [name, lines] of this.pending) {
      if (lines.length === 0) continue;
      try {
        appendFileSync(this.file(name), lines.join(''));
        this.counters.written += lines.length;
      } catch {
        this.counters.write_errors += lines.length;
      }
      this.pending.set(name, []);
      this.maybeCompact(name);
    }
  }

  private maybeCompact(name: string): void {
    const bound = name === 'rollups-1s.seg' ? this.fine.maxBytes : name === 'rollups-1m.seg' ? this.coarse.maxBytes : this.catalogBytes;
    let size: number;
    try {
      size = statSync(this.file(name)).size;
    } catch {
      return;
    }
    if (size <= bound) return;
    this.compact(name, bound);
  }

  /** Rewrites `name` keeping what is still wanted, in at most half of `bound` bytes. */
  compact(name: string, bound: number): void {
    const now = this.now();
    let records = this.read(name);
    if (name === 'rollups-1s.seg' || name === 'rollups-1m.seg') {
      const keepMs = name === 'rollups-1s.seg' ? this.fine.retentionMs : this.coarse.retentionMs;
      records = records.filter((r) => isRow(r) && r[4] >= now - keepMs);
    } else {
      const keyOf = (r: Record<string, unknown>): string =>
        name === 'alerts.seg' ? String(r['alert_id']) : name === 'actions.seg' ? `${String(r['alert_id'])}|${String(r['action'])}` : String(r['pattern_id']);
      const latest = new Map<string, unknown>();
      for (const r of records) if (r !== null && typeof r === 'object') latest.set(keyOf(r as Record<string, unknown>), r);
      records = [...latest.values()];
    }
    const lines = records.map((r) => frame(JSON.stringify(r)));
    let bytes = lines.reduce((a, l) => a + Buffer.byteLength(l), 0);
    let first = 0;
    while (bytes > bound / 2 && first < lines.length) bytes -= Buffer.byteLength(lines[first++] as string);
    const tmp = `${this.file(name)}.tmp`;
    writeFileSync(tmp, lines.slice(first).join(''));
    renameSync(tmp, this.file(name));
    this.counters.compactions++;
  }

  close(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.unsubscribe?.();
    // The open minutes go too: a restart within the minute then continues from them.
    for (const m of this.minutes.values()) this.append('rollups-1m.seg', m.row);
    this.minutes.clear();
    this.flush();
  }
}
