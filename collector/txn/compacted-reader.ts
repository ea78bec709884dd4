/**
 * Reads a compacted topic that a transactional partition stage (partition-stage.ts) writes its
 * state to, with read_committed, and keeps the latest record of each key, per bucket (the input
 * partition whose owner wrote it). A worker that takes an input partition over asks for its
 * bucket with restore(): it resolves once this reader has read the topic partition holding that
 * bucket up to the end offset it had when asked (after the worker's transactional producer
 * fenced the previous owner, so that owner's last transaction is committed or aborted by then).
 *
 * One reader per stage process, in a consumer group of its own (nothing is committed: it reads
 * the whole compacted topic at every start, which compaction keeps small). Bounded by
 * `maxRecords` keys in all (beyond it new keys are skipped and counted in `overflow`).
 */
import { randomUUID } from 'node:crypto';
import type { Consumer, Kafka, KafkaMessage } from 'kafkajs';
import { TidewatchError } from '../../core/errors.js';
import { readCommittedConsumer } from './consumer.js';

export interface CompactedReaderOptions<R> {
  kafka: Kafka;
  topic: string;
  /** The reader's consumer group is `<groupPrefix>.<groupSuffix>-<random>`. */
  groupPrefix: string;
  groupSuffix: string;
  /** Names the topic in the restore timeout's message (`state topic`, `catalog topic`). */
  what: string;
  maxRecords: number;
  /** Decodes a record's value; throws when it is not one (counted in `invalid`, skipped). */
  decode: (value: Buffer) => R;
  /** The key a record is kept under (a tombstone deletes the message key). */
  keyOf: (r: R) => string;
  /** The bucket a message of topic partition `partition` belongs to; undefined: not ours, skipped. */
  bucketOf: (partition: number, m: KafkaMessage) => number | undefined;
  /** Whether `next` replaces `prev` of the same key; absent: the later one always does. */
  replaces?: (prev: R, next: R) => boolean;
}

export class CompactedReader<R> {
  private consumer: Consumer | undefined;
  /** Bucket → key → latest record. */
  private readonly buckets = new Map<number, Map<string, R>>();
  private readonly position = new Map<number, bigint>();
  private size = 0;
  overflow = 0;
  invalid = 0;

  constructor(private readonly opts: CompactedReaderOptions<R>) {}

  async start(): Promise<void> {
    const o = this.opts;
    const c = readCommittedConsumer(o.kafka, { groupId: `${o.groupPrefix}.${o.groupSuffix}-${randomUUID()}`, sessionTimeoutMs: 10_000, heartbeatIntervalMs: 1000 });
    this.consumer = c;
    // Batches of only aborted records or transaction markers reach no handler; the event still
    // tells how far the partition was read.
    c.on(c.events.END_BATCH_PROCESS, (e) => {
      const p = e.payload as { topic: string; partition: number; lastOffset: string };
      if (p.topic === o.topic) this.advance(p.partition, BigInt(p.lastOffset) + 1n);
    });
    await c.connect();
    await c.subscribe({ topics: [o.topic], fromBeginning: true });
    await c.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const msg of batch.messages) this.take(batch.partition, msg);
        const last = batch.messages[batch.messages.length - 1];
        if (last !== undefined) this.advance(batch.partition, BigInt(last.offset) + 1n);
      },
    });
  }

  private take(partition: number, msg: KafkaMessage): void {
    const o = this.opts;
    const bucket = o.bucketOf(partition, msg);
    if (bucket === undefined) return;
    let m = this.buckets.get(bucket);
    if (m === undefined) this.buckets.set(bucket, (m = new Map()));
    if (msg.value === null || msg.value.length === 0) {
      // A tombstone: the key is finished.
      const key = msg.key?.toString('utf8');
      if (key !== undefined && m.delete(key)) this.size--;
      return;
    }
    let r: R;
    try {
      r = o.decode(msg.value);
    } catch {
      this.invalid++;
      return;
    }
    const key = o.keyOf(r);
    const prev = m.get(key);
    if (prev === undefined) {
      if (this.size >= o.maxRecords) {
        this.overflow++;
        return;
      }
      this.size++;
    }
    if (prev === undefined || o.replaces === undefined || o.replaces(prev, r)) m.set(key, r);
  }

  private advance(partition: number, next: bigint): void {
    if (next > (this.position.get(partition) ?? 0n)) this.position.set(partition, next);
  }

  /**
   * The records of `bucket` (a copy: the caller owns it), once topic partition `partition` (the
   * one holding that bucket) was read up to its current end. `beat` is called while waiting (the
   * caller's group membership). Rejects with TW_TRANSPORT_UNAVAILABLE after `timeoutMs`.
   */
  async restore(bucket: number, partition: number, beat: () => Promise<void>, timeoutMs = 60_000): Promise<Map<string, R>> {
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
      if (Date.now() > deadline) throw new TidewatchError('TW_TRANSPORT_UNAVAILABLE', `${this.opts.what} ${this.opts.topic} partition ${partition} not read up to ${end} within ${timeoutMs} ms`);
      await beat().catch(() => undefined);
      await new Promise((r) => setTimeout(r, 25));
    }
    return new Map(this.buckets.get(bucket) ?? []);
  }

  /** Idempotent; safe without start(). */
  async stop(): Promise<void> {
    await this.consumer?.disconnect().catch(() => undefined);
    this.consumer = undefined;
  }
}
