/**
 * A SourceContext for testing sources without the runner: collects what was emitted, and acks
 * each batch at once, after a delay, never (held until released) or with a rejection, as the
 * test decides. A fake of our own contract only; files, clocks and processes stay real.
 *
 * Lines a source hands over as a LineBlock (emitLines) are turned into records only when the
 * batch is acknowledged or inspected, as late as a real sink may encode them: a source that
 * reused a buffer the block still holds shows up as wrong lines.
 */
import type { SourceContext } from '../../core/component.js';
import type { Event, LogRecord } from '../../core/model.js';
import { LineBlock } from '../../core/line-block.js';
import { MemoryTelemetry } from '../../core/telemetry.js';
import { createLogger } from '../../core/log.js';

/** `batch()` gives the batch's events (decoding a LineBlock then and there). */
export type AckPolicy = (batch: () => Event[], index: number) => 'ok' | 'reject' | 'hold' | number;

export interface Delivered {
  body: string;
  path: string;
  sid: string;
  gen: number;
  offset: number;
}

export class FakeSourceContext implements SourceContext {
  readonly name: string;
  readonly dataDir: string;
  readonly telemetry = new MemoryTelemetry();
  /** What the component logged (JSON lines, debug and up). */
  readonly logged: string[] = [];
  readonly log = createLogger({ level: 'debug', write: (line) => void this.logged.push(line) });
  readonly agentId = 'agent-test';
  readonly hostName = 'host-test';
  readonly bus = undefined;
  /** Every batch handed to emit or emitLines, in call order, whatever its fate. */
  private readonly entries: (Event[] | LineBlock)[] = [];
  /** Records of batches that were acknowledged, in ack order. */
  readonly confirmed: LogRecord[] = [];
  policy: AckPolicy = () => 'ok';
  private readonly held: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private nowFn: () => number = Date.now;

  constructor(opts: { name?: string; dataDir: string }) {
    this.name = opts.name ?? 'app';
    this.dataDir = opts.dataDir;
  }

  now(): number {
    return this.nowFn();
  }

  setNow(fn: () => number): void {
    this.nowFn = fn;
  }

  /** The LineBlocks handed to emitLines, in call order (what the Kafka and bus sinks encode). */
  get lineBlocks(): LineBlock[] {
    return this.entries.filter((e): e is LineBlock => !Array.isArray(e));
  }

  /** Every batch handed to emit or emitLines, in call order, whatever its fate. */
  get batches(): Event[][] {
    return this.entries.map(recordsOf);
  }

  emit(events: Event[]): Promise<void> {
    return this.take(events);
  }

  emitLines(block: LineBlock): Promise<void> {
    return this.take(block);
  }

  private take(entry: Event[] | LineBlock): Promise<void> {
    const index = this.entries.length;
    this.entries.push(entry);
    const p = this.policy(() => recordsOf(entry), index);
    const done = (): void => {
      this.confirmed.push(...(recordsOf(entry) as LogRecord[]));
    };
    if (p === 'ok') {
      done();
      return Promise.resolve();
    }
    if (p === 'reject') return Promise.reject(new Error('sink down'));
    return new Promise<void>((resolve, reject) => {
      const ack = (): void => {
        done();
        resolve();
      };
      if (p === 'hold') this.held.push({ resolve: ack, reject });
      else setTimeout(ack, p);
    });
  }

  /** Acks (or rejects) every held batch, oldest first. */
  release(ok = true): number {
    const n = this.held.length;
    for (const h of this.held.splice(0)) {
      if (ok) h.resolve();
      else h.reject(new Error('sink down'));
    }
    return n;
  }

  get heldCount(): number {
    return this.held.length;
  }

  /** All records ever emitted (acked or not), flattened. */
  emitted(): Delivered[] {
    return this.batches.flat().map(toDelivered);
  }

  confirmedLines(): Delivered[] {
    return this.confirmed.map(toDelivered);
  }
}

function recordsOf(entry: Event[] | LineBlock): Event[] {
  return entry instanceof LineBlock ? entry.records() : entry;
}

export function toDelivered(e: Event): Delivered {
  const r = e as LogRecord;
  return {
    body: String(r.body),
    path: String(r.attributes['log.file.path']),
    sid: String(r.attributes['tidewatch.stream_id']),
    gen: Number(r.attributes['tidewatch.generation']),
    offset: Number(r.attributes['tidewatch.offset']),
  };
}

/** Polls `cond` every 10 ms until it holds or `ms` passes (then throws with `what`). */
export async function until(cond: () => boolean | Promise<boolean>, ms = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
