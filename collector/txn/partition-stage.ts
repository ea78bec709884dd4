/**
 * The machinery of a transactional partition stage (DESIGN.md, "Exactly-once rollups"), shared
 * by the ingest stage (ingest/stage.ts) and the catalog stage (catalog/stage.ts): a consumer
 * group `<group_id>.<name>` over the input topics, shared by any number of collector processes.
 * Each assigned input partition gets a worker with its own transactional producer,
 * `transactional.id = <group_id>-<name>-<topic>-<partition>` (kafkajs has only the pre-KIP-447
 * offset commit, so fencing is per partition), and every `commit_interval_ms` one transaction
 * carries what the stage's partition work hands out (its output and its state, to a compacted
 * topic) and the partition's input offset (sendOffsets to the group). Either all of it is
 * visible to read_committed readers or none is.
 *
 * Taking a partition over (first batch of a partition without a worker):
 *   1. the new producer's InitProducerId fences the previous owner: its open transaction is
 *      aborted, a commit in progress completes first, and it can commit nothing after;
 *   2. the committed input offset is read then (stable after 1), and the consumer seeks there;
 *   3. the stage's `open` restores the partition's state (from its compacted topic, with a
 *      CompactedReader), which holds exactly what the committed offsets account for;
 *   then messages below the worker's position (counted before the commit it restored, or by
 *   itself) are skipped.
 * A transaction that fails (broker loss, fenced) discards the worker and rewinds the partition
 * to its last commit; the next batch builds a new one, which starts again from there.
 *
 * What is a stage's own is its PartitionWork: what it does with messages and what a transaction
 * carries. Names are the stage's: `<name>: partition taken over` and the other log lines,
 * `tidewatch_<name>_*` telemetry.
 */
import { hostname } from 'node:os';
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage, Producer, ProducerConfig, TopicMessages, Transaction } from 'kafkajs';
import { CompressionTypes } from '../../core/kafkajs.js';
import { errorCodeOf } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import type { Labels, Telemetry } from '../../core/telemetry.js';
import { readCommittedConsumer } from './consumer.js';

/** One partition's own work, for one ownership of it (a worker); made by the stage's `open`. */
export interface PartitionWork {
  /**
   * Takes in `messages` (the batch's messages at or past `position`, in order, at least one).
   * Resolves to what counts them, which the worker calls synchronously unless it was discarded
   * meanwhile; or to undefined: nothing is counted, the batch is not resolved and comes again.
   */
  take(messages: KafkaMessage[], position: bigint): Promise<(() => void) | undefined>;
  /** After each counted batch: the stage's counters to telemetry. */
  report(): void;
  /**
   * What the next transaction carries, taken synchronously (it must account for exactly the
   * input up to its `nextOffset`); undefined when there is nothing to commit. `position` is the
   * next input offset to take in, `lastCommit` the input offset of the last commit.
   */
  prepare(position: bigint, lastCommit: bigint): TxnContent | undefined;
}

export interface TxnContent {
  /** Output of the transaction; the producer's partitioner places messages without a partition. */
  topicMessages: TopicMessages[];
  /** The input offset the transaction commits (where the next owner starts). */
  nextOffset: bigint;
  /** The transaction committed (`elapsedMs` from its start): bookkeeping and telemetry. */
  committed(elapsedMs: number): void;
}

export interface Takeover<W extends PartitionWork> {
  work: W;
  /** Fields of the `<name>: partition taken over` log line after `from_offset`. */
  fields: Record<string, unknown>;
}

export interface TakeoverContext {
  topic: string;
  partition: number;
  /** `<hostname>-<pid>`: this process. */
  instance: string;
  /** Keeps the group membership while restoring. */
  heartbeat: () => Promise<void>;
}

/** The configured settings of a stage's group, producers and commits (the kafka source's options). */
export interface PartitionStageSettings {
  fromBeginning: boolean;
  commitIntervalMs: number;
  transactionTimeoutMs: number;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  maxBytesPerPartition: number;
  partitionsConsumedConcurrently: number;
}

/** Only the settings of `o` (a stage's options, which carry more). */
export function settingsOf(o: PartitionStageSettings): PartitionStageSettings {
  return {
    fromBeginning: o.fromBeginning,
    commitIntervalMs: o.commitIntervalMs,
    transactionTimeoutMs: o.transactionTimeoutMs,
    sessionTimeoutMs: o.sessionTimeoutMs,
    heartbeatIntervalMs: o.heartbeatIntervalMs,
    maxBytesPerPartition: o.maxBytesPerPartition,
    partitionsConsumedConcurrently: o.partitionsConsumedConcurrently,
  };
}

export interface TransactionalPartitionStageOptions<W extends PartitionWork> extends PartitionStageSettings {
  kafka: Kafka;
  /** Names the group (`<groupId>.<name>`), the transactional ids, the log lines and the telemetry. */
  name: string;
  /** The configured group_id. */
  groupId: string;
  topics: string[];
  /** The stage reads several topics: its takeover and transaction telemetry and log lines name the topic. */
  labelTopic: boolean;
  /** More producer options (a partitioner). */
  producer?: Pick<ProducerConfig, 'createPartitioner'>;
  /** Started before the group is joined, stopped after it is left (the compacted-topic reader). */
  restoreReader: { start(): Promise<void>; stop(): Promise<void> };
  /** Restores a taken-over partition's state; after the fence and the committed offset were read. */
  open: (t: TakeoverContext) => Promise<Takeover<W>>;
  component: string;
  telemetry: Telemetry;
  log: Logger;
}

export class TransactionalPartitionStage<W extends PartitionWork> {
  private consumer: Consumer | undefined;
  private readonly workers = new Map<string, PartitionWorker<W>>();
  private stopping = false;
  readonly group: string;
  private readonly instance = `${hostname()}-${process.pid}`;

  constructor(readonly opts: TransactionalPartitionStageOptions<W>) {
    this.group = `${opts.groupId}.${opts.name}`;
  }

  async start(): Promise<void> {
    const o = this.opts;
    await o.restoreReader.start();
    const c = readCommittedConsumer(o.kafka, {
      groupId: this.group,
      sessionTimeoutMs: o.sessionTimeoutMs,
      heartbeatIntervalMs: o.heartbeatIntervalMs,
      maxBytesPerPartition: o.maxBytesPerPartition,
    });
    this.consumer = c;
    c.on(c.events.GROUP_JOIN, (e) => {
      const assigned = new Set<string>();
      for (const [topic, parts] of Object.entries(e.payload.memberAssignment)) for (const p of parts) assigned.add(`${topic}:${p}`);
      // Partitions that went to another member: drop their worker (the new owner redoes its
      // uncommitted work from the last commit, after fencing this one's producer).
      for (const [key, w] of this.workers) {
        if (!assigned.has(key)) {
          this.workers.delete(key);
          void w.close(false);
        }
      }
      o.telemetry.set(`tidewatch_${o.name}_assigned_partitions`, { component: o.component }, assigned.size);
    });
    await c.connect();
    await c.subscribe({ topics: o.topics, fromBeginning: o.fromBeginning });
    await c.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: o.partitionsConsumedConcurrently,
      eachBatch: (p) => this.eachBatch(p),
    });
  }

  /** `{topic}` when the stage labels by topic, else nothing: spread into labels and log fields. */
  topicField(topic: string): { topic?: string } {
    return this.opts.labelTopic ? { topic } : {};
  }

  private async eachBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const o = this.opts;
    // A seek of this partition is pending (takeover or recover() rewound it): this batch was
    // fetched before it. Counting it would move the worker's position past the offsets the seek
    // goes back for, and those would then be skipped as already counted: lines lost from the
    // rollups. Found by the chaos suite (test/chaos/pipeline.chaos.test.ts).
    if (this.stopping || batch.messages.length === 0 || isStale()) return;
    const key = `${batch.topic}:${batch.partition}`;
    let w = this.workers.get(key);
    if (w !== undefined && w.broken) {
      this.workers.delete(key);
      await w.close(false);
      w = undefined;
    }
    if (w === undefined) {
      try {
        w = await this.openWorker(batch.topic, batch.partition, heartbeat);
      } catch (err) {
        o.telemetry.add(`tidewatch_${o.name}_errors_total`, { component: o.component, code: errorCodeOf(err), op: 'takeover' });
        o.log.warn(`${o.name}: cannot take partition over; retrying`, { ...this.topicField(batch.topic), partition: batch.partition, message: (err as Error).message });
        await new Promise((r) => setTimeout(r, 500));
        return;
      }
      if (this.stopping || !isRunning() || isStale()) {
        await w.close(false);
        return;
      }
      this.workers.set(key, w);
      if (BigInt(batch.messages[0]!.offset) > w.position) {
        // The consumer is ahead of the last commit (a failed transaction's work, or offsets read
        // before the previous owner's last commit): read again from the commit.
        this.consumer!.seek({ topic: batch.topic, partition: batch.partition, offset: w.position.toString() });
        return;
      }
    }
    w.lag.highWatermark(batch.highWatermark);
    // Messages below the worker's position were counted already (by it, or by the previous
    // owner before the last commit): after a rebalance that left the partition here, kafkajs
    // fetches again from the last commit.
    const fresh = batch.messages.filter((m) => BigInt(m.offset) >= w.position);
    if (fresh.length === 0) {
      resolveOffset(batch.messages[batch.messages.length - 1]!.offset);
      return;
    }
    const count = await w.work.take(fresh, w.position);
    if (count === undefined || w.broken || this.workers.get(key) !== w) return;
    count();
    const last = fresh[fresh.length - 1]!.offset;
    w.position = BigInt(last) + 1n;
    w.work.report();
    resolveOffset(last);
    await heartbeat().catch(() => undefined);
  }

  private async openWorker(topic: string, partition: number, heartbeat: () => Promise<void>): Promise<PartitionWorker<W>> {
    const o = this.opts;
    const producer = o.kafka.producer({
      transactionalId: `${o.groupId}-${o.name}-${topic}-${partition}`,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: o.transactionTimeoutMs,
      allowAutoTopicCreation: false,
      ...o.producer,
      retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 2000 },
    });
    try {
      await producer.connect();
      // InitProducerId (on the first transaction) fences the previous owner of this partition.
      const txn = await producer.transaction();
      const start = await this.committedOffset(topic, partition);
      const { work, fields } = await o.open({ topic, partition, instance: this.instance, heartbeat });
      o.telemetry.add(`tidewatch_${o.name}_takeovers_total`, { component: o.component, ...this.topicField(topic) });
      o.log.info(`${o.name}: partition taken over`, { ...this.topicField(topic), partition, from_offset: start.toString(), ...fields });
      return new PartitionWorker(this, topic, partition, producer, txn, work, start);
    } catch (err) {
      await producer.disconnect().catch(() => undefined);
      throw err;
    }
  }

  /** The group's committed offset of the partition; where a new group starts when none. */
  private async committedOffset(topic: string, partition: number): Promise<bigint> {
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

  /**
   * A worker whose transaction failed: drop it and rewind the partition to its last commit, so
   * a new worker (new producer: fencing, committed offset, restored state) redoes the tail.
   */
  recover(w: PartitionWorker<W>): void {
    const key = `${w.topic}:${w.partition}`;
    if (this.stopping || this.workers.get(key) !== w) return;
    this.workers.delete(key);
    void w.close(false);
    try {
      this.consumer?.seek({ topic: w.topic, partition: w.partition, offset: w.lastCommitted.toString() });
    } catch {
      // Not assigned here any more: the new owner starts from the commit anyway.
    }
  }

  /** Commits what every worker holds, then leaves the group. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    // Final commits while still in the group: nobody else owns these partitions yet.
    await Promise.all([...this.workers.values()].map((w) => w.close(true)));
    this.workers.clear();
    await this.consumer?.disconnect().catch(() => undefined);
    await this.opts.restoreReader.stop();
  }
}

class PartitionWorker<W extends PartitionWork> {
  broken = false;
  /** The next input offset to take in; starts at the last commit. */
  position: bigint;
  private lastCommit: bigint;
  private readonly timer: NodeJS.Timeout;
  private committing: Promise<void> | undefined;
  readonly lag: LagGauge;

  constructor(
    private readonly stage: TransactionalPartitionStage<W>,
    readonly topic: string,
    readonly partition: number,
    private readonly producer: Producer,
    private txn: Transaction | undefined,
    readonly work: W,
    /** First input offset this worker reads (the last commit). */
    start: bigint,
  ) {
    this.position = start;
    this.lastCommit = start;
    const o = stage.opts;
    this.lag = new LagGauge(o.telemetry, { component: o.component, topic, partition: String(partition) });
    this.timer = setInterval(() => this.tick(), o.commitIntervalMs);
    this.timer.unref();
  }

  /** The input offset of the last commit (where a new worker starts). */
  get lastCommitted(): bigint {
    return this.lastCommit;
  }

  private tick(): void {
    // On the timer, not per batch: an idle, caught-up partition still reports its lag.
    this.lag.report(this.lastCommit, Date.now());
    if (this.committing !== undefined || this.broken) return;
    this.committing = this.commit().finally(() => (this.committing = undefined));
  }

  private async commit(): Promise<void> {
    const content = this.work.prepare(this.position, this.lastCommit);
    if (content === undefined) return;
    const o = this.stage.opts;
    const topicLabel = this.stage.topicField(this.topic);
    const t0 = Date.now();
    try {
      this.txn ??= await this.producer.transaction();
      if (content.topicMessages.length > 0) await this.txn.sendBatch({ topicMessages: content.topicMessages, acks: -1, compression: CompressionTypes.None });
      await this.txn.sendOffsets({
        consumerGroupId: this.stage.group,
        topics: [{ topic: this.topic, partitions: [{ partition: this.partition, offset: content.nextOffset.toString() }] }],
      });
      await this.txn.commit();
      this.txn = undefined;
      this.lastCommit = content.nextOffset;
      content.committed(Date.now() - t0);
      o.telemetry.add(`tidewatch_${o.name}_transactions_total`, { component: o.component, ...topicLabel, outcome: 'commit' });
    } catch (err) {
      // Fenced (another collector owns the partition now) or the brokers failed mid-way: the
      // transaction is aborted (or times out), and this worker's state is no longer what was
      // committed. Discard it; a new worker starts from the last commit.
      this.broken = true;
      o.telemetry.add(`tidewatch_${o.name}_errors_total`, { component: o.component, code: errorCodeOf(err), op: 'commit' });
      o.telemetry.add(`tidewatch_${o.name}_transactions_total`, { component: o.component, ...topicLabel, outcome: 'abort' });
      o.log.warn(`${o.name}: transaction failed; partition restarts from its last commit`, { ...topicLabel, partition: this.partition, message: (err as Error).message });
      const txn = this.txn;
      this.txn = undefined;
      await txn?.abort().catch(() => undefined);
      // Recover now, not on the partition's next batch: when the writers are idle, no batch
      // would come, and the uncommitted tail would wait for new data.
      this.stage.recover(this);
    }
  }

  /** Stops the commit timer; `final` commits what is held first (orderly stop). */
  async close(final: boolean): Promise<void> {
    clearInterval(this.timer);
    await this.committing;
    if (final && !this.broken) await this.commit();
    const txn = this.txn;
    this.txn = undefined;
    // A transaction begun locally but never sent has nothing on the broker; abort is a no-op then.
    await txn?.abort().catch(() => undefined);
    await this.producer.disconnect().catch(() => undefined);
  }
}

/**
 * `tidewatch_kafka_consumer_lag{component,topic,partition}`: the partition's high-water mark (as
 * last seen in a fetched batch) minus the committed input offset, i.e. messages not yet in a
 * committed transaction. Set at most once per `everyMs`, so a 150 ms commit timer costs nothing.
 */
export class LagGauge {
  private at = Number.NEGATIVE_INFINITY;
  private hw: bigint | undefined;

  constructor(
    private readonly telemetry: Telemetry,
    private readonly labels: Labels,
    private readonly everyMs = 1000,
  ) {}

  highWatermark(offset: string): void {
    this.hw = BigInt(offset);
  }

  report(committed: bigint, now: number): void {
    if (this.hw === undefined || now - this.at < this.everyMs) return;
    this.at = now;
    this.telemetry.set('tidewatch_kafka_consumer_lag', this.labels, Number(this.hw > committed ? this.hw - committed : 0n));
  }
}
