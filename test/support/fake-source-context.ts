/**
 * A SourceContext for testing sources without the runner: collects what was emitted, and acks
 * each batch at once, after a delay, never (held until released) or with a rejection, as the
 * test decides. A fake of our own contract only; files, clocks and processes stay real.
 */
import type { SourceContext } from '../../core/component.js';
import type { Event, LogRecord } from '../../core/model.js';
import { MemoryTelemetry } from '../../core/telemetry.js';
import { silentLogger } from '../../core/log.js';

export type AckPolicy = (batch: Event[], index: number) => 'ok' | 'reject' | 'hold' | number;

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
  readonly log = silentLogger;
  readonly agentId = 'agent-test';
  readonly hostName = 'host-test';
  readonly bus = undefined;
  /** Every batch handed to emit, in call order, whatever its fate. */
  readonly batches: Event[][] = [];
  /** Records of batches that were acknowledged, in ack order. */
  readonly confirmed: LogRecord[] = [];
  policy: AckPolicy = () => 'ok';
  private readonly held: { resolve: () => void; reject: (e: Error) => void; batch: Event[] }[] = [];
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

  emit(events: Event[]): Promise<void> {
    const index = this.batches.length;
    this.batches.push(events);
    const p = this.policy(events, index);
    if (p === 'ok') {
      this.confirmed.push(...(events as LogRecord[]));
      return Promise.resolve();
    }
    if (p === 'reject') return Promise.reject(new Error('sink down'));
    return new Promise<void>((resolve, reject) => {
      const done = (): void => {
        this.confirmed.push(...(events as LogRecord[]));
        resolve();
      };
      if (p === 'hold') this.held.push({ resolve: done, reject, batch: events });
      else setTimeout(done, p);
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
export async function until(cond: () => boolean, ms = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
