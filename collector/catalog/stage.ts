/**
 * The catalog stage over Kafka: the one writer of each pattern's catalog record.
 *
 * Collector instances publish pattern observations keyed by pattern id on the observations
 * topic (sinks/patterns.ts). This stage consumes that topic in the consumer group
 * `<group_id>.catalog`: each partition, so each key, has one consumer. The fence against two
 * writers during a rebalance is the ingest stage's (DESIGN.md, "Exactly-once rollups"): each
 * assigned partition gets its own transactional producer, `transactional.id =
 * <group_id>-catalog-<topic>-<partition>`, and every `commit_interval_ms` one transaction carries
 * the changed catalog records (to the compacted catalog topic), the observations forwarded to
 * alias targets (to the observations topic), and the partition's input offset (sendOffsets).
 * Readers are read_committed.
 *
 * Taking a partition over (first batch of a partition without a worker):
 *   1. the new producer's InitProducerId fences the previous owner: its open transaction is
 *      aborted, a commit in progress completes first, and it can commit nothing after;
 *   2. the committed input offset is read then (stable after 1), and the consumer seeks there;
 *   3. the partition's catalog records are restored from the catalog topic (CatalogReader),
 *      which holds exactly what the committed offsets account for.
 * A transaction that fails (broker loss, fenced) discards the worker; the next batch builds a
 * new one from the last commit. So the merged counts equal the observed counts exactly, through
 * rebalances and restarts of the stage, and a restart resumes from the compacted topic.
 */
import { hostname } from 'node:os';
import type { Consumer, EachBatchPayload, Kafka, Producer, Transaction } from 'kafkajs';
import { CompressionTypes, Partitioners } from 'kafkajs';
import { errorCodeOf } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import type { Telemetry } from '../../core/telemetry.js';
import { encodePattern } from '../../core/wire.js';
import { LagGauge } from '../ingest/stage.js';
import { CatalogCore, type CatalogCounters } from './core.js';
import { CATALOG_SOURCE_HEADER, CatalogReader } from './reader.js';
import { decodeObservation, encodeObservation } from './observation.js';

export interface CatalogStageOptions {
  kafka: Kafka;
  /** The configured group_id; the consumer group is `<groupId>.catalog`. */
  groupId: string;
  observationsTopic: string;
  catalogTopic: string;
  /** Partitions of the catalog topic (observations partition p writes catalog partition p mod this). */
  catalogPartitions: number;
  fromBeginning: boolean;
  commitIntervalMs: number;
  transactionTimeoutMs: number;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  maxBytesPerPartition: number;
  partitionsConsumedConcurrently: number;
  /** Catalog records held by this process (its workers' and the restore reader's, each). */
  maxPatterns: number;
  component: string;
  telemetry: Telemetry;
  log: Logger;
}

export class CatalogStage {
  private consumer: Consumer | undefined;
  private reader: CatalogReader | undefined;
  private readonly workers = new Map<number, CatalogWorker>();
  private stopping = false;
  readonly group: string;
  private readonly instance = `${hostname()}-${process.pid}`;

  constructor(readonly opts: CatalogStageOptions) {
    this.group = `${opts.groupId}.catalog`;
  }

  async start(): Promise<void> {
    const o = this.opts;
    this.reader = new CatalogReader({ kafka: o.kafka, topic: o.catalogTopic, partitions: o.catalogPartitions, groupPrefix: this.group, maxPatterns: o.maxPatterns, log: o.log });
    await this.reader.start();
    const c = o.kafka.consumer({
      groupId: this.group,
      // Forwarded observations are written in the catalog's transactions: only committed ones count.
      readUncommitted: false,
      allowAutoTopicCreation: false,
      sessionTimeout: o.sessionTimeoutMs,
      heartbeatInterval: o.heartbeatIntervalMs,
      maxBytesPerPartition: o.maxBytesPerPartition,
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 300, maxRetryTime: 5000 },
    });
    this.consumer = c;
    c.on(c.events.GROUP_JOIN, (e) => {
      const assigned = new Set(e.payload.memberAssignment[o.observationsTopic] ?? []);
      // Partitions that went to another member: drop their worker (the new owner redoes its
      // uncommitted work from the last commit, after fencing this one's producer).
      for (const [p, w] of this.workers) {
        if (!assigned.has(p)) {
          this.workers.delete(p);
          void w.close(false);
        }
      }
      o.telemetry.set('tidewatch_catalog_assigned_partitions', { component: o.component }, assigned.size);
    });
    await c.connect();
    await c.subscribe({ topics: [o.observationsTopic], fromBeginning: o.fromBeginning });
    await c.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: o.partitionsConsumedConcurrently,
      eachBatch: (p) => this.eachBatch(p),
    });
  }

  private async eachBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    if (this.stopping || batch.messages.length === 0) return;
    const p = batch.partition;
    let w = this.workers.get(p);
    if (w !== undefined && w.broken) {
      this.workers.delete(p);
      await w.close(false);
      w = undefined;
    }
    if (w === undefined) {
      try {
        w = await this.openWorker(p, heartbeat);
      } catch (err) {
        this.opts.telemetry.add('tidewatch_catalog_errors_total', { component: this.opts.component, code: errorCodeOf(err), op: 'takeover' });
        this.opts.log.warn('catalog: cannot take partition over; retrying', { partition: p, message: (err as Error).message });
        await new Promise((r) => setTimeout(r, 500));
        return;
      }
      if (this.stopping || !isRunning() || isStale()) {
        await w.close(false);
        return;
      }
      this.workers.set(p, w);
      if (BigInt(batch.messages[0]!.offset) > w.position) {
        // Fetched past the last commit (a failed transaction's work): read again from the commit.
        this.consumer!.seek({ topic: batch.topic, partition: p, offset: w.position.toString() });
        return;
      }
    }
    w.lag.highWatermark(batch.highWatermark);
    let last: string | undefined;
    for (const m of batch.messages) {
      // Below the position: merged already (by this worker, or before the commit it restored).
      if (BigInt(m.offset) < w.position) continue;
      try {
        w.core.apply(decodeObservation({ headers: headersOf(m.headers), value: m.value ?? Buffer.alloc(0) }));
      } catch (err) {
        this.opts.telemetry.add('tidewatch_events_dropped_total', { component: this.opts.component, reason: errorCodeOf(err) });
      }
      last = m.offset;
    }
    if (last === undefined) {
      resolveOffset(batch.messages[batch.messages.length - 1]!.offset);
      return;
    }
    w.position = BigInt(last) + 1n;
    w.reportCounters();
    resolveOffset(last);
    await heartbeat().catch(() => undefined);
  }

  private async openWorker(partition: number, heartbeat: () => Promise<void>): Promise<CatalogWorker> {
    const o = this.opts;
    const producer = o.kafka.producer({
      transactionalId: `${o.groupId}-catalog-${o.observationsTopic}-${partition}`,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: o.transactionTimeoutMs,
      allowAutoTopicCreation: false,
      // Forwards must land where the patterns sinks' producers put the key (murmur2, as Java).
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 2000 },
    });
    try {
      await producer.connect();
      // InitProducerId (on the first transaction) fences the previous owner of this partition.
      const txn = await producer.transaction();
      const start = await this.committedOffset(partition);
      const records = await this.reader!.restore(partition, heartbeat);
      const core = new CatalogCore({ maxPatterns: o.maxPatterns });
      for (const r of records) core.restore(r);
      o.telemetry.add('tidewatch_catalog_takeovers_total', { component: o.component });
      o.log.info('catalog: partition taken over', { partition, from_offset: start.toString(), patterns: core.size, instance: this.instance });
      return new CatalogWorker(this, partition, producer, txn, core, start);
    } catch (err) {
      await producer.disconnect().catch(() => undefined);
      throw err;
    }
  }

  /** The group's committed offset of the partition; where a new group starts when none. */
  private async committedOffset(partition: number): Promise<bigint> {
    const topic = this.opts.observationsTopic;
    const admin = this.opts.kafka.admin();
    try {
      await admin.connect();
      const res = await admin.fetchOffsets({ groupId: this.group, topics: [topic] });
      const off = res.find((t) => t.topic === topic)?.partitions.find((p) => p.partition === partition)?.offset;
      if (off !== undefined && off !== '-1') return BigInt(off);
      const ends = await admin.fetchTopicOffsets(topic);
      const e = ends.find((p) => p.partition === partition);
      return BigInt((this.opts.fromBeginning ? e?.low : e?.high) ?? '0');
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  /** A worker whose transaction failed: drop it and rewind to its last commit. */
  recover(w: CatalogWorker): void {
    if (this.stopping || this.workers.get(w.partition) !== w) return;
    this.workers.delete(w.partition);
    void w.close(false);
    try {
      this.consumer?.seek({ topic: this.opts.observationsTopic, partition: w.partition, offset: w.lastCommitted.toString() });
    } catch {
      // Not assigned here any more: the new owner starts from the commit anyway.
    }
  }

  /** Commits what every worker holds, then leaves the group. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await Promise.all([...this.workers.values()].map((w) => w.close(true)));
    this.workers.clear();
    await this.consumer?.disconnect().catch(() => undefined);
    await this.reader?.stop();
  }
}

class CatalogWorker {
  broken = false;
  /** The next input offset to merge; starts at the last commit. */
  position: bigint;
  private lastCommit: bigint;
  private readonly timer: NodeJS.Timeout;
  private committing: Promise<void> | undefined;
  private reported: CatalogCounters = { observations: 0, overflow: 0, aliasConflicts: 0, loops: 0, windowsDropped: 0 };
  readonly lag: LagGauge;

  constructor(
    private readonly stage: CatalogStage,
    readonly partition: number,
    private readonly producer: Producer,
    private txn: Transaction | undefined,
    readonly core: CatalogCore,
    start: bigint,
  ) {
    this.position = start;
    this.lastCommit = start;
    const o = stage.opts;
    this.lag = new LagGauge(o.telemetry, { component: o.component, topic: o.observationsTopic, partition: String(partition) });
    this.timer = setInterval(() => this.tick(), o.commitIntervalMs);
    this.timer.unref();
  }

  get lastCommitted(): bigint {
    return this.lastCommit;
  }

  private tick(): void {
    this.lag.report(this.lastCommit, Date.now());
    if (this.committing !== undefined || this.broken) return;
    this.committing = this.commit().finally(() => (this.committing = undefined));
  }

  private async commit(): Promise<void> {
    if (!this.core.pending && this.position === this.lastCommit) return;
    const o = this.stage.opts;
    // Taken together, synchronously: the records account for exactly the input up to `next`.
    const next = this.position;
    const { records, forwards } = this.core.drain();
    try {
      this.txn ??= await this.producer.transaction();
      const topicMessages = [];
      if (records.length > 0) {
        const partition = this.partition % o.catalogPartitions;
        topicMessages.push({
          topic: o.catalogTopic,
          messages: records.map((r) => {
            const m = encodePattern(r);
            return { key: m.key!, value: m.value, headers: { ...m.headers, [CATALOG_SOURCE_HEADER]: String(this.partition) }, partition };
          }),
        });
      }
      if (forwards.length > 0) {
        topicMessages.push({ topic: o.observationsTopic, messages: forwards.map((f) => ({ ...encodeObservation(f) })) });
      }
      if (topicMessages.length > 0) await this.txn.sendBatch({ topicMessages, acks: -1, compression: CompressionTypes.None });
      await this.txn.sendOffsets({ consumerGroupId: this.stage.group, topics: [{ topic: o.observationsTopic, partitions: [{ partition: this.partition, offset: next.toString() }] }] });
      await this.txn.commit();
      this.txn = undefined;
      this.lastCommit = next;
      o.telemetry.add('tidewatch_catalog_transactions_total', { component: o.component, outcome: 'commit' });
      o.telemetry.add('tidewatch_catalog_records_written_total', { component: o.component }, records.length);
      if (forwards.length > 0) o.telemetry.add('tidewatch_catalog_forwards_total', { component: o.component }, forwards.length);
    } catch (err) {
      // Fenced (another instance owns the partition now) or the brokers failed: this worker's
      // state is no longer what was committed. Discard it; a new worker restarts from the commit.
      this.broken = true;
      o.telemetry.add('tidewatch_catalog_errors_total', { component: o.component, code: errorCodeOf(err), op: 'commit' });
      o.telemetry.add('tidewatch_catalog_transactions_total', { component: o.component, outcome: 'abort' });
      o.log.warn('catalog: transaction failed; partition restarts from its last commit', { partition: this.partition, message: (err as Error).message });
      const txn = this.txn;
      this.txn = undefined;
      await txn?.abort().catch(() => undefined);
      this.stage.recover(this);
    }
  }

  reportCounters(): void {
    const o = this.stage.opts;
    const c = this.core.counters;
    const labels = { component: o.component };
    const r = this.reported;
    if (c.observations > r.observations) o.telemetry.add('tidewatch_catalog_observations_total', labels, c.observations - r.observations);
    if (c.overflow > r.overflow) o.telemetry.add('tidewatch_events_dropped_total', { ...labels, reason: 'max_patterns' }, c.overflow - r.overflow);
    if (c.aliasConflicts > r.aliasConflicts) o.telemetry.add('tidewatch_catalog_alias_conflicts_total', labels, c.aliasConflicts - r.aliasConflicts);
    if (c.loops > r.loops) o.telemetry.add('tidewatch_events_dropped_total', { ...labels, reason: 'alias_loop' }, c.loops - r.loops);
    if (c.windowsDropped > r.windowsDropped) o.telemetry.add('tidewatch_catalog_windows_dropped_total', labels, c.windowsDropped - r.windowsDropped);
    this.reported = { ...c };
    o.telemetry.set('tidewatch_catalog_patterns', { ...labels, partition: String(this.partition) }, this.core.size);
  }

  /** Stops the commit timer; `final` commits what is held first (orderly stop). */
  async close(final: boolean): Promise<void> {
    clearInterval(this.timer);
    await this.committing;
    if (final && !this.broken) await this.commit();
    const txn = this.txn;
    this.txn = undefined;
    await txn?.abort().catch(() => undefined);
    await this.producer.disconnect().catch(() => undefined);
  }
}

function headersOf(h: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h ?? {})) {
    const one: unknown = Array.isArray(v) ? v[v.length - 1] : v;
    if (typeof one === 'string') out[k] = one;
    else if (Buffer.isBuffer(one)) out[k] = one.toString('utf8');
  }
  return out;
}
