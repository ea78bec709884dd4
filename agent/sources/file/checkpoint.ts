/**
 * Checkpoints of the `file` source: which files it tracks, under which identity, and up to which
 * byte offset their lines were confirmed by every sink.
 *
 * On disk: a one-line header `TWCP1 <crc32 hex> <payload bytes>\n` and a JSON payload. A write
 * goes to a temp file, is fsync'd, the current file is kept as `.prev` (hard link), the temp file
 * is renamed over the current one and the directory fsync'd: a crash or power cut at any instant
 * leaves either the old or the new checkpoint whole. A checkpoint whose header, length or CRC does
 * not hold is corrupt: `load` reports it and falls back to `.prev`, then to nothing.
 */
import { crc32 } from 'node:zlib';
import { mkdir, open, readFile, rename, link, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/** One tracked (stream, generation): where it is, how to recognise it, how far it is confirmed. */
export interface CheckpointEntry {
  /** stream id (`tidewatch.stream_id`). */
  sid: string;
  /** generation within the stream (`tidewatch.generation`). */
  gen: number;
  /** true for the newest generation of its stream, the one a truncation moves on from. */
  head: boolean;
  path: string;
  dev: number;
  ino: number;
  /** birth time, epoch ms (0 when the file system does not report it). */
  btime: number;
  /** First bytes of the file (base64), up to fingerprint_bytes. */
  fp: string;
  /** Confirmed offset: every line before it reached every sink. Always a line boundary. */
  offset: number;
  /** The bytes just before `offset` (base64, up to TAIL), to see a rewrite of the file. */
  tail: string;
  /** `live`: followed at its path; `retired`: truncated away or lost, kept to recognise a copy. */
  state: 'live' | 'retired';
  /** When it was retired (or let go), epoch ms. */
  retired_at?: number;
  /**
   * A file read to its end and let go, remembered until then (epoch ms) to recognise its
   * compressed rotation when archives are read (exclude_gz: false). Written as `retired`, so an
   * agent that does not know this field keeps it for a copy_detect_ms and forgets it.
   */
  released_until?: number;
  /**
   * A selected `.gz` (exclude_gz: false), read through its uncompressed copy: `reading` until every
   * line of it was confirmed, then `done`. Offsets and the fingerprint are the uncompressed content's.
   */
  archive?: 'reading' | 'done';
}

export interface CheckpointState {
  entries: CheckpointEntry[];
}

const MAGIC = 'TWCP1';

export function encodeCheckpoint(state: CheckpointState): Buffer {
  const payload = Buffer.from(JSON.stringify({ v: 1, entries: state.entries }), 'utf8');
  const header = `${MAGIC} ${crc32(payload).toString(16).padStart(8, '0')} ${payload.length}\n`;
  return Buffer.concat([Buffer.from(header, 'latin1'), payload]);
}

export type DecodeResult = { ok: true; state: CheckpointState } | { ok: false; reason: string };

/** Never throws: any damage is a `{ ok: false, reason }`. */
export function decodeCheckpoint(buf: Buffer): DecodeResult {
  const nl = buf.indexOf(0x0a);
  if (nl === -1 || nl > 64) return { ok: false, reason: 'no header' };
  const m = /^TWCP1 ([0-9a-f]{8}) (\d+)$/.exec(buf.subarray(0, nl).toString('latin1'));
  if (m === null) return { ok: false, reason: 'bad header' };
  const payload = buf.subarray(nl + 1);
  if (payload.length !== Number(m[2])) return { ok: false, reason: `length ${payload.length}, header says ${m[2]}` };
  if (crc32(payload).toString(16).padStart(8, '0') !== m[1]) return { ok: false, reason: 'checksum mismatch' };
  let doc: unknown;
  try {
    doc = JSON.parse(payload.toString('utf8'));
  } catch {
    return { ok: false, reason: 'payload is not JSON' };
  }
  if (!isRecord(doc) || doc.v !== 1 || !Array.isArray(doc.entries)) return { ok: false, reason: 'unknown version or shape' };
  const entries: CheckpointEntry[] = [];
  for (const e of doc.entries) {
    if (!validEntry(e)) return { ok: false, reason: 'malformed entry' };
    entries.push(e);
  }
  return { ok: true, state: { entries } };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function validEntry(e: unknown): e is CheckpointEntry {
  if (!isRecord(e)) return false;
  const nat = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v >= 0;
  return (
    typeof e.sid === 'string' &&
    nat(e.gen) &&
    typeof e.head === 'boolean' &&
    typeof e.path === 'string' &&
    nat(e.dev) &&
    nat(e.ino) &&
    nat(e.btime) &&
    typeof e.fp === 'string' &&
    nat(e.offset) &&
    typeof e.tail === 'string' &&
    (e.state === 'live' || e.state === 'retired') &&
    (e.retired_at === undefined || nat(e.retired_at)) &&
    (e.released_until === undefined || nat(e.released_until)) &&
    (e.archive === undefined || e.archive === 'reading' || e.archive === 'done')
  );
}

export type LoadStatus = 'ok' | 'missing' | 'recovered_from_prev' | 'corrupt';

export interface LoadResult {
  state: CheckpointState;
  status: LoadStatus;
  /** Why the current file was rejected, when it was. */
  reason?: string;
}

/** The checkpoint file of one source, under its state directory. */
export class CheckpointStore {
  readonly file: string;
  private readonly prev: string;
  private readonly tmp: string;

  constructor(readonly dir: string) {
    this.file = join(dir, 'checkpoint');
    this.prev = join(dir, 'checkpoint.prev');
    this.tmp = join(dir, 'checkpoint.tmp');
  }

  async load(): Promise<LoadResult> {
    const cur = await readOrUndefined(this.file);
    if (cur !== undefined) {
      const d = decodeCheckpoint(cur);
      if (d.ok) return { state: d.state, status: 'ok' };
      const p = await readOrUndefined(this.prev);
      const dp = p === undefined ? undefined : decodeCheckpoint(p);
      if (dp?.ok === true) return { state: dp.state, status: 'recovered_from_prev', reason: d.reason };
      return { state: { entries: [] }, status: 'corrupt', reason: d.reason };
    }
    // No current file: a crash between unlink of .prev and rename cannot cause this (the current
    // file is only ever replaced by rename), so a lone .prev means someone removed the file.
    const p = await readOrUndefined(this.prev);
    const dp = p === undefined ? undefined : decodeCheckpoint(p);
    if (dp?.ok === true) return { state: dp.state, status: 'recovered_from_prev', reason: 'checkpoint missing, .prev present' };
    return { state: { entries: [] }, status: 'missing' };
  }

  async save(state: CheckpointState): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const fh = await open(this.tmp, 'w');
    try {
      await fh.writeFile(encodeCheckpoint(state));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await unlink(this.prev).catch(ignoreEnoent);
    await link(this.file, this.prev).catch(ignoreEnoent);
    await rename(this.tmp, this.file);
    const dh = await open(this.dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  }
}

async function readOrUndefined(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function ignoreEnoent(err: unknown): void {
  if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
}
