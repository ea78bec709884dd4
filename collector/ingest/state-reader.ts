/**
 * Reads the ingest stage's compacted state topic (StreamState records: the highest counted
 * offset per stream generation) with read_committed, and keeps the latest record per key, per
 * state partition. A partition worker that takes over input partition p asks for state
 * partition p with restore(p): it resolves once this reader has read that partition up to the
 * end offset it had when asked (after the worker's transactional producer fenced the previous
 * owner, so the previous owner's last transaction is committed or aborted by then).
 *
 * One reader per ingest stage process, in a consumer group of its own (nothing is committed:
 * it reads the whole compacted topic at every start, which compaction keeps small).
 */
import { randomUUID } from 'node:crypto';
import type { Consumer, Kafka } from 'kafkajs';
import { TidewatchError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { decodeStreamState } from '../../core/wire.js';
import type { StreamState } from '../../core/wire.js';
import { streamKey } from './core.js';

export interface StateReaderOptions {
  kafka: Kafka;
  topic: string;
  groupPrefix: string;
  maxStreams: number;
  log: Logger;
}

export class StateReader {
  private consumer: Consumer | undefined;
  private readonly states = new Map<number, Map<string, StreamState>>();
  private readonly position = new Map<number, bigint>();
  private size = 0;
  overflow = 0;
  invalid = 0;

  constructor(private readonly opts: StateReaderOptions) {}

  async start(): Promise<void> {
    const c = this.opts.kafka.consumer({
      groupId: `${this.opts.groupPrefix}.state-${randomUUID()}`,
      readUncommitted: false,
      allowAutoTopicCreation: false,
      sessionTimeout: 10_000,
      heartbeatInterval: 1000,
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 300, maxRetryTime: 5000 },
    });
    this.consumer = c;
    // Batches of only aborted records or transaction markers reach no handler; the event still
    // tells how far the partition was read.
    c.on(c.events.END_BATCH_PROCESS, (e) => {
      const p = e.payload as { topic: string; partition: number; lastOffset: string };
      if (p.topic === this.opts.topic) this.advance(p.partition, BigInt(p.lastOffset) + 1n);
    });
    await c.connect();
    await c.subscribe({ topics: [this.opts.topic], fromBeginning: true });
    await c.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        let m = this.states.get(batch.partition);
        if (m === undefined) {
          m = new Map();
          this.states.set(batch.partition, m);
        }
        for (const msg of batch.messages) {
          if (msg.value === null || msg.value.length === 0) {
            // A tombstone: the key's generation is finished.
            const key = msg.key?.toString('utf8');
            if (key !== undefined && m.delete(key)) this.size--;
            continue;
          }
          let s: StreamState;
          try {
            s = decodeStreamState(msg.value);
          } catch {
            this.invalid++;
            continue;
          }
          const key = streamKey(s.agent_id, s.stream_id, s.generation);
          const prev = m.get(key);
          if (prev === undefined) {
            if (this.size >= this.opts.maxStreams) {
              this.overflow++;
              continue;
            }
            this.size++;
          }
          if (prev === undefined || s.offset > prev.offset) m.set(key, s);
        }
        const last = batch.messages[batch.messages.length - 1];
        if (last !== undefined) this.advance(batch.partition, BigInt(last.offset) + 1n);
      },
    });
  }

  private advance(partition: number, next: bigint): void {
    if (next > (this.position.get(partition) ?? 0n)) this.position.set(partition, next);
  }

  /**
   * The dedup state of state partition `partition`, once read up to its current end. `beat` is
   * called while waiting (the caller's group membership). Rejects after `timeoutMs`.
   */
  async restore(partition: number, beat: () => Promise<void>, timeoutMs = 60_000): Promise<Map<string, StreamState>> {
    const admin = this.opts.kafka.admin();
    let end: bigint;
    try {
      await admin.connect();
      const offsets = await admin.fetchTopicOffsets(this.opts.topic);
      end = BigInt(offsets.find((o) => o.partition === partition)?.high ?? '0');
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    const deadline = Date.now() + timeoutMs;
    while ((this.position.get(partition) ?? 0n) < end) {
      if (Date.now() > deadline) throw new TidewatchError('TW_TRANSPORT_UNAVAILABLE', `state topic ${this.opts.topic} partition ${partition} not read up to ${end} within ${timeoutMs} ms`);
      await beat().catch(() => undefined);
      await new Promise((r) => setTimeout(r, 25));
    }
    return new Map(this.states.get(partition) ?? []);
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect().catch(() => undefined);
    this.consumer = undefined;
  }
}
