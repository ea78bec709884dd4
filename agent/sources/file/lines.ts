/**
 * Line framing for the `file` source: finds line boundaries in a byte stream and reports each
 * line as a byte range of the file. Pure: no I/O, no clock; the tailer feeds it chunks in file
 * order and decides when a partial last line has waited long enough (`flushPartial`).
 *
 * Boundaries: `\n` ends a line; a `\r` right before it is not part of the line (`\r\n`). A lone
 * `\r` is content. Lines longer than `maxLineBytes` are truncated (the rest up to the newline is
 * skipped) or split into pieces of `maxLineBytes`, and counted either way; memory held for one
 * line is bounded by `maxLineBytes + 3` whatever the input.
 *
 * NUL bytes where a line starts are skipped, and counted: they are the hole a copytruncate leaves
 * when the writer does not append (it writes on at its old offset, and the bytes before read as
 * zeros). Taken as content, the hole and the first line after it would make one line far over
 * `maxLineBytes`, and truncating it would drop that real line (Fluent Bit skips them as well). A
 * NUL inside a line is content.
 *
 * UTF-16 files are framed on 2-byte code units that start at even file offsets: `\n` is the unit
 * 0x000A there, never a 0x0A byte inside another character (U+0A0D is 0D 0A in UTF-16LE). Lines
 * then start and end on unit boundaries and `maxLineBytes` counts whole units. A unit can cross
 * two chunks; its first byte is remembered. The one byte in no line: the second half of a unit
 * cut by a partial-line flush, or of one framing started in the middle of (a restart at the odd
 * offset such a flush left).
 */

export type LongLines = 'truncate' | 'split';

/** How the file's text is framed: in bytes (UTF-8 and the 8-bit sets) or in UTF-16 code units. */
export type Framing = 'bytes' | 'utf-16le' | 'utf-16be';

export interface FramerOptions {
  readonly maxLineBytes: number;
  readonly longLines: LongLines;
  /** bytes unless given. */
  readonly framing?: Framing | undefined;
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

/** Finds newlines and carriage returns in one framing. */
interface Terminator {
  /** Bytes per code unit. */
  readonly width: 1 | 2;
  /**
   * Index of the first byte of the first newline in `chunk` at or after `from` that lies wholly
   * inside it on a unit boundary; `base` is the file offset of chunk[0], and `from` is on a unit
   * boundary. -1 when there is none.
   */
  find(chunk: Buffer, from: number, base: number): number;
  /** true when the unit just before buf[at] is a carriage return (the caller checks it exists). */
  crBefore(buf: Buffer, at: number): boolean;
  /** true when bytes a, b (one unit) are a newline. */
  isNewline(a: number, b: number): boolean;
}

const BYTES: Terminator = {
  width: 1,
  find: (chunk, from) => chunk.indexOf(NL, from),
  crBefore: (buf, at) => buf[at - 1] === CR,
  isNewline: () => false,
};

/** UTF-16: `lo` is the index within a unit of the byte 0x0A of a newline (0 little-endian, 1 big). */
function utf16(lo: 0 | 1): Terminator {
  const hi = 1 - lo;
  return {
    width: 2,
    find(chunk, from, base) {
      let j = from + lo;
      for (;;) {
        const k = chunk.indexOf(NL, j);
        if (k === -1) return -1;
        const unit = k - lo;
        // Not on a boundary: the 0x0A is half of some other character.
        if (((base + unit) & 1) !== 0) {
          j = k + 1;
          continue;
        }
        if (unit + 1 >= chunk.length) return -1; // its other half is in the next chunk
        if (chunk[unit + hi] === 0) return unit;
        j = k + 2;
      }
    },
    crBefore: (buf, at) => buf[at - 2 + lo] === CR && buf[at - 2 + hi] === 0,
    isNewline: (a, b) => (lo === 0 ? a === NL && b === 0 : a === 0 && b === NL),
  };
}

function terminator(framing: Framing | undefined): Terminator {
  if (framing === 'utf-16le') return utf16(0);
  if (framing === 'utf-16be') return utf16(1);
  return BYTES;
}

/**
 * Where `start_at: end` begins in `tail`, the file's last bytes from offset `base`: just after
 * its last complete line, or -1 when it holds no newline.
 */
export function lastLineEnd(tail: Buffer, base: number, framing: Framing | undefined): number {
  const t = terminator(framing);
  let end = -1;
  for (let i = (base & 1) === 0 || t.width === 1 ? 0 : 1; ; ) {
    const nl = t.find(tail, i, base);
    if (nl === -1) return end;
    end = nl + t.width;
    i = end;
  }
}

export class LineFramer {
  /** Bytes of the current unfinished line (never more than maxLineBytes + a unit, and half a unit in UTF-16): a prefix of `store`. */
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
  /** NUL bytes skipped where lines start, since construction. */
  nulBytes = 0;
  private readonly nl: Terminator;
  /** maxLineBytes, in whole units. */
  private readonly max: number;
  private readonly longLines: LongLines;
  /** UTF-16: the byte before `pos` when `pos` is odd (the first half of a unit), else -1. */
  private half = -1;

  constructor(opts: FramerOptions, startOffset: number) {
    this.nl = terminator(opts.framing);
    this.max = this.nl.width === 2 ? Math.max(2, opts.maxLineBytes - (opts.maxLineBytes & 1)) : opts.maxLineBytes;
    this.longLines = opts.longLines;
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
    if (chunk.length === 0) return;
    const base = this.pos;
    const w = this.nl.width;
    let i = 0;
    if (w === 2 && (base & 1) === 1) {
      this.unitAcross(chunk, base, out);
      i = 1;
    }
    while (i < chunk.length) {
      if (chunk[i] === 0 && this.carry === undefined && !this.skipping && this.start === base + i) {
        const j = this.pastNul(chunk, i);
        if (j > i) {
          this.nulBytes += j - i;
          this.start = base + j;
          i = j;
          continue;
        }
      }
      const nl = this.nl.find(chunk, i, base);
      if (nl === -1) {
        this.append(chunk, i, chunk.length, out);
        break;
      }
      const end = nl - i >= w && this.nl.crBefore(chunk, nl) ? nl - w : nl;
      if (this.carry === undefined && !this.skipping && end - i <= this.max) {
        // Fast path: the whole line is inside this chunk; hand out its range, no copy.
        this.emit(chunk, i, end, base + nl + w, false, out);
      } else {
        this.append(chunk, i, nl, out);
        this.finish(base + nl + w, out);
      }
      i = nl + w;
    }
    this.pos = base + chunk.length;
    this.half = w === 2 && (this.pos & 1) === 1 ? chunk[chunk.length - 1]! : -1;
  }

  /** UTF-16: chunk[0] is the second half of a unit that began before this chunk (at `base` - 1). */
  private unitAcross(chunk: Buffer, base: number, out: Line[]): void {
    if (this.half !== -1 && this.nl.isNewline(this.half, chunk[0]!)) {
      // The newline's first half is the last byte of the line so far, not content.
      if (this.carry !== undefined && !this.skipping) this.carry = this.carry.subarray(0, this.carry.length - 1);
      this.finish(base + 1, out);
    } else if (this.carry === undefined && !this.skipping && this.start === base) {
      // The unit's first half went out with a flushed line (which reads it as U+FFFD), or lies
      // before the offset framing started at. Its second half is no text of its own: skipped,
      // so that every line starts on a unit boundary; a newline right after it ended that line.
      this.start = base + 1;
      this.afterFlush = true;
    } else if (this.half === 0 && chunk[0] === 0 && this.carry?.length === 1 && !this.skipping && this.start === base - 1) {
      // A NUL unit where a line starts, across two chunks.
      this.carry = undefined;
      this.store = undefined;
      this.start = base + 1;
      this.nulBytes += 2;
    } else {
      this.append(chunk, 0, 1, out);
    }
  }

  /** Index just past the NUL units at chunk[i] (whole units inside the chunk). */
  private pastNul(chunk: Buffer, i: number): number {
    let j = i;
    if (this.nl.width === 1) while (j < chunk.length && chunk[j] === 0) j++;
    else while (j + 1 < chunk.length && chunk[j] === 0 && chunk[j + 1] === 0) j += 2;
    return j;
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
    // The carry keeps a unit of room for a `\r` before the newline; a line that ends here has
    // none, so that unit is content past the limit (found by test/fuzz/lines.test.ts).
    this.emitLimited(bytes, this.pos, cut, out);
    this.afterFlush = true;
    return true;
  }

  private append(chunk: Buffer, from: number, to: number, out: Line[]): void {
    if (from === to || this.skipping) return;
    // Room for a `\r` unit that may precede the newline, and for the newline unit but its last
    // byte: in UTF-16, a read ending at an odd offset may hold the newline's first half (found by
    // the UTF-16 property test: a line of exactly max_line_bytes whose `\r\n` a read cut in the
    // newline was cut).
    const limit = this.max + 2 * this.nl.width - 1;
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
    if (this.longLines === 'truncate') {
      this.carry = Buffer.from(all.subarray(0, this.max));
      this.store = this.carry;
      this.skipping = true;
      return;
    }
    // split: hand out full pieces while more than `limit` bytes remain, so the last piece is never
    // empty even after its `\r` is dropped.
    let o = 0;
    while (all.length - o > limit) {
      const piece = Buffer.from(all.subarray(o, o + this.max));
      this.emit(piece, 0, piece.length, this.start + piece.length, true, out);
      o += this.max;
    }
    this.carry = Buffer.from(all.subarray(o));
    this.store = this.carry;
  }

  private finish(next: number, out: Line[]): void {
    let bytes = this.carry ?? Buffer.alloc(0);
    const cut = this.skipping;
    const w = this.nl.width;
    if (!cut && bytes.length >= w && this.nl.crBefore(bytes, bytes.length)) bytes = bytes.subarray(0, bytes.length - w);
    this.carry = undefined;
    this.store = undefined;
    this.skipping = false;
    this.emitLimited(bytes, next, cut, out);
  }

  /** Emits a finished line, held to max_line_bytes: split into pieces or cut, as long_lines says. */
  private emitLimited(bytes: Buffer, next: number, cut: boolean, out: Line[]): void {
    // The carry may hold up to a unit and a half (UTF-16) beyond the limit.
    while (bytes.length > this.max) {
      if (this.longLines === 'split') {
        this.emit(bytes, 0, this.max, this.start + this.max, true, out);
        bytes = bytes.subarray(this.max);
      } else {
        bytes = bytes.subarray(0, this.max);
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
