/**
 * Whole lines of one file as its source framed them: byte ranges of the buffers the lines were
 * read into, their offsets, and the file's identity once. No string and no LogRecord per line:
 * a sink that ships lines as they are (the Kafka and bus sinks, wire format v1) writes each
 * line's bytes straight from the read buffer into its batch (core/wire.ts encodeLineBlock), and
 * everything else gets the very LogRecords the source would have made (`records()`).
 *
 * Why: per line, a string decoded from the file, a record and its attribute object, then the
 * string encoded again, cost the agent more CPU than everything else on its way to Kafka
 * (bench/kafka-e2e.mjs --agent-prof; bench/RESULTS.md, issue 5).
 *
 * A block references the buffers it was given: the source must not reuse a buffer while a
 * block that holds lines of it is alive.
 */
import type { Attributes, LogRecord } from './model.js';
import { AttrKeys } from './model.js';

export class LineBlock {
  /** Per line: the buffer holding its bytes, or its text (a multiline event, a joined piece). */
  private readonly parts: (Buffer | string)[] = [];
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  private readonly offsets: number[] = [];
  /** Per line observed times, only once a line's time differs from the first line's. */
  private times: number[] | undefined;
  /** Longest line's content, in bytes (a string's UTF-8 length bound: 3 bytes per UTF-16 unit). */
  private longest = 0;
  private memo: LogRecord[] | undefined;

  constructor(
    /** The resource every line carries (host.name, tidewatch.agent.id). */
    readonly resource: Attributes,
    readonly path: string,
    readonly streamId: string,
    readonly generation: number,
    /** When the first line was seen, epoch ms. */
    readonly observedTime: number,
  ) {}

  get length(): number {
    return this.parts.length;
  }

  /** Bytes of the longest line (for a string line, an upper bound). */
  get longestLine(): number {
    return this.longest;
  }

  /** Adds the line `buf[start, end)` at file `offset`, seen at `now`. The block keeps `buf`. */
  addBytes(buf: Buffer, start: number, end: number, offset: number, now: number): void {
    this.add(buf, start, end, offset, now);
    if (end - start > this.longest) this.longest = end - start;
  }

  /** Adds a line given as text at file `offset`, seen at `now`. */
  addText(text: string, offset: number, now: number): void {
    this.add(text, 0, 0, offset, now);
    if (text.length * 3 > this.longest) this.longest = text.length * 3;
  }

  /** Line `i`: its buffer and byte range, or its text. */
  part(i: number): Buffer | string {
    return this.parts[i]!;
  }

  start(i: number): number {
    return this.starts[i]!;
  }

  end(i: number): number {
    return this.ends[i]!;
  }

  offset(i: number): number {
    return this.offsets[i]!;
  }

  observed(i: number): number {
    return this.times === undefined ? this.observedTime : this.times[i]!;
  }

  /**
   * The lines as LogRecords, as the file source has always emitted them (body: the line's text,
   * invalid UTF-8 as U+FFFD; attributes: the line identity and path). Made once, then shared:
   * like any emitted events, stages that change a record copy it first.
   */
  records(): LogRecord[] {
    if (this.memo !== undefined) return this.memo;
    const out: LogRecord[] = new Array<LogRecord>(this.parts.length);
    for (let i = 0; i < this.parts.length; i++) {
      const p = this.parts[i]!;
      const body = typeof p === 'string' ? p : p.toString('utf8', this.starts[i], this.ends[i]);
      // The text now stands for the line: the read buffer need not stay alive for it.
      this.parts[i] = body;
      out[i] = {
        kind: 'log',
        observed_time: this.observed(i),
        severity_number: 0,
        severity_text: '',
        body,
        attributes: {
          [AttrKeys.filePath]: this.path,
          [AttrKeys.streamId]: this.streamId,
          [AttrKeys.generation]: this.generation,
          [AttrKeys.offset]: this.offsets[i]!,
        },
        resource: this.resource,
      };
    }
    this.memo = out;
    return out;
  }

  private add(part: Buffer | string, start: number, end: number, offset: number, now: number): void {
    const i = this.parts.length;
    if (this.times !== undefined) this.times.push(now);
    else if (now !== this.observedTime) {
      this.times = new Array<number>(i).fill(this.observedTime);
      this.times.push(now);
    }
    this.parts.push(part);
    this.starts.push(start);
    this.ends.push(end);
    this.offsets.push(offset);
  }
}
