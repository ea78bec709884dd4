/**
 * Multiline grouping for the `file` source: joins consecutive lines into one event (a Java stack
 * trace, a Python traceback). Pure: lines in, events out, time passed in.
 *
 * Rule, for each line while an event is open:
 * - a line matching `start` opens a new event;
 * - else, when `continuation` is set, the line extends the open event iff it matches
 *   (`negate`: iff it does not); otherwise it opens a new event;
 * - else (only `start` set) it extends the open event.
 * An event closes at `maxLines` lines or `maxBytes` bytes (counted as overflow), when the next
 * event starts, or `timeoutMs` after its last line arrived (`flush`), so the last event of a
 * quiet file is never held until the next line.
 *
 * Or, with `join` (presets `cri` and `docker`), the pieces of one line that a container runtime
 * split (it writes at most 16 KiB per record) are joined again: a piece marked partial opens or
 * extends an event, the next piece of the same stream (stdout or stderr) extends it, and the
 * event closes at once with the piece that ends the line. A whole line is never held. A piece of
 * the other stream, or a line that is not in the runtime's format, closes the open event
 * unjoined: pieces are only ever joined in file order, so offsets stay in order. The collector's
 * `cri` and `docker` parse presets read the joined event as one line.
 */

export interface MultilineRule {
  readonly start: RegExp | undefined;
  readonly continuation: RegExp | undefined;
  readonly negate: boolean;
  readonly maxLines: number;
  readonly maxBytes: number;
  readonly timeoutMs: number;
  readonly join?: JoinFormat | undefined;
}

/** Container runtimes' log formats whose split lines are joined. */
export type JoinFormat = 'cri' | 'docker';

/** A line or a grouped event: text, and the file range [offset, next) it came from. */
export interface Piece {
  text: string;
  offset: number;
  next: number;
  /** Encoded size in bytes (for batch limits), without terminators. */
  bytes: number;
}

export type MultilinePreset = 'java' | 'python' | 'go' | JoinFormat;

/**
 * Presets. Java: indented `at`/`...` frames, `Caused by:`, `Suppressed:` and the exception
 * header line that follows the log line. Python: the traceback header, indented frames and code,
 * the chained-exception banners with their blank lines, and the final `SomethingError: ...` line.
 * Go: what follows a `panic:` or `fatal error:` line (or net/http's `http: panic serving`): the
 * `[signal ...]` line, blank lines, `goroutine N [state]:` headers, function lines (`pkg.F(...)`,
 * `pkg.(*T).M(...)`: no space before the first parenthesis, a closing one at the end), their
 * indented file:line lines, `created by ...` and `...additional frames elided...`.
 */
export const MULTILINE_PRESETS: Readonly<Record<Exclude<MultilinePreset, JoinFormat>, { start?: string; continuation: string }>> = {
  java: {
    continuation:
      '^(?:\\s+at\\s|\\s+\\.\\.\\.\\s*\\d*|\\s*Caused by:|\\s*Suppressed:|[\\w$.]+(?:Exception|Error|Throwable)(?::.*)?$|\\s+)',
  },
  python: {
    continuation:
      '^(?:Traceback \\(most recent call last\\):|\\s+\\S|\\s*$|During handling of the above exception|The above exception was the direct cause|[A-Za-z_][\\w.]*(?:Error|Exception|Warning|Exit|Interrupt|Iteration)\\b)',
  },
  // The function line's `[^\s(]+` cannot take a parenthesis, so the match is linear in the line.
  go: {
    continuation: '^(?:\\s|$|goroutine \\d+ |\\[signal |created by |\\.\\.\\.additional frames elided\\.\\.\\.$|[^\\s(]+\\(.*\\)$)',
  },
};

interface Open {
  texts: string[];
  offset: number;
  next: number;
  bytes: number;
  lastAt: number;
  /** With `join`: the stream whose line the event holds pieces of. */
  stream: string;
}

export class Multiline {
  private open: Open | undefined;
  /** Events closed because they reached maxLines or maxBytes. */
  overflows = 0;

  constructor(private readonly rule: MultilineRule) {}

  /**
   * Takes the next line of the file; closed events are appended to `out`. `raw`: the line's bytes,
   * when the caller has them (with `join` they are read instead of encoding the text again).
   */
  push(line: Piece, now: number, out: Piece[], raw?: Buffer): void {
    if (this.rule.join !== undefined) {
      const bytes = raw ?? Buffer.from(line.text);
      this.pushPiece(line, this.piece(bytes, 0, bytes.length), now, out);
      return;
    }
    const o = this.open;
    if (o !== undefined && this.extends(line.text)) {
      if (this.fits(o, line)) {
        append(o, line, now);
        return;
      }
      this.overflows++;
    }
    if (o !== undefined) out.push(close(o));
    this.open = { texts: [line.text], offset: line.offset, next: line.next, bytes: line.bytes, lastAt: now, stream: '' };
  }

  /**
   * With `join`: true when the line in buf[start, end) would go on as it is (no line is open and
   * this is not the first piece of one), so the caller can pass its bytes on without the string
   * `push` takes. Whole lines, nearly all of a container's, never become strings here.
   */
  passes(buf: Buffer, start: number, end: number): boolean {
    return this.rule.join !== undefined && this.open === undefined && this.piece(buf, start, end)?.partial !== true;
  }

  private piece(buf: Buffer, start: number, end: number): RuntimePiece | undefined {
    return this.rule.join === 'cri' ? criPiece(buf, start, end) : dockerPiece(buf, start, end);
  }

  /** `join`: a container runtime's piece of a line, or a line not in its format (`p` undefined). */
  private pushPiece(line: Piece, p: RuntimePiece | undefined, now: number, out: Piece[]): void {
    const o = this.open;
    if (o !== undefined) {
      if (p !== undefined && p.stream === o.stream) {
        if (this.fits(o, line)) {
          append(o, line, now);
          if (!p.partial) {
            out.push(close(o));
            this.open = undefined;
          }
          return;
        }
        this.overflows++;
      }
      out.push(close(o));
      this.open = undefined;
    }
    if (p?.partial === true) this.open = { texts: [line.text], offset: line.offset, next: line.next, bytes: line.bytes, lastAt: now, stream: p.stream };
    else out.push(line);
  }

  private fits(o: Open, line: Piece): boolean {
    return o.texts.length < this.rule.maxLines && o.bytes + 1 + line.bytes <= this.rule.maxBytes;
  }

  /** Closes the open event when its timeout passed, or always when `force`. */
  flush(now: number, force: boolean, out: Piece[]): void {
    const o = this.open;
    if (o === undefined) return;
    if (force || now >= o.lastAt + this.rule.timeoutMs) {
      out.push(close(o));
      this.open = undefined;
    }
  }

  /** When the open event times out (epoch ms), or undefined when none is open. */
  deadline(): number | undefined {
    return this.open === undefined ? undefined : this.open.lastAt + this.rule.timeoutMs;
  }

  /** Bytes of the file held in the open event. */
  get heldFrom(): number | undefined {
    return this.open?.offset;
  }

  /** Drops the open event (the caller rewinds the file to before it). */
  reset(): void {
    this.open = undefined;
  }

  private extends(text: string): boolean {
    const { start, continuation, negate } = this.rule;
    if (start !== undefined && start.test(text)) return false;
    if (continuation !== undefined) return continuation.test(text) !== negate;
    return true;
  }
}

function append(o: Open, line: Piece, now: number): void {
  o.texts.push(line.text);
  o.next = line.next;
  o.bytes += 1 + line.bytes;
  o.lastAt = now;
}

export interface RuntimePiece {
  readonly stream: 'stdout' | 'stderr';
  /** The runtime cut the line here: more of it follows. */
  readonly partial: boolean;
}

const DOCKER_HEAD = Buffer.from('{"log":"');
const DOCKER_STREAM = Buffer.from('","stream":"');

/** The four answers, shared: a line's classification allocates nothing. */
const PIECES = {
  stdout: [{ stream: 'stdout', partial: false }, { stream: 'stdout', partial: true }],
  stderr: [{ stream: 'stderr', partial: false }, { stream: 'stderr', partial: true }],
} as const satisfies Record<RuntimePiece['stream'], readonly [RuntimePiece, RuntimePiece]>;

/** `stdout` or `stderr` at buf[at, at + 6), else undefined (byte by byte: a native compare per line costs more). */
function streamAt(buf: Buffer, at: number, end: number): RuntimePiece['stream'] | undefined {
  if (at + 6 > end || buf[at] !== 115 /* s */ || buf[at + 1] !== 116 /* t */ || buf[at + 2] !== 100 /* d */) return undefined;
  const a = buf[at + 3];
  const b = buf[at + 4];
  const c = buf[at + 5];
  if (a === 111 /* o */ && b === 117 /* u */ && c === 116 /* t */) return 'stdout';
  if (a === 101 /* e */ && b === 114 /* r */ && c === 114 /* r */) return 'stderr';
  return undefined;
}

/**
 * CRI: `<time> <stdout|stderr> <P|F>[:tags] <message>` in buf[start, end); undefined when the line
 * is not in that form. Read from the bytes, so a whole line needs no string to be passed on.
 */
export function criPiece(buf: Buffer, start: number, end: number): RuntimePiece | undefined {
  let sp1 = start;
  const limit = Math.min(end, start + 64); // an RFC 3339 time is at most 35 characters
  while (sp1 < limit && buf[sp1] !== 32) sp1++;
  if (sp1 === start || sp1 >= limit) return undefined;
  const stream = streamAt(buf, sp1 + 1, end);
  const sp2 = sp1 + 7;
  if (stream === undefined || sp2 >= end || buf[sp2] !== 32) return undefined;
  const tag = buf[sp2 + 1];
  if (tag !== 80 /* P */ && tag !== 70 /* F */) return undefined;
  // Then a space, the runtime's own `:`-tags, or the end (an empty message may come without its space).
  if (sp2 + 2 < end && buf[sp2 + 2] !== 32 && buf[sp2 + 2] !== 58) return undefined;
  return PIECES[stream][tag === 80 ? 1 : 0];
}

/**
 * Docker's json-file driver: `{"log":"<message, \n-terminated when whole>","stream":"stdout",...}`,
 * fields in that order. An unescaped `","stream":"` cannot occur inside the log string, so its first
 * occurrence ends the message.
 */
export function dockerPiece(buf: Buffer, start: number, end: number): RuntimePiece | undefined {
  if (end - start < DOCKER_HEAD.length) return undefined;
  for (let i = 0; i < DOCKER_HEAD.length; i++) if (buf[start + i] !== DOCKER_HEAD[i]) return undefined;
  // From the message's first byte: an empty message's closing quote starts the match.
  const rel = buf.subarray(start, end).indexOf(DOCKER_STREAM, DOCKER_HEAD.length);
  if (rel < 0) return undefined;
  const at = start + rel;
  const stream = streamAt(buf, at + DOCKER_STREAM.length, end);
  if (stream === undefined || buf[at + DOCKER_STREAM.length + 6] !== 34 /* " */) return undefined;
  // Whole when the message ends with the escape \n, its backslash not itself escaped.
  let slashes = 0;
  if (buf[at - 1] === 110 /* n */) while (buf[at - 2 - slashes] === 92 /* \ */) slashes++;
  return PIECES[stream][slashes % 2 === 0 ? 1 : 0];
}

function close(o: Open): Piece {
  return { text: o.texts.join('\n'), offset: o.offset, next: o.next, bytes: o.bytes };
}

/** Builds a rule from config; throws SyntaxError on a bad pattern (config validation reports it). */
export function compileMultiline(cfg: {
  preset?: MultilinePreset | undefined;
  start_pattern?: string | undefined;
  continuation_pattern?: string | undefined;
  negate: boolean;
  max_lines: number;
  max_bytes: number;
  timeout_ms: number;
}): MultilineRule {
  if (cfg.preset === 'cri' || cfg.preset === 'docker') {
    if (cfg.start_pattern !== undefined || cfg.continuation_pattern !== undefined || cfg.negate) {
      throw new SyntaxError(`preset ${cfg.preset} joins a container runtime's split lines and takes no start_pattern, continuation_pattern or negate`);
    }
    return { start: undefined, continuation: undefined, negate: false, maxLines: cfg.max_lines, maxBytes: cfg.max_bytes, timeoutMs: cfg.timeout_ms, join: cfg.preset };
  }
  const preset = cfg.preset === undefined ? undefined : MULTILINE_PRESETS[cfg.preset];
  const start = cfg.start_pattern ?? preset?.start;
  const cont = cfg.continuation_pattern ?? preset?.continuation;
  return {
    start: start === undefined ? undefined : new RegExp(start),
    continuation: cont === undefined ? undefined : new RegExp(cont),
    negate: cfg.negate,
    maxLines: cfg.max_lines,
    maxBytes: cfg.max_bytes,
    timeoutMs: cfg.timeout_ms,
  };
}
