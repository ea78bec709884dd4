/**
 * Line framing for the `file` source: finds line boundaries in a byte stream and reports each
 * line as a byte range of the file. Pure: no I/O, no clock; the tailer feeds it chunks in file
 * order and decides when a partial last line has waited long enough (`flushPartial`).
 *
 * Boundaries: `\n` ends a line; a `\r` right before it is not part of the line (`\r\n`). A lone
 * `\r` is content. Lines longer than `maxLineBytes` are truncated (the rest up to the newline is
 * skipped) or split into pieces of `maxLineBytes`, and counted either way; memory held for one
 * line is bounded by `maxLineBytes + 1` whatever the input.
 */

export type LongLines = 'truncate' | 'split';

export interface FramerOptions {
  readonly maxLineBytes: number;
  readonly longLines: LongLines;
}

/**
 * One framed line. `offset` is the file offset of its first byte, `next` the offset just after
 * its terminator (where the following line starts: a safe checkpoint position). Its content,
 * without terminator, is `buf[start, end)`; `buf` may be the chunk given to `push`, so it is valid
 * only until the caller reuses that chunk. A range rather than a view per line: the framer runs
 * for every line the agent ships, and a Buffer view costs more than the line's own string
 * (bench/kafka-e2e.mjs --agent-prof).
 */
export class Line {
  constructor(
    readonly offset: number,
    readonly next: number,
    readonly buf: Buffer,
    readonly start: number,
    readonly end: number,
    /** true when bytes beyond `maxLineBytes` were dropped (truncate) or the line was cut (split). */
    readonly cut: boolean,
  ) {}

  /** The content as a view of `buf` (same validity). */
  get bytes(): Buffer {
    return this.buf.subarray(this.start, this.end);
  }

  /** The content's length in bytes. */
  get length(): number {
    return this.end - this.start;
  }
}

const NL = 0x0a;
const CR = 0x0d;

export class LineFramer {
  /** Bytes of the current unfinished line (never more than maxLineBytes + 1): a prefix of `store`. */
  private carry: Buffer | undefined;
  /**
   * Room `carry` grows into, doubling: a line that arrives a few bytes per read is copied
   * O(length) times in all, not O(length²) (16-byte reads of a 256 KiB line took 1.6 s; found by
   * test/fuzz/lines.test.ts). Never reused once its bytes were handed out as a line.
   */
  private store: Buffer | undefined;
  /** File offset of the current unfinished line's first byte. */
  private start: number;
  /** File offset just after the last byte pushed. */
  private pos: number;
  /** truncate mode: the current line exceeded the limit; bytes are skipped up to its newline. */
  private skipping = false;
  /** After `flushPartial`, an immediately following bare terminator is not a line of its own. */
  private afterFlush = false;
  /** Lines truncated or split, since construction. */
  cutLines = 0;

  constructor(
    private readonly opts: FramerOptions,
    startOffset: number,
  ) {
    this.start = startOffset;
    this.pos = startOffset;
  }

  /** File offset after the last byte pushed. */
  get position(): number {
    return this.pos;
  }

  /** Where the unfinished line starts: everything before it has been handed out as lines. */
  get lineStart(): number {
    return this.start;
  }

  /** Bytes pushed but not yet part of a framed line. */
  get pendingBytes(): number {
    return this.pos - this.start;
  }

  /** Frames `chunk`, the file's bytes at `position`, appending finished lines to `out`. */
  push(chunk: Buffer, out: Line[]): void {
    const base = this.pos;
    let i = 0;
    while (i < chunk.length) {
      const nl = chunk.indexOf(NL, i);
      if (nl === -1) {
        this.append(chunk, i, chunk.length, out);
        break;
      }
      const end = nl > i && chunk[nl - 1] === CR ? nl - 1 : nl;
      if (this.carry === undefined && !this.skipping && end - i <= this.opts.maxLineBytes) {
        // Fast path: the whole line is inside this chunk; hand out its range, no copy.
        this.emit(chunk, i, end, base + nl + 1, false, out);
      } else {
        this.append(chunk, i, nl, out);
        this.finish(base + nl + 1, out);
      }
      i = nl + 1;
    }
    this.pos = base + chunk.length;
  }

  /**
   * Hands out the unfinished line as it is (the writer never ended it, or took too long). Bytes
   * that later complete it become a line of their own. Returns false when nothing was pending.
   */
  flushPartial(out: Line[]): boolean {
    if (this.pos === this.start) return false;
    const bytes = this.carry ?? Buffer.alloc(0);
    const cut = this.skipping;
    this.carry = undefined;
    this.store = undefined;
    this.skipping = false;
    // The carry keeps one byte of room for a `\r` before the newline; a line that ends here has
    // none, so that byte is content past the limit (found by test/fuzz/lines.test.ts).
    this.emitLimited(bytes, this.pos, cut, out);
    this.afterFlush = true;
    return true;
  }

  private append(chunk: Buffer, from: number, to: number, out: Line[]): void {
    if (from === to || this.skipping) return;
    const limit = this.opts.maxLineBytes + 1; // + 1: room for a `\r` that may precede the newline
    const seg = chunk.subarray(from, to);
    const have = this.carry?.length ?? 0;
    if (have + seg.length <= limit) {
      // Copy: `chunk` belongs to the caller and is reused for the next read.
      const need = have + seg.length;
      if (this.store === undefined || this.store.length < need) {
        const room = Buffer.allocUnsafe(Math.min(limit, Math.max(need, 2 * have, 256)));
        this.carry?.copy(room, 0);
        this.store = room;
      }
      seg.copy(this.store, have);
      this.carry = this.store.subarray(0, need);
      return;
    }
    const all = this.carry === undefined ? seg : Buffer.concat([this.carry, seg]);
    if (this.opts.longLines === 'truncate') {
      this.carry = Buffer.from(all.subarray(0, this.opts.maxLineBytes));
      this.store = this.carry;
      this.skipping = true;
      return;
    }
    // split: hand out full pieces while more than `limit` bytes remain, so the last piece is never
    // empty even after its `\r` is dropped.
    let o = 0;
    while (all.length - o > limit) {
      const piece = Buffer.from(all.subarray(o, o + this.opts.maxLineBytes));
      this.emit(piece, 0, piece.length, this.start + piece.length, true, out);
      o += this.opts.maxLineBytes;
    }
    this.carry = Buffer.from(all.subarray(o));
    this.store = this.carry;
  }

  private finish(next: number, out: Line[]): void {
    let bytes = this.carry ?? Buffer.alloc(0);
    const cut = this.skipping;
    if (!cut && bytes.length > 0 && bytes[bytes.length - 1] === CR) bytes = bytes.subarray(0, bytes.length - 1);
    this.carry = undefined;
    this.store = undefined;
    this.skipping = false;
    this.emitLimited(bytes, next, cut, out);
  }

  /** Emits a finished line, held to max_line_bytes: split in two or cut, as long_lines says. */
  private emitLimited(bytes: Buffer, next: number, cut: boolean, out: Line[]): void {
    if (bytes.length > this.opts.maxLineBytes) {
      if (this.opts.longLines === 'split') {
        this.emit(bytes, 0, this.opts.maxLineBytes, this.start + this.opts.maxLineBytes, true, out);
        bytes = bytes.subarray(this.opts.maxLineBytes);
      } else {
        bytes = bytes.subarray(0, this.opts.maxLineBytes);
        cut = true;
      }
    }
    this.emit(bytes, 0, bytes.length, next, cut, out);
  }

  private emit(buf: Buffer, start: number, end: number, next: number, cut: boolean, out: Line[]): void {
    const offset = this.start;
    this.start = next;
    if (this.afterFlush) {
      this.afterFlush = false;
      // The rest of a line already flushed was only its terminator: nothing new to report.
      if (end === start && !cut) return;
    }
    if (cut) this.cutLines++;
    out.push(new Line(offset, next, buf, start, end, cut));
  }
}
