/**
 * The `file` source's engine: follows the files the globs select, frames their lines, hands
 * batches to the pipeline and checkpoints only what every sink confirmed.
 *
 * Identity (DESIGN.md, line identity). A *tracker* is one (stream_id, generation) being read. A new
 * file gets a fresh random stream id at generation 0; a truncation of the file retires its tracker
 * and starts generation + 1 on the same file. Device, inode, birth time and the first bytes (the
 * fingerprint) only *recognise* files: after a rename, at restart, and for the copy a copytruncate
 * rotation leaves behind, which takes over the retired tracker and goes on from where it stopped.
 * A retired file nobody selected a copy of (a copy the globs do not match, or one compressed while
 * the agent was down) is looked for beside its old name, recognised the same way, and read from
 * there (recoverBeside). With exclude_gz: false, a selected .gz is an archive: read once through its
 * uncompressed copy, under a stream id of its own (newArchive).
 * An identity is written to the checkpoint before any line carrying it is emitted, so a crash
 * never hands the same identity to different bytes, nor new identities to bytes already sent.
 *
 * Rewrites are seen by re-reading the TAIL (256) bytes before the read position with every read: if
 * they changed (or are gone), the file was truncated, whatever its size is now.
 *
 * Concurrency: one work loop does all file I/O, one operation at a time; events, timers and
 * acknowledgements only mark work and wake the loop. Several batches per file are in flight
 * (bounded per file and in bytes overall); a file's checkpoint advances over the contiguous
 * prefix of confirmed batches only. A rejected batch rewinds its file to the last confirmed
 * offset after a backoff: lines after it may be sent again, with the same identity and offset.
 */
import { lstat, open, stat, readdir, unlink } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import type { FSWatcher } from 'chokidar';
import type { SourceContext, Source } from '../../../core/component.js';
import type { Attributes } from '../../../core/model.js';
import { LineBlock } from '../../../core/line-block.js';
import { AttrKeys } from '../../../core/model.js';
import { TidewatchError, errorCodeOf } from '../../../core/errors.js';
import { LineFramer, lastLineEnd as lastLineEndIn } from './lines.js';
import type { Framing, Line, LongLines } from './lines.js';
import { Multiline } from './multiline.js';
import type { MultilineRule, Piece } from './multiline.js';
import { CheckpointStore } from './checkpoint.js';
import type { CheckpointEntry } from './checkpoint.js';
import { compileGlobs, scan, watchRoots } from './discovery.js';
import type { GlobSet } from './discovery.js';

export interface TailerOptions {
  include: readonly string[];
  exclude: readonly string[];
  excludeGz: boolean;
  startAt: 'beginning' | 'end';
  /** A file found with no checkpoint and unmodified this long is followed from its end; 0: never. */
  ignoreOlderMs: number;
  /**
   * A file whose every byte was confirmed, unchanged this long at its end, is deleted; 0 (or
   * undefined): never. The caller makes sure no line was skipped (start_at, ignore_older).
   */
  removeAfterMs?: number | undefined;
  /**
   * Lines (multiline events) kept: when `include` is given, only those matching one of its
   * patterns; then none matching one of `exclude`'s. Dropped lines are counted, and the checkpoint
   * moves past them like past sent ones.
   */
  filter?: { include: readonly RegExp[]; exclude: readonly RegExp[] } | undefined;
  /** The files' character set; utf-8 unless given. Lines of other sets are decoded, and sent as UTF-8. */
  encoding?: Encoding | undefined;
  maxLineBytes: number;
  longLines: LongLines;
  multiline: MultilineRule | undefined;
  fingerprintBytes: number;
  rescanIntervalMs: number;
  maxOpenFiles: number;
  closeIdleMs: number;
  readBufferBytes: number;
  maxBatchBytes: number;
  maxBatchLines: number;
  batchLingerMs: number;
  maxInflightBatches: number;
  maxInflightBytes: number;
  rotatedIdleMs: number;
  rotateDrainTimeoutMs: number;
  partialLineFlushMs: number;
  copyDetectMs: number;
  checkpointIntervalMs: number;
  retryBackoffMs: number;
  stopTimeoutMs: number;
  maxDirs: number;
  /** false: no file-system watcher, the periodic rescan alone (tests, exotic file systems). */
  watch: boolean;
  /** Where the checkpoint lives. */
  stateDir: string;
  /** Resource attributes of every line, besides host.name and tidewatch.agent.id. */
  resource?: Attributes | undefined;
}

/** Per-file lag, for operators: bytes written but not read, bytes read but not yet confirmed. */
export interface FileLag {
  path: string;
  streamId: string;
  generation: number;
  state: TrackerState;
  unreadBytes: number;
  unconfirmedBytes: number;
}

type TrackerState = 'live' | 'draining' | 'retired' | 'released';

/** What a new archive was found to be (FileTailer.rotatedInto). */
interface RotationCheck {
  /** The archive's `dev:ino:size:mtime` when checked: a verdict on other bytes is not used. */
  mark: string;
  /** Checked during the first start's scan (start_at: end applies). */
  atStart: boolean;
  at: number;
  /** The followed file whose content it holds, from `offset` on, uncompressed into `copy`. */
  t?: Tracker;
  offset?: number;
  copy?: Inflated;
}

/** An archive's uncompressed copy, or why there is none (`fh` undefined; no `err`: not its content). */
interface Inflated {
  fh: FileHandle | undefined;
  tmp: string;
  err?: unknown;
  /** The .gz's size and mtime when it was read (badArchives). */
  seen: string;
}

interface Inflight {
  end: number;
  bytes: number;
  /** The bytes just before `end`, when known at emit time. */
  tail: Buffer | undefined;
  settled: boolean;
  ok: boolean;
}

/**
 * Bytes before a read position kept to see a rewrite. Long enough to span a few lines with their
 * timestamps or sequence numbers: 32 bytes matched any two files whose lines end in the same
 * padding. It costs a base64 field of up to 344 characters per checkpoint entry (the fingerprint's
 * is up to 1368) and as many extra bytes per read.
 */
export const TAIL = 256;
/** Bytes of fingerprint that key the copy-recognition index. */
const FP_KEY = 64;
/** Files with their own lag gauges (the most lagging ones). */
const LAG_SERIES = 20;
const EMPTY = Buffer.alloc(0);

class Tracker {
  sid: string;
  gen: number;
  head: boolean;
  path: string;
  dev: number;
  ino: number;
  btime: number;
  fp: Buffer;
  fd: FileHandle | undefined;
  state: TrackerState = 'live';
  readOffset: number;
  tail: Buffer;
  confirmed: number;
  confirmedTail: Buffer | undefined;
  framer: LineFramer;
  ml: Multiline | undefined;
  /** Lines framed and not yet handed on (one block: one message downstream). */
  batch: LineBlock | undefined;
  batchBytes = 0;
  batchEnd = 0;
  inflight: Inflight[] = [];
  failed = false;
  retryAt = 0;
  persisted = false;
  size = 0;
  /** Largest size seen in this generation (for bytes lost to a copytruncate). */
  maxSize = 0;
  lastGrowthAt: number;
  lastActiveAt: number;
  eof = false;
  drainSince = 0;
  retiredAt = 0;
  /** A retired file was looked for among the files beside its old name (recoverBeside). */
  lookedBeside = false;
  /** The uncompressed copy of a .gz this tracker reads (removed at release). */
  gzTemp: string | undefined;
  /** A selected .gz (exclude_gz: false): read once through its uncompressed copy (newArchive). */
  archive: 'reading' | 'done' | undefined;
  /** Its copy, uncompressed off the work loop (FileTailer.inflate), waiting for openArchive. */
  inflated: Inflated | undefined;
  finishing = false;
  /** Cached checkpoint entry; undefined when something in it changed. */
  entry: CheckpointEntry | undefined;

  constructor(
    init: { sid: string; gen: number; head: boolean; path: string; dev: number; ino: number; btime: number; fp: Buffer; offset: number; tail: Buffer },
    opts: TailerOptions,
    now: number,
  ) {
    this.sid = init.sid;
    this.gen = init.gen;
    this.head = init.head;
    this.path = init.path;
    this.dev = init.dev;
    this.ino = init.ino;
    this.btime = init.btime;
    this.fp = init.fp;
    this.readOffset = init.offset;
    this.confirmed = init.offset;
    this.tail = init.tail;
    this.confirmedTail = init.tail;
    this.framer = framer(opts, init.offset);
    this.ml = opts.multiline === undefined ? undefined : new Multiline(opts.multiline);
    this.lastGrowthAt = now;
    this.lastActiveAt = now;
  }

  get key(): string {
    return `${this.dev}:${this.ino}`;
  }

  /** Holds bytes not yet handed out (a partial line, an open multiline event, an unsent batch). */
  get holding(): boolean {
    return this.framer.pendingBytes > 0 || this.ml?.heldFrom !== undefined || this.batch !== undefined;
  }

  get idle(): boolean {
    return this.eof && this.inflight.length === 0 && !this.holding && !this.failed;
  }
}

const newSid = (): string => randomBytes(8).toString('hex');
const keyOf = (st: Stats): string => `${st.dev}:${st.ino}`;
const sameBirth = (a: number, b: number): boolean => a === 0 || b === 0 || Math.abs(a - b) < 1;
/** `st` is t's file: its device, inode and birth time. */
const isFileOf = (st: Stats, t: Tracker): boolean => st.dev === t.dev && st.ino === t.ino && sameBirth(t.btime, st.birthtimeMs);
/**
 * Bytes of t's file not read yet, by its size as last seen. A file that a tracker still reads and
 * that is shorter than where reading got was truncated or rewritten, and the tracker has not taken
 * it so yet (it waits out a rejected batch's backoff, or its next read): all of it is unread, not
 * none of it. A retired tracker reads nothing more (its size is the next generation's).
 */
const unreadOf = (t: Tracker): number => (t.size >= t.readOffset ? t.size - t.readOffset : t.state === 'live' || t.state === 'draining' ? t.size : 0);

/** Counter names; every drop or loss has one (STYLE.md rule 3). */
const C = {
  cut: 'tidewatch_file_lines_cut_total',
  filtered: 'tidewatch_file_lines_filtered_total',
  truncations: 'tidewatch_file_truncations_total',
  rotations: 'tidewatch_file_rotations_total',
  copies: 'tidewatch_file_copies_recognised_total',
  abandoned: 'tidewatch_file_abandoned_bytes_total',
  possiblyLost: 'tidewatch_file_possibly_lost_bytes_total',
  multilineOverflow: 'tidewatch_file_multiline_overflow_total',
  emitRejected: 'tidewatch_file_emit_rejected_total',
  ckWrites: 'tidewatch_file_checkpoint_writes_total',
  ckCorrupt: 'tidewatch_file_checkpoint_corrupt_total',
  ioErrors: 'tidewatch_file_io_errors_total',
  gzRecovered: 'tidewatch_file_gz_recovered_files_total',
  gzRecoveredBytes: 'tidewatch_file_gz_recovered_bytes_total',
  openDeferred: 'tidewatch_file_open_deferred_total',
  ignoredFiles: 'tidewatch_file_ignored_files_total',
  ignoredBytes: 'tidewatch_file_ignored_bytes_total',
  removed: 'tidewatch_file_removed_files_total',
  nulSkipped: 'tidewatch_file_nul_bytes_skipped_total',
} as const;

export class FileTailer implements Source {
  private readonly globs: GlobSet;
  private readonly store: CheckpointStore;
  private readonly trackers = new Set<Tracker>();
  /** Attached trackers by `dev:ino` of their file. */
  private readonly byIno = new Map<string, Tracker>();
  /** Live trackers by the selected path their file is at. */
  private readonly byPath = new Map<string, Tracker>();
  /** Files that look like a copy of a tracked file, waiting for that file's truncation. */
  private readonly pending = new Map<string, { path: string; since: number }>();
  private readonly hints = new Map<string, 'change' | 'rename'>();
  private readonly dirty = new Set<Tracker>();
  /** Trackers waiting for in-flight room; an acknowledgement wakes them. */
  private readonly blocked = new Set<Tracker>();
  /**
   * Trackers the timer must look at besides open ones: retired, draining or failed. The timer
   * visits these and the open ones only, so 10,000 idle closed files cost it nothing.
   */
  private readonly attention = new Set<Tracker>();
  /** remove_after_ms: files read and confirmed to their end, waiting out the delay (the timer checks them). */
  private readonly removals = new Set<Tracker>();
  /** Trackers holding an open handle, oldest opened first (eviction order). */
  private readonly open = new Set<Tracker>();
  /**
   * Fingerprint index for copy recognition, so a new file is compared with a few trackers, not
   * all of them (10,000 files): trackers by their first FP_KEY bytes; shorter ones in a list.
   */
  private readonly fpIndex = new Map<string, Set<Tracker>>();
  private readonly fpShort = new Set<Tracker>();
  /** Files whose wait as a possible copy ran out: classified as new without looking again. */
  private readonly waitedOut = new Set<string>();
  /** exclude_gz: false: selected .gz files are archives, read through their uncompressed content. */
  private readonly archives: boolean;
  /** New archives still being written (logrotate compressing), by path: when to look again. */
  private readonly archiveWait = new Map<string, number>();
  /** Archives that could not be uncompressed, by `dev:ino`: the size and mtime then (tried again once either changes). */
  private readonly badArchives = new Map<string, string>();
  /**
   * Files let go lately (read to their end, or given up), kept for a day (RECENT_MS) when archives
   * are selected, in memory only: the compressed rotation of one shows up after it was let go
   * (rotatedInto).
   */
  private readonly recent = new Map<Tracker, number>();
  /**
   * Files let go after they were rotated away, by `dev:ino`, for copy_detect_ms or two rescans:
   * one renamed into the selection and seen there only after it was let go (a late event, the
   * next rescan, or renamed out and back) reads on where it was, under its identity (newFile).
   */
  private readonly movedAway = new Map<string, { t: Tracker; until: number }>();
  /** Archives being uncompressed into their copies, off the work loop (inflate). */
  private readonly inflating = new Map<Tracker, Promise<void>>();
  /** Copies written and not yet taken by openArchive. */
  private readyCopies = 0;
  /** Archives waiting for a copy (at most ARCHIVE_COPIES on disk at once). */
  private readonly archiveQueue = new Set<Tracker>();
  /** Stops the uncompressing at stop(). */
  private readonly aborter = new AbortController();
  /** New archives checked off the work loop for a followed file's content (rotatedInto), by path. */
  private readonly rotationChecks = new Map<string, Promise<void>>();
  /** Their verdicts, taken when the path is looked at again. */
  private readonly rotationChecked = new Map<string, RotationCheck>();
  /** Copies' names are unique: two checks may try the same file. */
  private copySeq = 0;
  /** I/O errors are logged at most once a minute per operation (counted every time). */
  private readonly ioLog = new LogLimiter(60_000);
  /** Directories the scan cannot list are named at most every ten minutes each. */
  private readonly scanLog = new LogLimiter(600_000);
  /** Files with NUL bytes skipped (a copytruncate hole) are named at most every ten minutes each. */
  private readonly nulLog = new LogLimiter(600_000);
  /** Paths with a per-file lag gauge, so one that caught up is set back to 0. */
  private lagPaths = new Set<string>();
  private readonly resource: Attributes;
  /** A line's bytes as text, in the files' character set. */
  private readonly decode: (buf: Buffer, start: number, end: number) => string;
  /** Lines may stay bytes (UTF-8 files): the wire takes them as they are. */
  private readonly utf8: boolean;
  /** UTF-16 files: their lines' bytes are not ASCII's (a runtime's header cannot be read from them). */
  private readonly utf16: boolean;
  /** The byte order mark of the files' character set, skipped at the start of a file. */
  private readonly bom: Buffer;
  /** include_lines / exclude_lines: whether a line (event) is sent; undefined keeps every one. */
  private readonly keeps: ((text: string) => boolean) | undefined;
  private readonly labels: Record<string, string>;
  /** Where files are read into; replaced, not reused, after a full read (its lines may wait in a batch). */
  private buf: Buffer;
  private readonly lines: Line[] = [];
  private readonly pieces: Piece[] = [];
  private watcher: FSWatcher | undefined;
  /** Real paths of selected links' files, to those links (discovery.ts ScanResult.links). */
  private linkTargets = new Map<string, string[]>();
  /** Directories of link targets that the roots' watch does not cover, watched as well. */
  private linkDirs = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private loop: Promise<void> | undefined;
  private again = false;
  private started = false;
  private stopping = false;
  private stopped = false;
  private firstRun = false;
  private initialScan = true;
  private scanDue = true;
  private nextScanAt = 0;
  private ckDirty = false;
  private ckUrgent = false;
  private lastCkAt = 0;
  private openCount = 0;
  private inflightBytes = 0;
  private nextLagAt = 0;

  constructor(
    private readonly opts: TailerOptions,
    private readonly ctx: SourceContext,
  ) {
    this.globs = compileGlobs(opts.include, opts.exclude, opts.excludeGz);
    this.archives = !opts.excludeGz;
    this.store = new CheckpointStore(opts.stateDir);
    const encoding = opts.encoding ?? 'utf-8';
    this.decode = decoder(encoding);
    this.utf8 = encoding === 'utf-8';
    this.utf16 = framing(encoding) !== 'bytes';
    this.bom = BOMS[encoding];
    const f = opts.filter;
    this.keeps =
      f === undefined || (f.include.length === 0 && f.exclude.length === 0)
        ? undefined
        : (text) => (f.include.length === 0 || f.include.some((r) => r.test(text))) && !f.exclude.some((r) => r.test(text));
    this.resource = { ...opts.resource, [AttrKeys.hostName]: ctx.hostName, [AttrKeys.agentId]: ctx.agentId };
    this.labels = { source: ctx.name };
    this.buf = Buffer.allocUnsafe(opts.readBufferBytes + TAIL);
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const now = this.ctx.now();
    let loaded: Awaited<ReturnType<CheckpointStore['load']>>;
    try {
      loaded = await this.store.load();
    } catch (err) {
      throw new TidewatchError('TW_STATE_WRITE', `file source ${this.ctx.name}: cannot read its checkpoint in ${this.opts.stateDir}: ${(err as Error).message}`, { dir: this.opts.stateDir }, { cause: err });
    }
    if (loaded.status === 'corrupt' || loaded.status === 'recovered_from_prev') {
      this.ctx.telemetry.add(C.ckCorrupt, this.labels);
      this.ctx.telemetry.add('tidewatch_errors_total', { component: this.ctx.name, code: 'TW_STATE_CORRUPT' });
      this.ctx.log.error('file checkpoint is corrupt', {
        code: 'TW_STATE_CORRUPT',
        file: this.store.file,
        reason: loaded.reason,
        recovery: loaded.status === 'corrupt' ? 'reading every file from its beginning' : 'using the previous checkpoint, under new stream ids',
      });
    }
    this.firstRun = loaded.status === 'missing';
    // Fail at start, not silently later: a source that cannot record progress must not run.
    try {
      await this.store.save(loaded.state);
    } catch (err) {
      throw new TidewatchError('TW_STATE_WRITE', `file source ${this.ctx.name}: cannot write its checkpoint in ${this.opts.stateDir}: ${(err as Error).message}`, { dir: this.opts.stateDir }, { cause: err });
    }
    // After a fallback the last identities handed out are unknown: new stream ids make sure no
    // line is ever sent under an identity that already named other bytes (duplicates, never loss).
    const reidentify = loaded.status === 'recovered_from_prev';
    for (const e of loaded.state.entries) {
      // A file let go before the restart: remembered until released_until when archives are read.
      if (e.released_until !== undefined && (!this.archives || e.released_until <= now)) continue;
      const t = new Tracker(
        {
          sid: reidentify ? newSid() : e.sid,
          gen: reidentify ? 0 : e.gen,
          head: reidentify ? true : e.head,
          path: e.path,
          dev: e.dev,
          ino: e.ino,
          btime: e.btime,
          fp: Buffer.from(e.fp, 'base64'),
          offset: e.offset,
          tail: Buffer.from(e.tail, 'base64'),
        },
        this.opts,
        now,
      );
      t.persisted = !reidentify;
      if (reidentify) this.ckUrgent = true;
      t.maxSize = e.offset;
      if (e.archive !== undefined) {
        t.archive = e.archive;
        t.size = e.offset;
      }
      if (e.released_until !== undefined) {
        t.state = 'released';
        t.retiredAt = e.retired_at ?? now;
        if (this.recent.size < RECENT_MAX) this.recent.set(t, e.released_until);
        continue;
      }
      if (e.state === 'retired') {
        t.state = 'retired';
        this.note(t);
        // The agent was down: a copy gets its full chance from now on.
        t.retiredAt = now;
      } else {
        this.byIno.set(t.key, t);
        // Not yet seen: the first scan attaches it or finds it gone.
        t.state = 'live';
        this.note(t);
        t.eof = true;
      }
      this.track(t);
    }
    // Uncompressed copies of .gz files from before a crash: a recovery writes its copy anew.
    for (const n of await readdir(this.opts.stateDir).catch(() => [])) {
      if (n.startsWith(GZ_TEMP)) await unlink(join(this.opts.stateDir, n)).catch(() => {});
    }
    if (this.opts.watch && this.globs.roots.length > 0) {
      try {
        this.watcher = await watchRoots(
          this.globs,
          (p, kind) => this.onHint(p, kind),
          (err) => this.ioError('watch', err),
        );
      } catch (err) {
        this.ioError('watch', err);
      }
    }
    await this.kickAndWait();
    const tick = Math.max(10, Math.min(200, this.opts.partialLineFlushMs / 2, this.opts.batchLingerMs || 200, this.opts.multiline?.timeoutMs ?? 200, this.opts.checkpointIntervalMs));
    this.timer = setInterval(() => this.tick(), tick);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (!this.started || this.stopped) {
      this.stopped = true;
      return;
    }
    this.stopping = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    const w = this.watcher;
    this.watcher = undefined;
    await w?.close().catch(() => {});
    while (this.loop !== undefined) await this.loop;
    this.aborter.abort();
    await Promise.all([...this.inflating.values(), ...this.rotationChecks.values()]);
    for (const t of this.trackers) this.dropInflated(t);
    for (const r of this.rotationChecked.values()) if (r.copy !== undefined) discardCopy(r.copy);
    this.rotationChecked.clear();
    // Whole lines already framed go out; a partial line or an open multiline event stays unsent
    // and is read again after the restart, from the checkpoint.
    for (const t of this.trackers) this.emitBatch(t);
    const deadline = Date.now() + this.opts.stopTimeoutMs;
    while ([...this.trackers].some((t) => t.inflight.some((e) => !e.settled)) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    await this.saveCheckpoint().catch((err: unknown) => this.ioError('checkpoint', err));
    for (const t of this.trackers) await this.closeFd(t);
    this.stopped = true;
  }

  /** Lag per tracked file. */
  lag(): FileLag[] {
    return [...this.trackers].map((t) => ({
      path: t.path,
      streamId: t.sid,
      generation: t.gen,
      state: t.state,
      unreadBytes: unreadOf(t),
      unconfirmedBytes: t.readOffset - t.confirmed,
    }));
  }

  /** true when nothing is pending: no copy candidate waiting, no retired or draining file, nothing unread or unconfirmed. */
  get settled(): boolean {
    if (this.pending.size > 0 || this.archiveWait.size > 0) return false;
    for (const t of this.trackers) {
      if (t.state !== 'live' || t.holding || t.inflight.length > 0 || t.failed || unreadOf(t) > 0) return false;
    }
    return true;
  }

  /** How many files are open (for the bench and tests). */
  get openFiles(): number {
    return this.openCount;
  }

  /** Rescans now and services every file, then waits for the loop to go idle (tests, bench). */
  async sync(): Promise<void> {
    this.scanDue = true;
    for (const t of this.trackers) this.dirty.add(t);
    await this.kickAndWait();
    // Archives uncompressed meanwhile are picked up by the loop they kick.
    while (this.inflating.size > 0 || this.rotationChecks.size > 0 || this.loop !== undefined) {
      await Promise.all([...this.inflating.values(), ...this.rotationChecks.values()]);
      await this.kickAndWait();
    }
  }

  /** Runs the work loop until nothing is left to do (tests, start). */
  async kickAndWait(): Promise<void> {
    this.kick();
    while (this.loop !== undefined) await this.loop;
  }

  private track(t: Tracker): void {
    this.trackers.add(t);
    this.indexFp(t);
  }

  private note(t: Tracker): void {
    if ((t.state !== 'live' || t.failed || t.holding) && t.state !== 'released') this.attention.add(t);
    else this.attention.delete(t);
  }

  private untrack(t: Tracker): void {
    this.dropInflated(t);
    this.archiveQueue.delete(t);
    this.attention.delete(t);
    this.removals.delete(t);
    this.trackers.delete(t);
    this.unindexFp(t);
    this.blocked.delete(t);
  }

  private setFp(t: Tracker, fp: Buffer): void {
    this.unindexFp(t);
    t.fp = fp;
    t.entry = undefined;
    if (this.trackers.has(t)) this.indexFp(t);
  }

  private indexFp(t: Tracker): void {
    // An archive's fingerprint is of its uncompressed content: no plain file is its copy.
    if (t.fp.length === 0 || t.archive !== undefined) return;
    if (t.fp.length < FP_KEY) {
      this.fpShort.add(t);
      return;
    }
    const k = t.fp.toString('latin1', 0, FP_KEY);
    let set = this.fpIndex.get(k);
    if (set === undefined) this.fpIndex.set(k, (set = new Set()));
    set.add(t);
  }

  private unindexFp(t: Tracker): void {
    this.fpShort.delete(t);
    if (t.fp.length < FP_KEY) return;
    const k = t.fp.toString('latin1', 0, FP_KEY);
    const set = this.fpIndex.get(k);
    set?.delete(t);
    if (set?.size === 0) this.fpIndex.delete(k);
  }

  /** Trackers whose fingerprint may agree with `head` (a superset of those that do). */
  private fpCandidates(head: Buffer): Iterable<Tracker> {
    if (head.length < FP_KEY) return this.trackers;
    const set = this.fpIndex.get(head.toString('latin1', 0, FP_KEY));
    return set === undefined ? this.fpShort : [...set, ...this.fpShort];
  }

  // ---- scheduling -------------------------------------------------------------------------

  private onHint(path: string, kind: 'change' | 'rename' | 'dir'): void {
    if (this.stopping) return;
    if (kind === 'dir') {
      this.nextScanAt = Math.min(this.nextScanAt, this.ctx.now() + 50);
      return;
    }
    // A path nobody selected may be the file behind selected links: a hint for those.
    const paths = this.globs.match(path) ? [path] : this.linkTargets.get(path);
    if (paths === undefined) return;
    for (const p of paths) if (this.hints.get(p) !== 'rename') this.hints.set(p, kind);
    this.kick();
  }

  private kick(): void {
    if (this.loop !== undefined) {
      this.again = true;
      return;
    }
    this.loop = this.run().finally(() => {
      this.loop = undefined;
      if (this.again && !this.stopping) this.kick();
    });
  }

  private tick(): void {
    if (this.stopping) return;
    const now = this.ctx.now();
    const visit = this.attention.size === 0 ? this.open : new Set([...this.open, ...this.attention]);
    for (const t of visit) {
      if (t.state === 'released') continue;
      if (t.failed) {
        if (now >= t.retryAt) this.dirty.add(t);
        continue;
      }
      if (t.state === 'draining' || t.state === 'retired') {
        this.dirty.add(t);
        continue;
      }
      if (t.fd === undefined && !t.holding) continue;
      if (this.dueFlush(t, now)) this.dirty.add(t);
    }
    for (const t of this.removals) if (now - t.lastGrowthAt >= (this.opts.removeAfterMs ?? 0)) this.dirty.add(t);
    if (this.pending.size > 0) for (const [, p] of this.pending) this.hints.set(p.path, 'rename');
    for (const [p, at] of this.archiveWait) if (now >= at) this.hints.set(p, 'rename');
    // A verdict whose archive was not looked at again (gone, or renamed meanwhile) is dropped.
    for (const [p, r] of this.rotationChecked) {
      if (now - r.at < ROTATION_CHECK_KEEP_MS) continue;
      this.rotationChecked.delete(p);
      if (r.copy !== undefined) discardCopy(r.copy);
    }
    // A copy's place freed by a path that did not say so.
    if (this.archiveQueue.size > 0 && this.archiveCopies() < ARCHIVE_COPIES) this.wakeArchives();
    if (now >= this.nextScanAt) this.scanDue = true;
    if (this.ckDirty && now - this.lastCkAt >= this.opts.checkpointIntervalMs) this.ckUrgent = true;
    if (now >= this.nextLagAt) {
      this.nextLagAt = now + 1000;
      this.publishLag();
    }
    if (this.dirty.size > 0 || this.hints.size > 0 || this.scanDue || this.ckUrgent) this.kick();
  }

  private dueFlush(t: Tracker, now: number): boolean {
    if (t.batch !== undefined && now - t.batch.observedTime >= this.opts.batchLingerMs) return true;
    const d = t.ml?.deadline();
    if (d !== undefined && now >= d) return true;
    return t.eof && t.framer.pendingBytes > 0 && now - t.lastGrowthAt >= this.opts.partialLineFlushMs;
  }

  private async run(): Promise<void> {
    do {
      this.again = false;
      if (this.stopping) return;
      try {
        if (this.hints.size > 0) {
          const hs = [...this.hints];
          this.hints.clear();
          for (const [p, kind] of hs) {
            if (this.stopping) return;
            await this.onPath(p, kind);
          }
        }
        if (this.scanDue) {
          this.scanDue = false;
          this.nextScanAt = this.ctx.now() + this.opts.rescanIntervalMs;
          await this.rescan();
        }
        while (this.dirty.size > 0 && !this.stopping) {
          const ts = [...this.dirty];
          this.dirty.clear();
          for (const t of ts) await this.service(t);
          // A file reading on re-adds itself after its turn: writes to other files (hints) are
          // looked at between turns, not once it is done.
          if (this.ckUrgent || this.hints.size > 0) break;
        }
        if (this.ckUrgent && !this.stopping) await this.saveCheckpoint();
      } catch (err) {
        this.ioError('loop', err);
      }
    } while ((this.again || this.hints.size > 0 || this.ckUrgent || this.dirty.size > 0) && !this.stopping);
  }

  // ---- discovery ------------------------------------------------------------------------

  private async rescan(): Promise<void> {
    const now = this.ctx.now();
    const res = await scan(this.globs, this.opts.maxDirs);
    if (res.errors > 0) this.ctx.telemetry.add(C.ioErrors, { ...this.labels, op: 'scan' }, res.errors);
    // What an operator asks first when nothing arrives: is the directory there, may we read it,
    // does anything match? Said at most every ten minutes per directory.
    for (const u of res.unreadable) {
      // Beyond the limiter's bound (directories come and go: pods), still counted in tidewatch_file_io_errors_total.
      if (!this.scanLog.due(`${u.dir}:${u.code}`, now)) continue;
      if (u.code === 'ENOENT') this.ctx.log.info('a directory the include globs start from does not exist (yet); it is looked for at every rescan', { dir: u.dir });
      else this.ctx.log.warn('cannot list a directory the include globs select from: files in it are not followed', { dir: u.dir, code: u.code });
    }
    if (this.initialScan && res.files.size === 0 && this.trackers.size === 0) {
      this.ctx.log.warn('no file matches include yet; files that appear are picked up as they come', { include: this.opts.include, exclude: this.opts.exclude });
    }
    for (const [p, st] of res.files) {
      const t = this.byPath.get(p);
      // Unchanged since last look: nothing to do, no syscall.
      if (t !== undefined && t.dev === st.dev && t.ino === st.ino && st.size === t.size && t.state === 'live' && !this.initialScan) continue;
      await this.onPath(p, 'rename', st);
    }
    // Tracked files no longer where they were.
    for (const t of [...this.trackers]) {
      if (t.state !== 'live') continue;
      const st = res.files.get(t.path);
      // A file with t's inode elsewhere in the selection was seen above and moved t.path there.
      if (st === undefined || st.ino !== t.ino || st.dev !== t.dev) await this.pathGone(t);
    }
    // Idle handles are closed; an event or the next scan reopens them.
    for (const t of this.trackers) {
      this.note(t);
      if (t.fd !== undefined && t.state === 'live' && t.idle && now - t.lastActiveAt >= this.opts.closeIdleMs) await this.closeFd(t);
    }
    this.followLinks(res.links);
    this.initialScan = false;
    this.ctx.telemetry.set('tidewatch_file_tracked_files', this.labels, this.trackers.size);
    this.ctx.telemetry.set('tidewatch_file_watched_dirs', this.labels, res.dirs + this.linkDirs.size);
  }

  /**
   * Selected links whose files live in directories the roots' watch does not cover (Kubernetes'
   * /var/log/containers/*.log, links into /var/log/pods/...): those directories are watched too,
   * at most max_dirs of them, so a write or a rotation behind a link is seen at once rather than
   * at the next rescan. Their events come back as hints for the links (onHint).
   */
  private followLinks(links: Map<string, string>): void {
    const targets = new Map<string, string[]>();
    for (const [link, real] of links) {
      const l = targets.get(real);
      if (l === undefined) targets.set(real, [link]);
      else l.push(link);
    }
    this.linkTargets = targets;
    const w = this.watcher;
    if (w === undefined) return;
    const dirs = new Set<string>();
    for (const real of targets.keys()) {
      const d = dirname(real);
      if (dirs.size < this.opts.maxDirs && !this.globs.covers(d)) dirs.add(d);
    }
    const added = [...dirs].filter((d) => !this.linkDirs.has(d));
    const gone = [...this.linkDirs].filter((d) => !dirs.has(d));
    if (added.length > 0) w.add(added);
    if (gone.length > 0) w.unwatch(gone);
    this.linkDirs = dirs;
  }

  /** Looks at one selected path: new file, same file grown, renamed, replaced or gone. */
  private async onPath(path: string, kind: 'change' | 'rename', known?: Stats): Promise<void> {
    const cur = this.byPath.get(path);
    if (kind === 'change' && known === undefined && cur !== undefined && cur.fd !== undefined && cur.state === 'live') {
      // A write to a file we hold open: read it, no stat needed (a rename comes as 'rename').
      this.dirty.add(cur);
      return;
    }
    let st = known;
    if (st === undefined) {
      try {
        st = await stat(path);
      } catch {
        this.pending.delete([...this.pending].find(([, p]) => p.path === path)?.[0] ?? '');
        this.archiveWait.delete(path);
        if (cur !== undefined) await this.pathGone(cur);
        return;
      }
    }
    if (!st.isFile() || !this.globs.match(path)) return;
    const t = this.byIno.get(keyOf(st));
    if (t !== undefined && sameBirth(t.btime, st.birthtimeMs)) {
      if (cur !== undefined && cur !== t) await this.pathGone(cur);
      if (t.archive !== undefined) {
        // An archive does not change: renamed within the selection at most, not read again.
        this.followAt(t, path);
        if (t.state === 'live' && t.archive === 'reading' && t.fd === undefined) this.dirty.add(t);
        return;
      }
      if (t.state !== 'live') {
        t.state = 'live';
        this.note(t);
        t.entry = undefined;
        this.ckDirty = true;
      }
      this.followAt(t, path);
      t.size = st.size;
      if (this.initialScan && t.fd === undefined) await this.verifyOnAttach(t);
      // Shorter than where reading got: truncated. Seen here, not only at the next read, which
      // waits while the sink is slow: by then the file may have grown past that point again with
      // other lines, and a tail alike (lines ending in the same padding, longer than TAIL) would
      // let the new content pass for the old one's continuation.
      if (st.size < t.readOffset && t.fd !== undefined && t.state === 'live' && !t.failed) {
        await this.truncated(t);
        return;
      }
      this.dirty.add(t);
      return;
    }
    if (t !== undefined) {
      // Same inode, other birth time: the file we knew is gone and its inode was reused.
      await this.pathGone(t);
      if (this.byIno.get(t.key) === t) this.byIno.delete(t.key);
    }
    if (cur !== undefined) await this.pathGone(cur);
    // A plain file renamed to a .gz name was found above, and is followed on as before.
    if (this.archives && path.endsWith('.gz')) await this.newArchive(path, st);
    else await this.newFile(path, st);
  }

  /** t's file is at the selected `path` now (found there, or renamed within the selection). */
  private followAt(t: Tracker, path: string): void {
    if (t.path !== path) {
      if (this.byPath.get(t.path) === t) this.byPath.delete(t.path);
      t.path = path;
      t.entry = undefined;
      this.ckDirty = true;
    }
    this.byPath.set(path, t);
  }

  /**
   * At restart: is the file at this inode still the one the checkpoint describes? Read through a
   * handle checked to be this very inode: between the stat and the open, a rotation may have
   * renamed the file away and created a new one at the path, whose first bytes must not pass for
   * a rewrite of this one (that re-sent a whole rotated file under the next generation).
   */
  private async verifyOnAttach(t: Tracker): Promise<void> {
    for (let attempt = 0; attempt < 3 && t.state !== 'released'; attempt++) {
      let fh: FileHandle;
      try {
        fh = await open(t.path, 'r');
      } catch {
        return; // gone again: its event or the next rescan finds where it went
      }
      try {
        const st = await fh.stat();
        if (!isFileOf(st, t)) {
          // Renamed since the stat: look for it beside its old name, then check it there.
          const p = t.path;
          await this.pathGone(t);
          this.hints.set(p, 'rename');
          if (t.path === p) return;
          continue;
        }
        const b = Buffer.alloc(this.opts.fingerprintBytes);
        const { bytesRead } = await fh.read(b, 0, b.length, 0);
        const head = b.subarray(0, bytesRead);
        const k = Math.min(head.length, t.fp.length);
        const fpOk = head.subarray(0, k).equals(t.fp.subarray(0, k));
        if (!fpOk || st.size < t.confirmed) await this.truncated(t, head);
        return;
      } finally {
        await fh.close().catch(() => {});
      }
    }
  }

  private async newFile(path: string, st: Stats): Promise<void> {
    const key = keyOf(st);
    if (st.size === 0) {
      // Nothing to read; its first write brings it back here. A possible copy emptied since (the
      // "original" of two alike, truncated) waits for nothing any more.
      this.pending.delete(key);
      return;
    }
    const now = this.ctx.now();
    // One open serves both the fingerprint and, for a file we go on to read, the reading.
    let fh: FileHandle | undefined;
    let head: Buffer;
    try {
      fh = await open(path, 'r');
      const fst = await fh.stat();
      if (fst.dev !== st.dev || fst.ino !== st.ino) {
        await fh.close();
        this.hints.set(path, 'rename'); // replaced since the stat: look again
        return;
      }
      const b = Buffer.alloc(this.opts.fingerprintBytes);
      const { bytesRead } = await fh.read(b, 0, b.length, 0);
      head = Buffer.from(b.subarray(0, bytesRead));
    } catch (err) {
      await fh?.close().catch(() => {});
      this.ioError('open', err);
      return;
    }
    const handle = fh;
    const adopt = async (t: Tracker): Promise<void> => {
      if (this.openCount < this.opts.maxOpenFiles && t.fd === undefined) {
        this.holdOpen(t, handle);
      } else {
        await handle.close().catch(() => {});
      }
    };
    const back = this.movedAway.get(key);
    if (back !== undefined) {
      this.movedAway.delete(key);
      const t = back.t;
      // The same file (inode, birth, fingerprint and the bytes before where reading got), not one
      // on a reused inode.
      if (back.until > now && t.state === 'released' && sameBirth(t.btime, st.birthtimeMs) && st.size >= t.readOffset && (await holds(handle, t).catch(() => false))) {
        this.readOn(t);
        t.lastActiveAt = now;
        t.lastGrowthAt = now;
        await adopt(t);
        this.moveTo(t, path, st);
        this.byPath.set(path, t);
        this.ctx.log.debug('a file let go after its rotation is back in the selection: read on where it was', { path, from: t.readOffset });
        return;
      }
    }
    const verdict = await this.classify(path, head, st);
    if (verdict.kind !== 'copy' && verdict.kind !== 'new') await handle.close().catch(() => {});
    if (verdict.kind === 'copy') {
      const t = verdict.of;
      await adopt(t);
      this.pending.delete(key);
      t.state = 'live';
      this.note(t);
      t.lastActiveAt = now;
      this.ctx.telemetry.add(C.copies, this.labels);
      // Bytes the original had beyond what the copy holds were written between copy and truncate.
      if (t.maxSize > st.size) this.ctx.telemetry.add(C.possiblyLost, this.labels, t.maxSize - st.size);
      this.moveTo(t, path, st);
      this.byPath.set(path, t);
      return;
    }
    if (verdict.kind === 'wait') {
      const p = this.pending.get(key);
      if (p === undefined) {
        this.pending.set(key, { path, since: now });
        return;
      }
      if (now - p.since < this.opts.copyDetectMs) return;
      // Looked like a copy for too long without its original being truncated: read it all.
      return this.newFileAfterWait(path, st);
    }
    this.pending.delete(key);
    let offset = 0;
    // ignore_older_ms: history nobody asked for (a years-old log under a new glob, or a file
    // moved in with its old modification time) is skipped like start_at: end, and counted.
    const old = this.opts.ignoreOlderMs > 0 && now - st.mtimeMs > this.opts.ignoreOlderMs;
    if (old || (this.initialScan && this.firstRun && this.opts.startAt === 'end')) offset = await lastLineEnd(path, st.size, this.opts.readBufferBytes, framing(this.opts.encoding));
    if (old) {
      this.ctx.telemetry.add(C.ignoredFiles, this.labels);
      this.ctx.telemetry.add(C.ignoredBytes, this.labels, offset);
      this.ctx.log.debug('file older than ignore_older_ms: followed from its end', { path, bytes: offset, mtime: new Date(st.mtimeMs).toISOString() });
    }
    const t = new Tracker(
      { sid: newSid(), gen: 0, head: true, path, dev: st.dev, ino: st.ino, btime: st.birthtimeMs, fp: head, offset, tail: EMPTY },
      this.opts,
      now,
    );
    if (offset > 0) t.tail = await readAt(path, Math.max(0, offset - TAIL), Math.min(TAIL, offset));
    t.confirmedTail = t.tail;
    t.size = st.size;
    t.maxSize = st.size;
    t.eof = false;
    await adopt(t);
    this.track(t);
    this.byIno.set(key, t);
    this.byPath.set(path, t);
    this.ckUrgent = true; // its identity is written down before its first line goes out
    this.ckDirty = true;
    this.dirty.add(t);
  }

  /** A file that waited copy_detect_ms as a possible copy: from now on, simply a new file. */
  private async newFileAfterWait(path: string, st: Stats): Promise<void> {
    const p = this.pending.get(keyOf(st));
    if (p !== undefined) p.since = -Infinity;
    this.pending.delete(keyOf(st));
    this.waitedOut.add(keyOf(st));
    try {
      await this.newFile(path, st);
    } finally {
      this.waitedOut.delete(keyOf(st));
    }
  }

  /**
   * Is this unknown file a copy of a tracked one (copytruncate)? A copy starts with the tracked
   * file's fingerprint and holds, just before where that tracker stopped reading, the same bytes.
   * A retired tracker (its original was truncated) is taken over by its copy; while the original
   * is still live, the copy waits for the truncation (or for copy_detect_ms).
   */
  private async classify(path: string, head: Buffer, st: Stats): Promise<{ kind: 'new' } | { kind: 'wait' } | { kind: 'copy'; of: Tracker }> {
    let wait = false;
    if (this.waitedOut.has(keyOf(st))) return { kind: 'new' };
    for (const t of this.fpCandidates(head)) {
      // Only a file still read or a retired one (truncated away) can have a copy; a file let go is
      // not copied by anyone. Still read: live (copytruncate), or draining, since a truncated
      // file can be renamed away before its reading sees the truncation: the copy waits for it.
      if ((t.state !== 'live' && t.state !== 'draining' && t.state !== 'retired') || t.fp.length === 0 || t.archive !== undefined) continue;
      if (t.state !== 'retired' && t.dev === st.dev && t.ino === st.ino) continue;
      const k = Math.min(head.length, t.fp.length);
      if (!head.subarray(0, k).equals(t.fp.subarray(0, k))) continue;
      if (head.length < t.fp.length || st.size < t.readOffset) {
        wait = true; // a copy still being written, perhaps
        continue;
      }
      const tail = t.readOffset === 0 ? EMPTY : await readAt(path, t.readOffset - t.tail.length, t.tail.length).catch(() => undefined);
      if (tail === undefined || !tail.equals(t.tail)) continue;
      if (t.state === 'retired' && t.fd === undefined) return { kind: 'copy', of: t };
      wait = true;
    }
    return wait ? { kind: 'wait' } : { kind: 'new' };
  }

  /** The tracker's file is no longer at its selected path: renamed away, or deleted (by us: `removed`). */
  private async pathGone(t: Tracker, removed = false): Promise<void> {
    if (this.byPath.get(t.path) === t) this.byPath.delete(t.path);
    if (t.state !== 'live') return;
    if (t.archive !== undefined) {
      // Renamed within the selection, an archive is the same archive: not read again.
      const found = await findByInode(dirname(t.path), t).catch(() => undefined);
      if (found !== undefined && this.globs.match(found)) {
        this.followAt(t, found);
        return;
      }
      if (t.archive === 'done') {
        await this.release(t); // nothing of it left to read
        return;
      }
    }
    if (!removed) this.ctx.telemetry.add(C.rotations, this.labels);
    const now = this.ctx.now();
    if (t.fd === undefined) {
      // Not open (idle, or not yet opened after a restart): look for it beside its old name.
      const found = await findByInode(dirname(t.path), t).catch(() => undefined);
      if (found !== undefined) {
        t.path = found;
        t.entry = undefined;
      } else {
        t.state = 'retired';
        this.note(t);
        t.retiredAt = now;
        t.entry = undefined;
        this.ckDirty = true;
        return;
      }
    }
    this.startDraining(t, now);
  }

  /** t is read to its end through its handle and let go (maybeRelease): a file no longer selected. */
  private startDraining(t: Tracker, now: number): void {
    t.state = 'draining';
    this.note(t);
    t.drainSince = now;
    t.lastGrowthAt = now;
    t.entry = undefined;
    this.ckDirty = true;
    this.dirty.add(t);
  }

  // ---- reading --------------------------------------------------------------------------

  private async service(t: Tracker): Promise<void> {
    if (t.state === 'released' || this.stopping) return;
    const now = this.ctx.now();
    if (t.failed) {
      if (t.inflight.some((e) => !e.settled) || now < t.retryAt) return;
      await this.rewind(t);
    }
    if (!t.persisted) {
      this.ckUrgent = true;
      return;
    }
    if (t.state === 'retired' && t.fd === undefined) {
      await this.maybeRelease(t, now);
      return;
    }
    if (t.archive === 'done' && t.state === 'live') {
      if ((this.opts.removeAfterMs ?? 0) > 0) await this.maybeRemove(t, now);
      return;
    }
    if (t.fd === undefined && !(await this.openFd(t))) return;
    await this.pump(t, now);
    await this.flushDue(t, now);
    if (t.state === 'draining') await this.maybeRelease(t, now);
    else if (t.archive === 'reading') await this.archiveRead(t, now);
    else if ((this.opts.removeAfterMs ?? 0) > 0) await this.maybeRemove(t, now);
  }

  /**
   * A new selected `.gz` (exclude_gz: false) is an archive: read once, through its uncompressed
   * copy in the state directory, under a stream id of its own; its offsets and fingerprint are
   * those of the uncompressed content. Known by device, inode and birth time like any file
   * (onPath), so a rename within the selection does not read it again. It is read once it stayed
   * unchanged for rotated_idle_ms: logrotate may still be compressing it. A `.gz` name on plain
   * content is read as a plain file.
   */
  private async newArchive(path: string, st: Stats): Promise<void> {
    const key = keyOf(st);
    const now = this.ctx.now();
    const quietAt = st.mtimeMs + this.opts.rotatedIdleMs;
    if (now < quietAt) {
      this.archiveWait.set(path, quietAt);
      return;
    }
    this.archiveWait.delete(path);
    if (st.size === 0 || this.badArchives.get(key) === `${st.size}:${st.mtimeMs}`) return;
    let magic: Buffer;
    try {
      magic = await readAt(path, 0, 2);
    } catch (err) {
      this.ioError('open', err);
      return;
    }
    if (magic.length < 2 || magic[0] !== 0x1f || magic[1] !== 0x8b) return this.newFile(path, st);
    const { verdict: rotated, atStart } = await this.rotatedInto(path, st, now);
    if (rotated === 'taken' || rotated === 'wait' || rotated === 'pending') return;
    const a = new Tracker({ sid: newSid(), gen: 0, head: true, path, dev: st.dev, ino: st.ino, btime: st.birthtimeMs, fp: EMPTY, offset: 0, tail: EMPTY }, this.opts, now);
    a.archive = 'reading';
    // As for plain files: start_at: end on the first start, and ignore_older_ms, skip what is there.
    const old = this.opts.ignoreOlderMs > 0 && now - st.mtimeMs > this.opts.ignoreOlderMs;
    if (rotated === 'read' || old || (atStart && this.firstRun && this.opts.startAt === 'end')) {
      a.archive = 'done';
      if (old) this.ctx.telemetry.add(C.ignoredFiles, this.labels);
    }
    a.eof = a.archive === 'done';
    this.track(a);
    this.byIno.set(key, a);
    this.byPath.set(path, a);
    this.ckUrgent = true; // its identity is written down before its first line goes out
    this.ckDirty = true;
    if (a.archive === 'reading') this.dirty.add(a);
  }

  /**
   * A new archive may be the compressed rotation of a file already followed (logrotate's
   * `compress` with `app.log*` selected, or run while the agent was down): its content starts with
   * that file's fingerprint and holds, just before where reading got, the same bytes. It is then
   * not a stream of its own:
   * - `read`: the file is still read through its own handle, or still at its path: it reads on
   *   itself, and the archive is done at once;
   * - `taken`: the file is gone (gzip deleted it, or it went while the agent was down, or it was
   *   let go lately): the archive takes over its identity and is read from where reading got, as
   *   a recovered .gz is (`tidewatch_file_gz_recovered_files_total`);
   * - `wait`: the file has batches in flight: looked at again later;
   * - `pending`: a followed file starts as it does; its content is being uncompressed and
   *   compared off the work loop (checkRotation), and the path looked at again when that is done;
   * - `none`: no followed file's content; a stream of its own.
   */
  private async rotatedInto(path: string, st: Stats, now: number): Promise<{ verdict: 'none' | 'read' | 'taken' | 'wait' | 'pending'; atStart: boolean }> {
    const mark = `${keyOf(st)}:${st.size}:${st.mtimeMs}`;
    const found = this.rotationChecked.get(path);
    if (found !== undefined) {
      this.rotationChecked.delete(path);
      if (found.mark === mark) return { verdict: await this.applyRotation(path, st, now, found), atStart: found.atStart };
      if (found.copy !== undefined) discardCopy(found.copy);
    }
    const atStart = this.initialScan;
    if (this.rotationChecks.has(path)) return { verdict: 'pending', atStart };
    const head = await gunzipHead(path, this.opts.fingerprintBytes).catch(() => EMPTY);
    if (head.length === 0) return { verdict: 'none', atStart };
    const candidates: Tracker[] = [];
    for (const t of new Set([...this.fpCandidates(head), ...this.recent.keys()])) {
      if (t.archive !== undefined || t.fp.length === 0 || head.length < t.fp.length || !head.subarray(0, t.fp.length).equals(t.fp)) continue;
      if (t.state === 'released' && (this.recent.get(t) ?? 0) <= now) continue;
      candidates.push(t);
    }
    if (candidates.length === 0) return { verdict: 'none', atStart };
    this.checkRotation(path, mark, atStart, candidates);
    return { verdict: 'pending', atStart };
  }

  /**
   * Uncompresses the archive at `path` for each candidate in turn, until one's content is found
   * from its fingerprint to where its reading got; off the work loop: other files are read
   * meanwhile. The verdict waits in rotationChecked, and the path is looked at again.
   */
  private checkRotation(path: string, mark: string, atStart: boolean, candidates: Tracker[]): void {
    const job = (async (): Promise<RotationCheck> => {
      for (const t of candidates) {
        const offset = t.readOffset;
        const tmp = join(this.opts.stateDir, `${GZ_TEMP}${t.sid}-${t.gen}-archive-${++this.copySeq}`);
        const fh = await openInflated(path, tmp, t, this.aborter.signal).catch((err: unknown) => {
          if (!this.stopping) this.ioError('archive', err);
          return undefined;
        });
        if (fh !== undefined) return { mark, atStart, at: this.ctx.now(), t, offset, copy: { fh, tmp, seen: mark } };
        if (this.stopping) break;
      }
      return { mark, atStart, at: this.ctx.now() };
    })().then((r) => {
      this.rotationChecks.delete(path);
      if (this.stopping) {
        if (r.copy !== undefined) discardCopy(r.copy);
        return;
      }
      this.rotationChecked.set(path, r);
      this.hints.set(path, 'rename');
      this.kick();
    });
    this.rotationChecks.set(path, job);
  }

  /**
   * t reads on, from where it was: one let go lately is tracked again, and its identity written
   * down again before its next line goes out.
   */
  private readOn(t: Tracker): void {
    if (t.state === 'released') {
      this.recent.delete(t);
      t.persisted = false;
      this.ckUrgent = true;
    }
    t.state = 'live';
    t.eof = false;
    t.finishing = false;
    if (!this.trackers.has(t)) this.track(t);
    this.note(t);
  }

  /** A checked archive's verdict, on the followed file as it is now. */
  private async applyRotation(path: string, st: Stats, now: number, r: RotationCheck): Promise<'none' | 'read' | 'taken' | 'wait' | 'pending'> {
    const t = r.t;
    const fh = r.copy?.fh;
    if (t === undefined || fh === undefined || r.copy === undefined) return 'none';
    const tmp = r.copy.tmp;
    const alive =
      t.state !== 'released' &&
      (t.fd !== undefined || (t.state !== 'retired' && (await stat(t.path).then((s) => isFileOf(s, t), () => false))));
    const moved = t.archive !== undefined || (t.state === 'released' && !this.recent.has(t)) || t.readOffset !== r.offset;
    if (alive || moved || t.inflight.length > 0 || t.failed) {
      discardCopy(r.copy);
      if (alive) return 'read';
      if (moved) {
        // The file moved on while the copy was written: checked again against it as it is now.
        this.hints.set(path, 'rename');
        return 'pending';
      }
      this.archiveWait.set(path, now + this.opts.rotatedIdleMs);
      return 'wait';
    }
    if (this.openCount >= this.opts.maxOpenFiles) await this.evictIdle();
    const tst = await fh.stat();
    if (this.byPath.get(t.path) === t) this.byPath.delete(t.path);
    this.unindexFp(t);
    t.archive = 'reading';
    this.readOn(t);
    this.holdOpen(t, fh);
    t.gzTemp = tmp;
    this.moveTo(t, path, st);
    t.size = tst.size;
    t.maxSize = tst.size;
    this.byPath.set(path, t);
    const bytes = Math.max(0, tst.size - t.readOffset);
    this.ctx.telemetry.add(C.gzRecovered, this.labels);
    this.ctx.telemetry.add(C.gzRecoveredBytes, this.labels, bytes);
    this.ctx.log.info('a followed file, compressed by its rotation: read on from its archive', { path, from: t.readOffset, bytes });
    return 'taken';
  }

  /**
   * An archive's handle is on its uncompressed copy, written anew (from the fingerprint and the
   * tail before where reading stopped, as for a recovered .gz) each time it is opened. One that
   * cannot be uncompressed is counted (`op="archive"`) and let go until it changes; one whose
   * content is no longer what was read is let go and read again as a new archive.
   */
  private async openArchive(t: Tracker): Promise<boolean> {
    if (t.archive !== 'reading') {
      this.dropInflated(t);
      return false;
    }
    const r = this.takeInflated(t);
    if (r === undefined) return false;
    if (r.fh === undefined) {
      if (r.err !== undefined) {
        this.ioError('archive', r.err);
        this.badArchives.set(t.key, r.seen);
      }
      const p = t.path;
      await this.release(t);
      this.hints.set(p, 'rename');
      return false;
    }
    const st = await r.fh.stat();
    this.holdOpen(t, r.fh);
    t.gzTemp = r.tmp;
    t.size = st.size;
    t.maxSize = st.size;
    t.eof = false;
    return true;
  }

  /**
   * Starts writing t's uncompressed copy, off the work loop: other files are read meanwhile, and
   * the copy is taken (openArchive) once written. At most ARCHIVE_COPIES copies are on disk at
   * once (being written, or read); the other archives wait their turn.
   */
  private async inflate(t: Tracker): Promise<void> {
    if (this.archiveCopies() >= ARCHIVE_COPIES) {
      this.archiveQueue.add(t);
      return;
    }
    this.archiveQueue.delete(t);
    const seen = await stat(t.path).catch(() => undefined);
    if (seen === undefined || !isFileOf(seen, t)) {
      const p = t.path;
      await this.pathGone(t);
      this.hints.set(p, 'rename');
      return;
    }
    const tmp = join(this.opts.stateDir, `${GZ_TEMP}${t.sid}-${t.gen}`);
    const mark = `${seen.size}:${seen.mtimeMs}`;
    const job = openInflated(t.path, tmp, t, this.aborter.signal)
      .then(
        (fh): Inflated => ({ fh, tmp, seen: mark }),
        (err: unknown): Inflated => ({ fh: undefined, tmp, err, seen: mark }),
      )
      .then((r) => {
        this.inflating.delete(t);
        if (this.stopping || t.archive !== 'reading' || t.fd !== undefined || !this.trackers.has(t)) {
          if (r.fh !== undefined) discardCopy(r);
          this.wakeArchives();
          return;
        }
        t.inflated = r;
        if (r.fh !== undefined) this.readyCopies++;
        else this.wakeArchives();
        this.dirty.add(t);
        this.kick();
      });
    this.inflating.set(t, job);
  }

  /** Uncompressed copies on disk: being written, written and not yet taken, or open. */
  private archiveCopies(): number {
    let n = this.inflating.size + this.readyCopies;
    for (const o of this.open) if (o.gzTemp !== undefined) n++;
    return n;
  }

  private takeInflated(t: Tracker): Inflated | undefined {
    const r = t.inflated;
    t.inflated = undefined;
    if (r?.fh !== undefined) this.readyCopies--;
    return r;
  }

  /** A copy written for a tracker that no longer reads it is removed. */
  private dropInflated(t: Tracker): void {
    const r = this.takeInflated(t);
    if (r?.fh === undefined) return;
    discardCopy(r);
    this.wakeArchives();
  }

  /** A copy's place is free: the archives waiting for one are looked at again. */
  private wakeArchives(): void {
    if (this.archiveQueue.size === 0) return;
    for (const q of this.archiveQueue) if (this.trackers.has(q)) this.dirty.add(q);
    this.archiveQueue.clear();
    this.kick();
  }

  /**
   * An archive read to its end: its last partial line and multiline event go out at once (no
   * more is coming), and once every line is confirmed it is done, its copy removed.
   */
  private async archiveRead(t: Tracker, now: number): Promise<void> {
    if (!t.eof || t.failed || t.readOffset < t.size) return;
    if (t.holding) this.flushAll(t, now);
    if (t.inflight.length > 0 || t.confirmed < t.size) return; // its acknowledgement comes back here
    t.archive = 'done';
    // Never read again: its checkpoint entry need not carry the fingerprint and tail (a spool of
    // many archives would otherwise rewrite them all with every checkpoint).
    t.fp = EMPTY;
    t.tail = EMPTY;
    t.confirmedTail = EMPTY;
    t.entry = undefined;
    this.ckDirty = true;
    await this.closeFd(t);
    if ((this.opts.removeAfterMs ?? 0) > 0) this.removals.add(t);
  }

  /**
   * remove_after_ms: deletes the file once everything in it was confirmed and it stayed unchanged
   * for the delay. The handle stays open across the deletion and the tracker drains it like a
   * rotated file, so lines a writer appended between the last read and the unlink still arrive.
   * A file truncated to nothing is not deleted (its writer goes on), nor one reached through a
   * symbolic link (the link would go, not the file).
   */
  private async maybeRemove(t: Tracker, now: number): Promise<void> {
    if (t.state !== 'live' || t.failed || !t.eof || t.holding || t.inflight.length > 0 || t.confirmed !== t.readOffset || t.readOffset === 0) {
      this.removals.delete(t);
      return;
    }
    if (now - t.lastGrowthAt < (this.opts.removeAfterMs ?? 0)) {
      this.removals.add(t);
      return;
    }
    this.removals.delete(t);
    // lstat: a link has an inode of its own, never the file's.
    const st = await lstat(t.path).catch(() => undefined);
    // Moved, replaced or grown since the last read: rotation and reading take it from here. (An
    // archive is done: its size is the compressed one, and its copy is closed.)
    if (st === undefined || st.dev !== t.dev || st.ino !== t.ino) return;
    if (t.archive === undefined && (st.size !== t.readOffset || t.fd === undefined)) return;
    try {
      await unlink(t.path);
    } catch (err) {
      this.ioError('remove', err);
      t.lastGrowthAt = now; // tried again after another delay
      this.removals.add(t);
      return;
    }
    this.ctx.telemetry.add(C.removed, this.labels);
    this.ctx.log.debug('file read and confirmed to its end: removed (remove_after_ms)', { path: t.path, bytes: t.confirmed });
    await this.pathGone(t, true);
  }

  private async pump(t: Tracker, now: number): Promise<void> {
    const fd = t.fd;
    if (fd === undefined) return;
    let reads = 0;
    this.blocked.delete(t);
    while (!this.stopping && t.fd === fd) {
      if (t.inflight.length >= this.opts.maxInflightBatches || this.inflightBytes >= this.opts.maxInflightBytes) {
        this.blocked.add(t); // an acknowledgement wakes it
        return;
      }
      if (reads >= 16) {
        this.dirty.add(t); // fairness between files: come back after the others
        return;
      }
      const tailLen = t.tail.length;
      let n: number;
      try {
        ({ bytesRead: n } = await fd.read(this.buf, 0, tailLen + this.opts.readBufferBytes, t.readOffset - tailLen));
      } catch (err) {
        this.ioError('read', err);
        await this.closeFd(t);
        return;
      }
      if (n < tailLen || this.buf.compare(t.tail, 0, tailLen, 0, tailLen) !== 0) {
        await this.truncated(t);
        return;
      }
      const got = n - tailLen;
      reads++;
      if (got === 0) {
        t.eof = true;
        break;
      }
      // Lines stay ranges of the buffer they were read into until a sink copies them out
      // (LineBlock). A full read fills this.buf with lines, so the batch keeps it and the next
      // read gets a new one; a short read (a file being tailed live) is copied out to its own
      // small buffer, so a few new lines never pin a whole read buffer.
      const full = got === this.opts.readBufferBytes;
      const chunk = full ? this.buf.subarray(tailLen, n) : Buffer.from(this.buf.subarray(tailLen, n));
      // The fingerprint was read when the file was found, perhaps long before this read (the
      // identity is checkpointed first). Bytes read within it must be those bytes: otherwise the
      // file was truncated and rewritten in between, which the few bytes before a read position
      // near 0 cannot show. Reading on would tie the old fingerprint to the new content (a
      // restart would then take the file for rewritten and send it all again) and keep a copy
      // of the old content from being recognised.
      if (t.readOffset < t.fp.length) {
        const k = Math.min(got, t.fp.length - t.readOffset);
        if (chunk.compare(t.fp, t.readOffset, t.readOffset + k, 0, k) !== 0) {
          await this.truncated(t);
          return;
        }
      }
      this.extendFingerprint(t, chunk);
      this.frame(t, chunk, now, n);
      t.readOffset += got;
      t.tail = Buffer.from(this.buf.subarray(Math.max(0, n - TAIL), n));
      if (full) this.buf = Buffer.allocUnsafe(this.buf.length);
      t.size = Math.max(t.size, t.readOffset);
      t.maxSize = Math.max(t.maxSize, t.size);
      t.lastGrowthAt = now;
      t.lastActiveAt = now;
      if (got < this.opts.readBufferBytes) {
        t.eof = true; // a short read: at the end for now, no need to ask again
        break;
      }
      t.eof = false;
    }
    if (t.eof && this.opts.batchLingerMs === 0) this.emitBatch(t);
  }

  private extendFingerprint(t: Tracker, chunk: Buffer): void {
    if (t.fp.length >= this.opts.fingerprintBytes || t.readOffset > t.fp.length) return;
    const from = t.fp.length - t.readOffset;
    const more = chunk.subarray(from, from + this.opts.fingerprintBytes - t.fp.length);
    if (more.length === 0) return;
    this.setFp(t, Buffer.concat([t.fp, more]));
  }

  /** Frames a chunk read at t.readOffset; `bufEnd` is where it ends in this.buf (for tails). */
  private frame(t: Tracker, chunk: Buffer, now: number, bufEnd: number): void {
    const lines = this.lines;
    lines.length = 0;
    const cutBefore = t.framer.cutLines;
    const nulBefore = t.framer.nulBytes;
    t.framer.push(chunk, lines);
    if (t.framer.cutLines !== cutBefore) this.ctx.telemetry.add(C.cut, this.labels, t.framer.cutLines - cutBefore);
    if (t.framer.nulBytes !== nulBefore) this.nulSkipped(t, t.framer.nulBytes - nulBefore);
    // this.buf[bufEnd - k] is the file byte at (t.readOffset + chunk.length - k).
    const fileEnd = t.readOffset + chunk.length;
    for (const l of lines) this.addLine(t, l, now, { fileEnd, bufEnd });
    lines.length = 0;
  }

  private addLine(t: Tracker, l: Line, now: number, at: { fileEnd: number; bufEnd: number } | undefined): void {
    let start = l.start;
    // A byte order mark is not part of the first line (Filebeat strips it too: a JSON line with
    // one does not parse).
    if (l.offset === 0 && startsWith(l.buf, start, l.end, this.bom)) start += this.bom.length;
    if (this.utf8 && (t.ml === undefined || t.ml.passes(l.buf, start, l.end))) {
      if (this.keeps !== undefined && !this.keeps(this.decode(l.buf, start, l.end))) {
        this.filtered(t, l.next, now, at);
        return;
      }
      // The line stays bytes: a sink that ships lines copies them from this buffer (LineBlock).
      this.batchFor(t, now).addBytes(l.buf, start, l.end, l.offset, now);
      this.added(t, l.next, l.length, at);
      return;
    }
    const text = this.decode(l.buf, start, l.end); // invalid sequences become U+FFFD, never an exception
    if (t.ml === undefined) {
      this.addText(t, text, l.offset, l.next, l.length, now, at);
      return;
    }
    const out = this.pieces;
    out.length = 0;
    const before = t.ml.overflows;
    // A runtime's header is read from the bytes where the set is ASCII's; UTF-16's are re-encoded.
    t.ml.push({ text, offset: l.offset, next: l.next, bytes: l.length }, now, out, this.utf16 ? undefined : l.buf.subarray(start, l.end));
    if (t.ml.overflows !== before) this.ctx.telemetry.add(C.multilineOverflow, this.labels);
    for (const p of out) this.addText(t, p.text, p.offset, p.next, p.bytes, now, at);
    out.length = 0;
  }

  private addText(t: Tracker, text: string, offset: number, next: number, bytes: number, now: number, at: { fileEnd: number; bufEnd: number } | undefined): void {
    if (this.keeps !== undefined && !this.keeps(text)) {
      this.filtered(t, next, now, at);
      return;
    }
    this.batchFor(t, now).addText(text, offset, now);
    this.added(t, next, bytes, at);
  }

  /**
   * A line include_lines / exclude_lines drops: not sent, counted, and the batch still ends after
   * it, so the checkpoint moves past it once the lines before it are confirmed (a batch of dropped
   * lines only is confirmed at once, sending nothing).
   */
  private filtered(t: Tracker, next: number, now: number, at: { fileEnd: number; bufEnd: number } | undefined): void {
    this.ctx.telemetry.add(C.filtered, this.labels);
    this.batchFor(t, now);
    this.added(t, next, 0, at);
  }

  /** The tracker's open batch; a batch holds one path and generation (a rename or truncation in between starts another). */
  private batchFor(t: Tracker, now: number): LineBlock {
    if (t.batch !== undefined && (t.batch.path !== t.path || t.batch.generation !== t.gen)) this.emitBatch(t);
    t.batch ??= new LineBlock(this.resource, t.path, t.sid, t.gen, now);
    return t.batch;
  }

  /** A line (or multiline event) of `bytes` bytes, ending before file offset `next`, joined the batch. */
  private added(t: Tracker, next: number, bytes: number, at: { fileEnd: number; bufEnd: number } | undefined): void {
    t.batchBytes += bytes;
    t.batchEnd = next;
    if (t.batch!.length >= this.opts.maxBatchLines || t.batchBytes >= this.opts.maxBatchBytes) this.emitBatch(t, at);
  }

  private emitBatch(t: Tracker, at?: { fileEnd: number; bufEnd: number }): void {
    const block = t.batch;
    if (block === undefined) return;
    const end = t.batchEnd;
    let tail: Buffer | undefined;
    if (end === t.readOffset) tail = t.tail;
    else if (at !== undefined) {
      const e = at.bufEnd - (at.fileEnd - end);
      if (e >= 0 && e <= at.bufEnd) tail = Buffer.from(this.buf.subarray(Math.max(0, e - TAIL), e));
      if (tail !== undefined && tail.length < Math.min(TAIL, end)) tail = undefined;
    }
    const entry: Inflight = { end, bytes: t.batchBytes, tail, settled: false, ok: false };
    t.batch = undefined;
    t.batchBytes = 0;
    t.inflight.push(entry);
    this.inflightBytes += entry.bytes;
    let p: Promise<void>;
    try {
      if (block.length === 0) p = Promise.resolve(); // only dropped lines: nothing to send
      else p = this.ctx.emitLines !== undefined ? this.ctx.emitLines(block) : this.ctx.emit(block.records());
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(
      () => this.onAck(t, entry),
      (err: unknown) => this.onNack(t, entry, err),
    );
  }

  private onAck(t: Tracker, e: Inflight): void {
    e.settled = true;
    e.ok = true;
    this.inflightBytes -= e.bytes;
    let moved = false;
    while (t.inflight.length > 0 && t.inflight[0]?.settled === true && t.inflight[0].ok) {
      const done = t.inflight.shift() as Inflight;
      t.confirmed = done.end;
      t.confirmedTail = done.tail;
      moved = true;
    }
    if (moved) {
      t.entry = undefined;
      this.ckDirty = true;
      // Written once the interval allows, not at the next tick (up to 200 ms later).
      if (!this.ckUrgent && this.ctx.now() - this.lastCkAt >= this.opts.checkpointIntervalMs) {
        this.ckUrgent = true;
        this.kick();
      }
    }
    this.wakeBlocked(t);
  }

  private onNack(t: Tracker, e: Inflight, err: unknown): void {
    e.settled = true;
    this.inflightBytes -= e.bytes;
    if (this.stopping) return;
    this.ctx.telemetry.add(C.emitRejected, { ...this.labels, code: errorCodeOf(err) });
    if (!t.failed) this.ctx.log.warn('file batch not confirmed; will re-read from the checkpoint', { path: t.path, error: err });
    t.failed = true;
    this.note(t);
    t.retryAt = this.ctx.now() + this.opts.retryBackoffMs;
    this.wakeBlocked(t);
  }

  private wakeBlocked(t: Tracker): void {
    if (this.stopping) return;
    this.dirty.add(t);
    for (const o of this.blocked) this.dirty.add(o);
    this.blocked.clear();
    this.kick();
  }

  /** After a rejected batch: back to the last confirmed offset, forget everything after it. */
  private async rewind(t: Tracker): Promise<void> {
    t.inflight = [];
    t.failed = false;
    this.note(t);
    t.readOffset = t.confirmed;
    t.framer = framer(this.opts, t.confirmed);
    t.ml?.reset();
    t.batch = undefined;
    t.batchBytes = 0;
    t.eof = false;
    if (t.confirmedTail !== undefined) {
      // What was there when it was read: a rewrite since then must still show as one.
      t.tail = t.confirmedTail;
    } else if (t.fd !== undefined && t.confirmed > 0) {
      const n = Math.min(TAIL, t.confirmed);
      const b = Buffer.alloc(n);
      await t.fd.read(b, 0, n, t.confirmed - n).catch(() => undefined);
      t.tail = b;
    } else {
      t.tail = EMPTY;
    }
  }

  /** Partial lines, multiline events and lingering batches whose time has come. */
  private async flushDue(t: Tracker, now: number): Promise<void> {
    if (t.failed || !t.persisted) return;
    const ml = t.ml;
    if (t.eof && t.framer.pendingBytes > 0 && now - t.lastGrowthAt >= this.opts.partialLineFlushMs) {
      this.flushPartial(t, now);
    }
    const d = ml?.deadline();
    if (ml !== undefined && d !== undefined && now >= d) {
      const out: Piece[] = [];
      ml.flush(now, false, out);
      for (const p of out) this.addText(t, p.text, p.offset, p.next, p.bytes, now, undefined);
    }
    if (t.batch !== undefined && now - t.batch.observedTime >= this.opts.batchLingerMs) this.emitBatch(t);
  }

  /** The end of t's content: its partial last line and open multiline event go out now. */
  private flushAll(t: Tracker, now: number): void {
    this.flushPartial(t, now);
    const out: Piece[] = [];
    t.ml?.flush(now, true, out);
    for (const p of out) this.addText(t, p.text, p.offset, p.next, p.bytes, now, undefined);
    this.emitBatch(t);
  }

  private flushPartial(t: Tracker, now: number): void {
    const lines: Line[] = [];
    t.framer.flushPartial(lines);
    for (const l of lines) this.addLine(t, l, now, undefined);
  }

  /** Everything of a tracker handed out, then released: the end of a rotated or deleted file. */
  private async maybeRelease(t: Tracker, now: number): Promise<void> {
    if (t.state === 'draining') {
      if (!t.eof || t.failed) {
        if (now - t.drainSince < this.opts.rotateDrainTimeoutMs) return;
      } else if (now - t.lastGrowthAt < this.opts.rotatedIdleMs && now - t.drainSince < this.opts.rotateDrainTimeoutMs) {
        return;
      }
      if (now - t.drainSince >= this.opts.rotateDrainTimeoutMs && t.fd !== undefined && !t.finishing) {
        const st = await t.fd.stat().catch(() => undefined);
        const left = st === undefined ? 0 : Math.max(0, st.size - t.readOffset);
        if (left > 0) this.ctx.telemetry.add(C.abandoned, this.labels, left);
      }
    } else if (t.state === 'retired') {
      if (now - t.retiredAt < this.opts.copyDetectMs) return;
      if (t.fd === undefined && !t.lookedBeside && !t.finishing && t.inflight.length === 0) {
        t.lookedBeside = true;
        if (await this.recoverBeside(t, now)) return;
      }
    } else {
      return;
    }
    if (!t.finishing) {
      t.finishing = true;
      this.flushAll(t, now);
    }
    if (t.inflight.length > 0) return; // an acknowledgement (or its rejection) brings it back
    if (t.state === 'retired' && t.fd === undefined) {
      const lost = Math.max(0, t.maxSize - t.readOffset);
      if (lost > 0) this.ctx.telemetry.add(C.possiblyLost, this.labels, lost);
    }
    await this.release(t);
  }

  /**
   * A retired file (truncated, or gone while nobody held it open) whose copy the globs did not
   * select may still be beside its old name: `app.log.1` after a copytruncate when only
   * `app.log` is followed, or compressed (`app.log.1.gz`, `app.log-20261126.gz`, kubelet's
   * `0.log.<time>.gz`) when logrotate ran without `delaycompress` while the agent was down. A
   * file there whose content starts with the fingerprint and holds, just before where reading
   * stopped, the same bytes is the file: read on from there like a rotated file, under the same
   * identity, so a restart in between resumes where it was confirmed. A `.gz` is uncompressed
   * first, into a sparse file in the state directory (offsets kept). Returns false when none is.
   */
  private async recoverBeside(t: Tracker, now: number): Promise<boolean> {
    // Without a fingerprint anything would match (as for copies: a file found empty has none).
    if (t.fp.length === 0) return false;
    const dir = dirname(t.path);
    const stem = basename(t.path);
    let names: string[];
    try {
      // With the name itself: a .gz this tracker was reading before a restart.
      names = (await readdir(dir)).filter((n) => n.startsWith(stem));
    } catch {
      return false;
    }
    const found: { path: string; mtime: number }[] = [];
    for (const n of names.slice(0, 256)) {
      const st = await stat(join(dir, n)).catch(() => undefined);
      // A file another tracker reads is not this one's (the new file at a truncated file's path).
      if (st?.isFile() === true && !this.byIno.has(keyOf(st))) found.push({ path: join(dir, n), mtime: st.mtimeMs });
    }
    found.sort((a, b) => b.mtime - a.mtime);
    const tmp = join(this.opts.stateDir, `${GZ_TEMP}${t.sid}-${t.gen}`);
    for (const c of found.slice(0, BESIDE_CANDIDATES)) {
      const gz = c.path.endsWith('.gz');
      // A file that cannot be read, a .gz that cannot be uncompressed, a full data_dir: counted
      // and said (tidewatch_file_io_errors_total{op="recover"}), and the next candidate is tried.
      // A plain file is checked through the handle it is then read by: a rename in between
      // cannot slip another file in.
      let fh: FileHandle | undefined;
      const ok = await (async () => {
        if (gz) {
          fh = await openInflated(c.path, tmp, t);
          return fh !== undefined;
        }
        fh = await open(c.path, 'r');
        return holds(fh, t);
      })().catch((err: unknown) => {
        this.ioError('recover', err);
        return false;
      });
      if (!ok || fh === undefined) {
        await fh?.close().catch(() => {});
        continue;
      }
      if (this.openCount >= this.opts.maxOpenFiles) await this.evictIdle();
      const st = await fh.stat();
      // As for a copy: what the file had beyond what the copy holds was written after the copy.
      if (t.maxSize > st.size) this.ctx.telemetry.add(C.possiblyLost, this.labels, t.maxSize - st.size);
      this.holdOpen(t, fh);
      if (gz) t.gzTemp = tmp;
      t.eof = false;
      // The identity stays; a .gz's bytes are read from its uncompressed copy, named by the .gz.
      this.moveTo(t, c.path, st);
      this.startDraining(t, now);
      const bytes = Math.max(0, st.size - t.readOffset);
      if (gz) {
        this.ctx.telemetry.add(C.gzRecovered, this.labels);
        this.ctx.telemetry.add(C.gzRecoveredBytes, this.labels, bytes);
      } else {
        this.ctx.telemetry.add(C.copies, this.labels);
      }
      this.ctx.log.info('file gone before it was read to its end, found beside its old name: reading the rest from there', { path: c.path, from: t.readOffset, bytes });
      return true;
    }
    return false;
  }

  /**
   * t goes on reading the file at `path` (`st`): a copy of its file, or the uncompressed copy of
   * its .gz. Same identity, from where it was.
   */
  private moveTo(t: Tracker, path: string, st: Stats): void {
    if (this.byIno.get(t.key) === t) this.byIno.delete(t.key);
    t.path = path;
    t.dev = st.dev;
    t.ino = st.ino;
    t.btime = st.birthtimeMs;
    t.size = st.size;
    t.maxSize = st.size;
    t.entry = undefined;
    this.byIno.set(t.key, t);
    this.ckDirty = true;
    this.dirty.add(t);
  }

  private async release(t: Tracker): Promise<void> {
    // Only a file still linked somewhere can be renamed back: a deleted one's inode may be reused.
    if (t.state === 'draining' && t.archive === undefined && t.fp.length > 0 && !this.stopping && ((await t.fd?.stat().catch(() => undefined))?.nlink ?? 0) > 0) {
      const now = this.ctx.now();
      for (const [k, m] of this.movedAway) if (m.until <= now || this.movedAway.size >= MOVED_MAX) this.movedAway.delete(k);
      this.movedAway.set(t.key, { t, until: now + Math.max(this.opts.copyDetectMs, 2 * this.opts.rescanIntervalMs) });
    }
    const remember = this.archives && t.archive === undefined && t.fp.length > 0 && !this.stopping;
    // Its checkpoint entry needs the bytes before its confirmed offset, read while it is open.
    if (remember) await this.tailAtConfirmed(t);
    await this.closeFd(t);
    if (t.gzTemp !== undefined) await unlink(t.gzTemp).catch(() => {});
    if (remember) {
      const now = this.ctx.now();
      for (const [r, until] of this.recent) if (until <= now || this.recent.size >= RECENT_MAX) this.recent.delete(r);
      this.recent.set(t, now + Math.max(this.opts.copyDetectMs, RECENT_MS));
      t.retiredAt = now;
    }
    t.entry = undefined;
    t.state = 'released';
    this.untrack(t);
    if (this.byIno.get(t.key) === t) this.byIno.delete(t.key);
    if (this.byPath.get(t.path) === t) this.byPath.delete(t.path);
    this.dirty.delete(t);
    this.ckDirty = true;
  }

  /**
   * The file under t was truncated (or rewritten): t retires, keeping what it holds in case a
   * copy of the old content turns up, and the file goes on as the next generation.
   */
  private async truncated(t: Tracker, knownHead?: Buffer): Promise<void> {
    const now = this.ctx.now();
    this.ctx.telemetry.add(C.truncations, this.labels);
    let head = knownHead;
    if (head === undefined) {
      head = EMPTY;
      if (t.fd !== undefined) {
        const b = Buffer.alloc(this.opts.fingerprintBytes);
        const r = await t.fd.read(b, 0, b.length, 0).catch(() => undefined);
        head = r === undefined ? EMPTY : Buffer.from(b.subarray(0, r.bytesRead));
      }
    }
    // The new generation's size now, so that lag() counts its bytes unread from here on, not only
    // once its first read returns.
    const size = t.fd === undefined ? 0 : ((await t.fd.stat().catch(() => undefined))?.size ?? 0);
    const n = new Tracker(
      {
        sid: t.head ? t.sid : newSid(),
        gen: t.head ? t.gen + 1 : 0,
        head: true,
        path: t.path,
        dev: t.dev,
        ino: t.ino,
        btime: t.btime,
        fp: head,
        offset: 0,
        tail: EMPTY,
      },
      this.opts,
      now,
    );
    n.fd = t.fd;
    n.size = size;
    n.maxSize = size;
    // The handle's place among the open ones goes with it: the timer visits open trackers only, so
    // without it the new generation's partial line or multiline event waited for the old one's
    // release (copy_detect_ms) instead of its own timeout.
    if (this.open.delete(t)) this.open.add(n);
    n.state = t.state === 'draining' ? 'draining' : 'live';
    this.note(n);
    n.drainSince = t.drainSince;
    n.lastActiveAt = now;
    // Complete lines of the old generation go out now; a partial line waits for a copy.
    this.emitBatch(t);
    t.fd = undefined;
    t.head = false;
    t.state = 'retired';
    this.note(t);
    t.retiredAt = now;
    t.entry = undefined;
    this.track(n);
    this.byIno.set(n.key, n);
    if (this.byPath.get(t.path) === t) this.byPath.set(n.path, n);
    this.dirty.delete(t);
    this.dirty.add(n);
    this.ckUrgent = true;
    this.ckDirty = true;
    // A copy seen earlier may be waiting for exactly this.
    for (const [, p] of this.pending) this.hints.set(p.path, 'rename');
    // And one not yet seen is looked for now rather than at the next scan.
    this.scanDue = true;
  }

  // ---- handles ----------------------------------------------------------------------------

  private async openFd(t: Tracker): Promise<boolean> {
    if (t.archive !== undefined && t.inflated === undefined) {
      // Its copy is written off the work loop first; the handle is taken once it is there.
      if (t.archive === 'reading' && !this.inflating.has(t)) await this.inflate(t);
      return false;
    }
    if (this.openCount >= this.opts.maxOpenFiles && !(await this.evictIdle())) {
      this.ctx.telemetry.add(C.openDeferred, this.labels);
      return false;
    }
    if (t.archive !== undefined) return this.openArchive(t);
    let fh: FileHandle;
    try {
      fh = await open(t.path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') await this.pathGone(t);
      else this.ioError('open', err);
      return false;
    }
    const st = await fh.stat().catch(() => undefined);
    if (st === undefined || !isFileOf(st, t)) {
      // Another file is at the path now: ours was renamed or deleted while closed.
      await fh.close().catch(() => {});
      const p = t.path;
      await this.pathGone(t);
      this.hints.set(p, 'rename');
      return false;
    }
    this.holdOpen(t, fh);
    t.size = st.size;
    return true;
  }

  /** t reads through `fh` from now on, one of the open handles (counted against max_open_files). */
  private holdOpen(t: Tracker, fh: FileHandle): void {
    t.fd = fh;
    this.openCount++;
    this.open.add(t);
    this.ctx.telemetry.set('tidewatch_file_open_files', this.labels, this.openCount);
  }

  /**
   * Closes idle handles, oldest opened first: an eighth of the cap at once, so taking in many
   * files does not scan the open set for every one.
   */
  private async evictIdle(): Promise<boolean> {
    const want = Math.max(1, this.opts.maxOpenFiles >> 3);
    const victims: Tracker[] = [];
    for (const t of this.open) {
      if (t.state === 'live' && t.idle) victims.push(t);
      if (victims.length >= want) break;
    }
    for (const t of victims) await this.closeFd(t);
    return victims.length > 0;
  }

  private async closeFd(t: Tracker): Promise<void> {
    const fd = t.fd;
    if (fd === undefined) return;
    const hadCopy = t.gzTemp !== undefined;
    t.fd = undefined;
    this.openCount--;
    this.open.delete(t);
    this.ctx.telemetry.set('tidewatch_file_open_files', this.labels, this.openCount);
    await fd.close().catch(() => {});
    // An archive's copy is written anew when it is opened again.
    if (t.archive !== undefined && t.gzTemp !== undefined) {
      await unlink(t.gzTemp).catch(() => {});
      t.gzTemp = undefined;
    }
    // A copy no longer counts once its handle is closed (archiveCopies).
    if (hadCopy) this.wakeArchives();
  }

  // ---- checkpoint -----------------------------------------------------------------------

  /**
   * The confirmed offset and the bytes just before it, read through t's handle when not known
   * (kept as confirmedTail while the offset stays). Taken together: an acknowledgement may move the
   * confirmed offset while the tail is read, and a tail saved with another offset's bytes makes the
   * next start take the file for rewritten (it sent the whole file again).
   */
  private async tailAtConfirmed(t: Tracker): Promise<{ offset: number; tail: Buffer | undefined }> {
    const offset = t.confirmed;
    let tail = t.confirmedTail;
    if (tail === undefined && t.fd !== undefined && offset > 0) {
      const n = Math.min(TAIL, offset);
      const b = Buffer.alloc(n);
      const r = await t.fd.read(b, 0, n, offset - n).catch(() => undefined);
      tail = r?.bytesRead === n ? b : EMPTY;
      if (t.confirmed === offset) t.confirmedTail = tail;
    }
    return { offset, tail };
  }

  /** t's checkpoint entry: cached while its confirmed offset stays where it was. */
  private async entryOf(t: Tracker): Promise<CheckpointEntry> {
    if (t.entry !== undefined) return t.entry;
    const { offset, tail } = await this.tailAtConfirmed(t);
    const retired = t.state === 'retired' || t.state === 'released';
    const entry: CheckpointEntry = {
      sid: t.sid,
      gen: t.gen,
      head: t.head,
      path: t.path,
      dev: t.dev,
      ino: t.ino,
      btime: t.btime,
      fp: t.fp.toString('base64'),
      offset,
      tail: (tail ?? EMPTY).toString('base64'),
      state: retired ? 'retired' : 'live',
      ...(retired ? { retired_at: t.retiredAt } : {}),
      ...(t.archive !== undefined ? { archive: t.archive } : {}),
    };
    // Kept for the next save only while it is still current.
    if (t.confirmed === offset) t.entry = entry;
    return entry;
  }

  private async saveCheckpoint(): Promise<void> {
    this.ckUrgent = false;
    // Cleared first: an acknowledgement that lands while this save awaits marks the next one due.
    this.ckDirty = false;
    const entries: CheckpointEntry[] = [];
    const saved: Tracker[] = [];
    for (const t of this.trackers) {
      if (t.state === 'released') continue;
      entries.push(await this.entryOf(t));
      saved.push(t);
    }
    // Files let go lately, so a restart still knows their compressed rotation (rotatedInto). Only
    // with the bytes before their offset: a fingerprint alone could take another file's archive
    // for theirs and skip its lines.
    const now = this.ctx.now();
    for (const [t, until] of this.recent) {
      if (until <= now || t.state !== 'released' || (t.confirmed > 0 && (t.confirmedTail?.length ?? 0) === 0)) continue;
      entries.push({ ...(await this.entryOf(t)), released_until: until });
    }
    try {
      await this.store.save({ entries });
    } catch (err) {
      this.ckDirty = true;
      this.ioError('checkpoint', err);
      return;
    }
    this.lastCkAt = this.ctx.now();
    this.ctx.telemetry.add(C.ckWrites, this.labels);
    for (const t of saved) {
      if (!t.persisted) {
        t.persisted = true;
        this.dirty.add(t);
      }
    }
  }

  // ---- telemetry ------------------------------------------------------------------------

  private publishLag(): void {
    let totalUnread = 0;
    let totalUnconfirmed = 0;
    // Per file, for the most lagging files only: a bounded number of series whatever the count
    // of files (the telemetry registry caps and counts the rest).
    const top: { path: string; unread: number; unconfirmed: number }[] = [];
    for (const t of this.trackers) {
      const unread = unreadOf(t);
      const unconfirmed = t.readOffset - t.confirmed;
      totalUnread += unread;
      totalUnconfirmed += unconfirmed;
      if (unread + unconfirmed > 0) top.push({ path: t.path, unread, unconfirmed });
    }
    this.ctx.telemetry.set('tidewatch_file_unread_bytes', this.labels, totalUnread);
    this.ctx.telemetry.set('tidewatch_file_unconfirmed_bytes', this.labels, totalUnconfirmed);
    this.ctx.telemetry.set('tidewatch_file_inflight_bytes', this.labels, this.inflightBytes);
    top.sort((a, b) => b.unread + b.unconfirmed - (a.unread + a.unconfirmed));
    const shown = new Set<string>();
    for (const l of top.slice(0, LAG_SERIES)) {
      shown.add(l.path);
      this.ctx.telemetry.set('tidewatch_file_lag_unread_bytes', { ...this.labels, path: l.path }, l.unread);
      this.ctx.telemetry.set('tidewatch_file_lag_unconfirmed_bytes', { ...this.labels, path: l.path }, l.unconfirmed);
    }
    for (const p of this.lagPaths) {
      if (shown.has(p)) continue;
      this.ctx.telemetry.set('tidewatch_file_lag_unread_bytes', { ...this.labels, path: p }, 0);
      this.ctx.telemetry.set('tidewatch_file_lag_unconfirmed_bytes', { ...this.labels, path: p }, 0);
    }
    this.lagPaths = shown;
  }

  /** NUL bytes skipped where lines start (lines.ts): counted, and the likely cause said. */
  private nulSkipped(t: Tracker, bytes: number): void {
    this.ctx.telemetry.add(C.nulSkipped, this.labels, bytes);
    if (!this.nulLog.due(t.path, this.ctx.now())) return;
    this.ctx.log.warn('NUL bytes before a line skipped: the hole a copytruncate leaves when the writer does not append (open the log with O_APPEND, `>>` in a shell, or rotate by renaming)', {
      path: t.path,
      bytes,
    });
  }

  private ioError(op: string, err: unknown): void {
    this.ctx.telemetry.add(C.ioErrors, { ...this.labels, op });
    // A checkpoint that cannot be written (data_dir full or read-only) is the operator's problem
    // to fix: it carries the registry code, so alerts on tidewatch_errors_total see it.
    const code = op === 'checkpoint' ? 'TW_STATE_WRITE' : undefined;
    if (code !== undefined) this.ctx.telemetry.add('tidewatch_errors_total', { component: this.ctx.name, code });
    // Counted every time, logged at most once a minute per operation: an unreadable file met at
    // every rescan must not flood the log (STYLE.md rule 8).
    if (!this.ioLog.due(op, this.ctx.now())) return;
    this.ctx.log.warn('file source I/O error', { op, ...(code !== undefined ? { code } : {}), error: err });
  }
}

/**
 * Once per window per key, for log lines about conditions that repeat at every rescan. At most
 * 1000 keys: expired ones are dropped first; beyond, nothing more is logged until some expire.
 */
class LogLimiter {
  private readonly at = new Map<string, number>();

  constructor(private readonly windowMs: number) {}

  /** True when `key` was not logged within the window (and notes it as logged now). */
  due(key: string, now: number): boolean {
    if (now - (this.at.get(key) ?? -Infinity) < this.windowMs) return false;
    if (this.at.size >= 1000) for (const [k, t] of this.at) if (now - t >= this.windowMs) this.at.delete(k);
    if (this.at.size >= 1000) return false;
    this.at.set(key, now);
    return true;
  }
}

/** Prefix of the sparse files a `.gz` is uncompressed into (state directory). */
const GZ_TEMP = 'gz-';
/** Newest files beside a retired file's old name that are looked into. */
const BESIDE_CANDIDATES = 8;
/** Uncompressed bytes per chunk out of gunzip (zlib's default is 16 KiB: an await per 16 KiB written). */
const GZ_CHUNK = 256 * 1024;
/** Archives' uncompressed copies on disk at once: one read while the next is written. */
const ARCHIVE_COPIES = 2;
/** A new archive's verdict (rotationChecked) not taken within this long is dropped with its copy. */
const ROTATION_CHECK_KEEP_MS = 60_000;
/** Files let go after a rotation, remembered by inode (FileTailer.movedAway), at most. */
const MOVED_MAX = 1024;
/** Files let go lately, kept to recognise their compressed rotation (FileTailer.recent), at most. */
const RECENT_MAX = 1024;
/**
 * How long: past a day, for logrotate's `delaycompress` when the globs select `*.log` and `*.gz`
 * but not `app.log.1` (let go after rotated_idle_ms, compressed at the next daily rotation).
 */
const RECENT_MS = 26 * 3600 * 1000;
/** Most bytes a `.gz` may hold beyond where reading stopped (a decompression bomb stops here). */
const GZ_MAX_BYTES = 4 * 2 ** 30;

/**
 * Uncompresses `gz` into the sparse file `out` if its content is t's file: the fingerprint at
 * offset 0 and t's tail just before t.readOffset. Only the fingerprint and the bytes from that
 * tail on (from TAIL before the confirmed offset, where a rejected batch rewinds to, if earlier)
 * are written, at their offsets; the rest of `out` is a hole.
 */
async function inflateFrom(gz: string, out: string, t: Tracker, signal?: AbortSignal): Promise<boolean> {
  // Taken before the first await: off the work loop, t may read on meanwhile.
  const fp = t.fp;
  const offset = t.readOffset;
  const tail = t.tail;
  const tailFrom = offset - tail.length;
  const from = Math.max(0, Math.min(tailFrom, t.confirmed - TAIL));
  const { createGunzip } = await import('node:zlib');
  const fh = await open(out, 'w');
  const input = createReadStream(gz);
  try {
    let pos = 0;
    for await (const chunk of input.pipe(createGunzip({ chunkSize: GZ_CHUNK }))) {
      signal?.throwIfAborted();
      const c = chunk as Buffer;
      const end = pos + c.length;
      // From `w` on, this chunk is in the region written whole; from `a` on, in the tail and after.
      const w = Math.max(pos, from);
      const a = Math.max(pos, tailFrom);
      if (pos < fp.length) {
        const k = Math.min(end, fp.length);
        if (c.compare(fp, pos, k, 0, k - pos) !== 0) return false;
        const e = Math.min(k, w);
        if (e > pos) await fh.write(c, 0, e - pos, pos);
      }
      if (end > tailFrom && pos < offset) {
        const b = Math.min(end, offset);
        if (c.compare(tail, a - tailFrom, b - tailFrom, a - pos, b - pos) !== 0) return false;
      }
      if (end > w) await fh.write(c, w - pos, end - w, w);
      pos = end;
      if (pos - offset > GZ_MAX_BYTES) throw new Error(`${gz}: more than ${GZ_MAX_BYTES} bytes uncompressed past offset ${offset}`);
    }
    return pos >= offset && pos >= fp.length;
  } finally {
    input.destroy();
    await fh.close();
  }
}

/** The first `n` uncompressed bytes of the .gz at `path` (fewer when it holds fewer). */
async function gunzipHead(path: string, n: number): Promise<Buffer> {
  const { createGunzip } = await import('node:zlib');
  const input = createReadStream(path);
  const parts: Buffer[] = [];
  let got = 0;
  try {
    for await (const chunk of input.pipe(createGunzip({ chunkSize: GZ_CHUNK }))) {
      parts.push(chunk as Buffer);
      got += (chunk as Buffer).length;
      if (got >= n) break;
    }
  } finally {
    input.destroy();
  }
  return Buffer.concat(parts).subarray(0, n);
}

/**
 * `gz` uncompressed into `out` (inflateFrom) and opened for reading, when its content is t's
 * file; undefined when it is not. `out` is removed unless a handle is returned, also when
 * uncompressing or opening throws (which it passes on).
 */
async function openInflated(gz: string, out: string, t: Tracker, signal?: AbortSignal): Promise<FileHandle | undefined> {
  let fh: FileHandle | undefined;
  try {
    if (await inflateFrom(gz, out, t, signal)) fh = await open(out, 'r');
  } finally {
    if (fh === undefined) await unlink(out).catch(() => {});
  }
  return fh;
}

function discardCopy(r: Inflated): void {
  void r.fh?.close().catch(() => {});
  void unlink(r.tmp).catch(() => {});
}

/** Whether the file open as `fh` is t's file: its fingerprint at 0, its tail before t.readOffset. */
async function holds(fh: FileHandle, t: Tracker): Promise<boolean> {
  if (!(await readFrom(fh, 0, t.fp.length)).equals(t.fp)) return false;
  return (await readFrom(fh, t.readOffset - t.tail.length, t.tail.length)).equals(t.tail);
}

/** Up to `len` bytes at `pos` (fewer at the end of the file). */
async function readFrom(fh: FileHandle, pos: number, len: number): Promise<Buffer> {
  const b = Buffer.alloc(len);
  const { bytesRead } = await fh.read(b, 0, len, pos);
  return b.subarray(0, bytesRead);
}

async function readAt(path: string, pos: number, len: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    return await readFrom(fh, pos, len);
  } finally {
    await fh.close();
  }
}

/** Where `start_at: end` begins: just after the last complete line, so no line is cut. */
async function lastLineEnd(path: string, size: number, window: number, f: Framing): Promise<number> {
  const from = Math.max(0, size - window);
  const end = lastLineEndIn(await readAt(path, from, size - from), from, f);
  if (end === -1) return from === 0 ? 0 : size;
  return from + end;
}

/** A file renamed while we did not hold it open, found by its inode next to its old name. */
async function findByInode(dir: string, t: Tracker): Promise<string | undefined> {
  const names = await readdir(dir);
  for (const name of names) {
    const p = join(dir, name);
    const st = await stat(p).catch(() => undefined);
    if (st !== undefined && st.isFile() && isFileOf(st, t)) return p;
  }
  return undefined;
}

/**
 * windows-1252 where it differs from latin1, bytes 0x80-0x9F (WHATWG's table; the five bytes it
 * leaves undefined keep their latin1 meaning). Node 20's TextDecoder('windows-1252') decodes
 * these as latin1, so the table is ours.
 */
const CP1252_HIGH = '\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178';

function decoder(encoding: Encoding): (buf: Buffer, start: number, end: number) => string {
  if (encoding === 'windows-1252') {
    return (buf, start, end) => buf.toString('latin1', start, end).replace(/[\u0080-\u009f]/g, (c) => CP1252_HIGH[c.charCodeAt(0) - 0x80]!);
  }
  if (encoding === 'utf-16le') {
    // Buffer#toString drops an odd last byte and passes unpaired surrogates on: both become
    // U+FFFD here, as TextDecoder makes them (which takes 2.5x as long per line).
    return (buf, start, end) => {
      const s = buf.toString('utf16le', start, end);
      const w = s.isWellFormed() ? s : s.toWellFormed();
      return ((end - start) & 1) === 0 ? w : `${w}\ufffd`;
    };
  }
  if (encoding === 'utf-16be') {
    // No Buffer encoding for it. The mark is stripped by the caller, at the start of the file only.
    const d = new TextDecoder(encoding, { ignoreBOM: true });
    return (buf, start, end) => d.decode(buf.subarray(start, end));
  }
  const e = encoding === 'latin1' ? 'latin1' : 'utf8';
  return (buf, start, end) => buf.toString(e, start, end);
}

export type Encoding = 'utf-8' | 'latin1' | 'windows-1252' | 'utf-16le' | 'utf-16be';

const BOMS: Record<Encoding, Buffer> = {
  'utf-8': Buffer.from([0xef, 0xbb, 0xbf]),
  latin1: Buffer.alloc(0),
  'windows-1252': Buffer.alloc(0),
  'utf-16le': Buffer.from([0xff, 0xfe]),
  'utf-16be': Buffer.from([0xfe, 0xff]),
};

function framing(encoding: Encoding | undefined): Framing {
  return encoding === 'utf-16le' || encoding === 'utf-16be' ? encoding : 'bytes';
}

function framer(opts: TailerOptions, offset: number): LineFramer {
  return new LineFramer({ maxLineBytes: opts.maxLineBytes, longLines: opts.longLines, framing: framing(opts.encoding) }, offset);
}

function startsWith(buf: Buffer, start: number, end: number, prefix: Buffer): boolean {
  return prefix.length > 0 && end - start >= prefix.length && buf.compare(prefix, 0, prefix.length, start, start + prefix.length) === 0;
}
