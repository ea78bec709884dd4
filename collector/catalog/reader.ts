/**
 * Reads the compacted pattern catalog topic with read_committed and keeps, per catalog
 * partition, the latest record of each key written by the catalog stage. A catalog worker that
 * takes over observations partition p asks for its records with restore(p): they resolve once
 * this reader has read p's catalog partition up to the end offset it had when asked (after the
 * worker's transactional producer fenced the previous owner, so that owner's last transaction is
 * committed or aborted by then). The catalog stage writes the record of a key that arrived on
 * observations partition p to catalog partition p mod N, with the header `tw-catalog-source: p`,
 * so a worker restores exactly the keys it writes.
 *
 * One reader per catalog stage process, in a consumer group of its own (nothing is committed:
 * it reads the whole compacted topic at every start, which compaction keeps small). Bounded by
 * `maxPatterns` records (beyond it new keys are skipped and counted in `overflow`).
 */
import { randomUUID } from 'node:crypto';
import type { Consumer, Kafka } from 'kafkajs';
import { TidewatchError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { decodePattern } from '../../core/wire.js';
import type { PatternRecord } from '../../core/wire.js';

/** Header naming the observations partition whose writer wrote a catalog record. */
export const CATALOG_SOURCE_HEADER = 'tw-catalog-source';

export interface CatalogReaderOptions {
  kafka: Kafka;
  topic: string;
  /** Partitions of the catalog topic (observations partition p is stored in p mod this). */
  partitions: number;
  groupPrefix: string;
  maxPatterns: number;
  log: Logger;
}

export class CatalogReader {
  private consumer: Consumer | undefined;
  /** Observations partition → key → latest record. */
  private readonly bySource = new Map<number, Map<string, PatternRecord>>();
  private readonly position = new Map<number, bigint>();
  private size = 0;
  overflow = 0;
  invalid = 0;

  constructor(private readonly opts: CatalogReaderOptions) {}

  async start(): Promise<void> {
    const c = this.opts.kafka.consumer({
      groupId: `${this.opts.groupPrefix}.restore-${randomUUID()}`,
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
        for (const msg of batch.messages) {
          const src = Number(headerText(msg.headers?.[CATALOG_SOURCE_HEADER]));
          // Records of other writers (none but the catalog stage should write here) are not ours to restore.
          if (!Number.isSafeInteger(src) || src < 0) continue;
          let m = this.bySource.get(src);
          if (m === undefined) this.bySource.set(src, (m = new Map()));
          const key = msg.key?.toString('utf8');
          if (msg.value === null || msg.value.length === 0) {
            if (key !== undefined && m.delete(key)) this.size--;
            continue;
          }
          let r: PatternRecord;
          try {
            r = decodePattern(msg.value);
          } catch {
            this.invalid++;
            continue;
          }
          if (!m.has(r.pattern_id)) {
            if (this.size >= this.opts.maxPatterns) {
              this.overflow++;
              continue;
            }
            this.size++;
          }
          m.set(r.pattern_id, r);
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
   * The catalog records written for observations partition `source`, once the catalog partition
   * that holds them was read up to its current end. `beat` is called while waiting (the
   * caller's group membership). Rejects after `timeoutMs`.
   */
  async restore(source: number, beat: () => Promise<void>, timeoutMs = 60_000): Promise<PatternRecord[]> {
    const partition = source % this.opts.partitions;
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
      if (Date.now() > deadline) throw new TidewatchError('TW_TRANSPORT_UNAVAILABLE', `catalog topic ${this.opts.topic} partition ${partition} not read up to ${end} within ${timeoutMs} ms`);
      await beat().catch(() => undefined);
      await new Promise((r) => setTimeout(r, 25));
    }
    return [...(this.bySource.get(source)?.values() ?? [])];
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect().catch(() => undefined);
    this.consumer = undefined;
  }
}

function headerText(v: unknown): string | undefined {
  const one: unknown = Array.isArray(v) ? v[v.length - 1] : v;
  if (typeof one === 'string') return one;
  if (Buffer.isBuffer(one)) return one.toString('utf8');
  return undefined;
}
