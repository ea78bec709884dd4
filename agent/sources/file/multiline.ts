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
 */

export interface MultilineRule {
  readonly start: RegExp | undefined;
  readonly continuation: RegExp | undefined;
  readonly negate: boolean;
  readonly maxLines: number;
  readonly maxBytes: number;
  readonly timeoutMs: number;
}

/** A line or a grouped event: text, and the file range [offset, next) it came from. */
export interface Piece {
  text: string;
  offset: number;
  next: number;
  /** Encoded size in bytes (for batch limits), without terminators. */
  bytes: number;
}

export type MultilinePreset = 'java' | 'python';

/**
 * Presets. Java: indented `at`/`...` frames, `Caused by:`, `Suppressed:` and the exception
 * header line that follows the log line. Python: the traceback header, indented frames and code,
 * the chained-exception banners with their blank lines, and the final `SomethingError: ...` line.
 */
export const MULTILINE_PRESETS: Readonly<Record<MultilinePreset, { start?: string; continuation: string }>> = {
  java: {
    continuation:
      '^(?:\\s+at\\s|\\s+\\.\\.\\.\\s*\\d*|\\s*Caused by:|\\s*Suppressed:|[\\w$.]+(?:Exception|Error|Throwable)(?::.*)?$|\\s+)',
  },
  python: {
    continuation:
      '^(?:Traceback \\(most recent call last\\):|\\s+\\S|\\s*$|During handling of the above exception|The above exception was the direct cause|[A-Za-z_][\\w.]*(?:Error|Exception|Warning|Exit|Interrupt|Iteration)\\b)',
  },
};

interface Open {
  texts: string[];
  offset: number;
  next: number;
  bytes: number;
  lastAt: number;
}

export class Multiline {
  private open: Open | undefined;
  /** Events closed because they reached maxLines or maxBytes. */
  overflows = 0;

  constructor(private readonly rule: MultilineRule) {}

  /** Takes the next line of the file; closed events are appended to `out`. */
  push(line: Piece, now: number, out: Piece[]): void {
    const o = this.open;
    if (o !== undefined && this.extends(line.text)) {
      if (o.texts.length < this.rule.maxLines && o.bytes + 1 + line.bytes <= this.rule.maxBytes) {
        o.texts.push(line.text);
        o.next = line.next;
        o.bytes += 1 + line.bytes;
        o.lastAt = now;
        return;
      }
      this.overflows++;
    }
    if (o !== undefined) out.push(close(o));
    this.open = { texts: [line.text], offset: line.offset, next: line.next, bytes: line.bytes, lastAt: now };
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
