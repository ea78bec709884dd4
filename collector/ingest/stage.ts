/**
 * The ingest stage over Kafka (DESIGN.md, "Exactly-once rollups"): a consumer group
 * `<group_id>.ingest` over the logs and metrics topics, shared by any number of collector
 * processes. Each assigned input partition gets a worker with its own transactional producer,
 * `transactional.id = <group_id>-ingest-<topic>-<partition>` (kafkajs has only the pre-KIP-447
 * offset commit, so fencing is per partition), and every `commit_interval_ms` one transaction
 * carries that partition's rollup partials (to the rollups topic), its changed dedup state (to
 * state partition p of the compacted state topic) and its input offset (sendOffsets to the
 * group). Either all three are visible to read_committed readers or none is.
 *
 * Taking a partition over (first batch of a partition without a worker):
 *   1. the new producer's InitProducerId fences the previous owner: its open transaction is
 *      aborted, a commit in progress completes first;
 *   2. the committed input offset is read then (stable after 1), and the consumer seeks there;
 *   3. the dedup state of the partition is restored from the state topic (StateReader);
 *   then replayed lines (offset at or below the state's) are dropped and counted.
 * A transaction that fails (broker loss, fenced) discards the worker; the next batch builds a
 * new one, which starts again from the last commit. So totals in the rollups topic equal the
 * lines written exactly, through broker failover, rebalances and kill -9 of a collector.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Consumer, EachBatchPayload, Kafka, Producer, Transaction } from 'kafkajs';
import { CompressionTypes } from 'kafkajs';
import type { Event } from '../../core/model.js';
import type { Logger } from '../../core/log.js';
import type { Labels, Telemetry } from '../../core/telemetry.js';
import { errorCodeOf } from '../../core/errors.js';
import type { InMessage } from '../../core/transport.js';
import { encodeRollup, encodeStreamState } from '../../core/wire.js';
import { IngestCore } from './core.js';
import type { IngestCoreOptions } from './core.js';
import { StateReader } from './state-reader.js';

export interface IngestStageOptions {
  kafka: Kafka;
  /** The configured group_id; the consumer group is `<groupId>.ingest`. */
  groupId: string;
  inputTopics: string[];
  rollupsTopic: string;
  stateTopic: string;
  /** Partitions of the state topic (input partition p writes state partition p mod this). */
  statePartitions: number;
  fromBeginning: boolean;
  commitIntervalMs: number;
  transactionTimeoutMs: number;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  maxBytesPerPartition: number;
  partitionsConsumedConcurrently: number;
  latenessMs: number;
  maxWindows: number;
  maxStreams: number;
  /** Decoder of messages without the wire header (otlp_proto); see IngestCoreOptions. */
  decodeForeign?: IngestCoreOptions['decodeForeign'];
  /** Hands deduplicated input events downstream (at-least-once); undefined: not handed on. */
  emit: ((events: Event[]) => Promise<void>) | undefined;
  component: string;
  telemetry: Telemetry;
  log: Logger;
}

export class IngestStage {
  private consumer: Consumer | undefined;
  private stateReader: StateReader | undefined;
  private readonly workers = new Map<string, PartitionWorker>();
  private stopping = false;
  private readonly group: string;
  private readonly instance = `${hostname()}-${process.pid}`;

  constructor(private readonly opts: IngestStageOptions) {
    this.group = `${opts.groupId}.ingest`;
  }

  get consumerGroup(): string {
    return this.group;
  }

  async start(): Promise<void> {
    const o = this.opts;
    this.stateReader = new StateReader({ kafka: o.kafka, topic: o.stateTopic, groupPrefix: this.group, maxStreams: o.maxStreams, log: o.log });
    await this.stateReader.start();
    const c = o.kafka.consumer({
      groupId: this.group,
      // The agent does not write transactionally; read_committed costs nothing and is right if it ever does.
      readUncommitted: false,
      allowAutoTopicCreation: false,
      sessionTimeout: o.sessionTimeoutMs,
      heartbeatInterval: o.heartbeatIntervalMs,
      maxBytesPerPartition: o.maxBytesPerPartition,
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 300, maxRetryTime: 5000 },
    });
    this.consumer = c;
    c.on(c.events.GROUP_JOIN, (e) => {
      const assigned = new Set<string>();
      for (const [topic, parts] of Object.entries(e.payload.memberAssignment)) for (const p of parts) assigned.add(`${topic}:${p}`);
      // Partitions that went to another member: drop their worker (its uncommitted work is the
      // new owner's to redo from the last commit).
      for (const [key, w] of this.workers) {
        if (!assigned.has(key)) {
          this.workers.delete(key);
          void w.close(false);
        }
      }
      o.telemetry.set('tidewatch_ingest_assigned_partitions', { component: o.component }, assigned.size);
    });
    await c.connect();
    await c.subscribe({ topics: o.inputTopics, fromBeginning: o.fromBeginning });
    await c.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: o.partitionsConsumedConcurrently,
      eachBatch: (p) => this.eachBatch(p),
    });
  }

  private async eachBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
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
        this.opts.telemetry.add('tidewatch_ingest_errors_total', { component: this.opts.component, code: errorCodeOf(err), op: 'takeover' });
        this.opts.log.warn('ingest: cannot take partition over; retrying', { topic: batch.topic, partition: batch.partition, message: (err as Error).message });
        await new Promise((r) => setTimeout(r, 500));
        return;
      }
      if (this.stopping || !isRunning() || isStale()) {
        await w.close(false);
        return;
      }
      this.workers.set(key, w);
      const first = BigInt(batch.messages[0]!.offset);
      if (first > w.startOffset) {
        // The consumer is ahead of the last commit (a failed transaction's work, or offsets read
        // before the previous owner's last commit): read again from the commit.
        this.consumer!.seek({ topic: batch.topic, partition: batch.partition, offset: w.startOffset.toString() });
        return;
      }
    }
    // Messages below the worker's position were counted already (by it, or by the previous
    // owner before the last commit): after a rebalance that left the partition here, kafkajs
    // fetches again from the last commit, and metric points have no identity to dedup them by.
    w.lag.highWatermark(batch.highWatermark);
    const firstOffset = BigInt(batch.messages[0]!.offset);
    if (firstOffset > w.position && !w.gapLogged) {
      // Input topics have no transaction markers, so offsets are contiguous: a batch starting
      // past the position skips messages. Logged once per worker, to be seen, not to flood.
      w.gapLogged = true;
      this.opts.log.warn('ingest: batch starts past the partition position', { topic: batch.topic, partition: batch.partition, position: w.position.toString(), first: firstOffset.toString() });
    }
    const msgs: InMessage[] = [];
    for (const m of batch.messages) {
      if (BigInt(m.offset) < w.position) continue;
      msgs.push(toInMessage(batch.topic, batch.partition, m));
    }
    if (msgs.length === 0) {
      resolveOffset(batch.messages[batch.messages.length - 1]!.offset);
      return;
    }
    const f = w.core.filter(msgs);
    if (this.opts.emit !== undefined && f.events.length > 0) {
      try {
        await this.opts.emit(f.events);
      } catch (err) {
        // Downstream refused: nothing is counted; the batch comes again.
        this.opts.telemetry.add('tidewatch_ingest_errors_total', { component: this.opts.component, code: errorCodeOf(err), op: 'emit' });
        await new Promise((r) => setTimeout(r, 200));
        return;
      }
    }
    if (w.broken || this.workers.get(key) !== w) return;
    f.apply();
    w.position = BigInt(msgs[msgs.length - 1]!.offset) + 1n;
    w.reportCounters();
    resolveOffset(msgs[msgs.length - 1]!.offset);
    await heartbeat().catch(() => undefined);
  }

  private async openWorker(topic: string, partition: number, heartbeat: () => Promise<void>): Promise<PartitionWorker> {
    const o = this.opts;
    const producer = o.kafka.producer({
      transactionalId: `${o.groupId}-ingest-${topic}-${partition}`,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: o.transactionTimeoutMs,
      allowAutoTopicCreation: false,
      retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 2000 },
    });
    try {
      await producer.connect();
      // InitProducerId (on the first transaction) fences the previous owner of this partition.
      const txn = await producer.transaction();
      const start = await this.committedOffset(topic, partition);
      const statePartition = partition % o.statePartitions;
      const state = await this.stateReader!.restore(statePartition, heartbeat);
      const session = randomBytes(4).toString('hex');
      const core = new IngestCore({
        sourceInstance: `${this.instance}:${topic}-${partition}@${session}`,
        latenessMs: o.latenessMs,
        maxWindows: o.maxWindows,
        maxStreams: o.maxStreams,
        state,
        ...(o.decodeForeign !== undefined ? { decodeForeign: o.decodeForeign } : {}),
      });
      o.telemetry.add('tidewatch_ingest_takeovers_total', { component: o.component, topic });
      o.log.info('ingest: partition taken over', { topic, partition, from_offset: start.toString(), streams: state.size });
      return new PartitionWorker(this, topic, partition, statePartition, producer, txn, core, start);
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
   * a new worker (new producer: fencing, committed offset, dedup state) redoes the tail.
   */
  recover(w: PartitionWorker): void {
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
    await this.stateReader?.stop();
  }

  /** For workers: options and the consumer group. */
  get options(): IngestStageOptions {
    return this.opts;
  }
}

class PartitionWorker {
  broken = false;
  gapLogged = false;
  /** The next input offset to count; starts at the last commit. */
  position: bigint;
  private lastCommit: bigint;
  private timer: NodeJS.Timeout;
  private committing: Promise<void> | undefined;
  private reported = { lines: 0, replayed: 0, points: 0, invalid: 0, overflow: 0, late: 0 };
  readonly lag: LagGauge;

  constructor(
    private readonly stage: IngestStage,
    readonly topic: string,
    readonly partition: number,
    private readonly statePartition: number,
    private readonly producer: Producer,
    private txn: Transaction | undefined,
    readonly core: IngestCore,
    /** First input offset this worker reads (the last commit). */
    readonly startOffset: bigint,
  ) {
    this.position = startOffset;
    this.lastCommit = startOffset;
    this.lag = new LagGauge(stage.options.telemetry, { component: stage.options.component, topic, partition: String(partition) });
    this.timer = setInterval(() => this.tick(), stage.options.commitIntervalMs);
    this.timer.unref();
  }

  private tick(): void {
    // On the timer, not per batch: an idle, caught-up partition still reports its lag.
    this.lag.report(this.lastCommit, Date.now());
    if (this.committing !== undefined || this.broken) return;
    this.committing = this.commit().finally(() => (this.committing = undefined));
  }

  private async commit(): Promise<void> {
    const snap = this.core.snapshot();
    if (snap === undefined) return;
    const o = this.stage.options;
    const t0 = Date.now();
    try {
      this.txn ??= await this.producer.transaction();
      const topicMessages = [];
      if (snap.partials.length > 0) topicMessages.push({ topic: o.rollupsTopic, messages: snap.partials.map((p) => kafkaMessage(encodeRollup(p))) });
      if (snap.states.length > 0) {
        topicMessages.push({ topic: o.stateTopic, messages: snap.states.map((s) => ({ ...kafkaMessage(encodeStreamState(s)), partition: this.statePartition })) });
      }
      if (topicMessages.length > 0) await this.txn.sendBatch({ topicMessages, acks: -1, compression: CompressionTypes.None });
      await this.txn.sendOffsets({
        consumerGroupId: this.stage.consumerGroup,
        topics: [{ topic: this.topic, partitions: [{ partition: this.partition, offset: snap.nextOffset }] }],
      });
      await this.txn.commit();
      this.txn = undefined;
      this.core.committed(snap.nextOffset);
      this.lastCommit = BigInt(snap.nextOffset);
      o.telemetry.add('tidewatch_ingest_transactions_total', { component: o.component, topic: this.topic, outcome: 'commit' });
      o.telemetry.add('tidewatch_ingest_partials_total', { component: o.component }, snap.partials.length);
      o.telemetry.set('tidewatch_ingest_last_commit_ms', { component: o.component, topic: this.topic }, Date.now() - t0);
    } catch (err) {
      // Fenced (another collector owns the partition now) or the brokers failed mid-way: the
      // transaction is aborted (or times out), and this worker's state is no longer what was
      // committed. Discard it; the next batch starts a new worker from the last commit.
      this.broken = true;
      o.telemetry.add('tidewatch_ingest_errors_total', { component: o.component, code: errorCodeOf(err), op: 'commit' });
      o.telemetry.add('tidewatch_ingest_transactions_total', { component: o.component, topic: this.topic, outcome: 'abort' });
      o.log.warn('ingest: transaction failed; partition restarts from its last commit', { topic: this.topic, partition: this.partition, message: (err as Error).message });
      const txn = this.txn;
      this.txn = undefined;
      await txn?.abort().catch(() => undefined);
      // Recover now, not on the partition's next batch: when the writers are idle, no batch
      // would come, and the uncommitted tail would wait for new data.
      this.stage.recover(this);
    }
  }

  /** The input offset of the last commit (where a new worker starts). */
  get lastCommitted(): bigint {
    return this.lastCommit;
  }

  reportCounters(): void {
    const o = this.stage.options;
    const c = this.core.counters;
    const labels = { component: o.component };
    if (c.lines > this.reported.lines) o.telemetry.add('tidewatch_ingest_lines_total', labels, c.lines - this.reported.lines);
    if (c.points > this.reported.points) o.telemetry.add('tidewatch_ingest_points_total', labels, c.points - this.reported.points);
    if (c.replayed > this.reported.replayed) {
      o.telemetry.add('tidewatch_events_dropped_total', { ...labels, reason: 'replayed' }, c.replayed - this.reported.replayed);
      // The same lines under the name operators look for: replays the dedup state recognised.
      o.telemetry.add('tidewatch_ingest_deduplicated_lines_total', labels, c.replayed - this.reported.replayed);
    }
    let invalid = 0;
    for (const n of c.invalid.values()) invalid += n;
    if (invalid > this.reported.invalid) o.telemetry.add('tidewatch_events_dropped_total', { ...labels, reason: 'invalid' }, invalid - this.reported.invalid);
    if (c.streamOverflow > this.reported.overflow) o.telemetry.add('tidewatch_ingest_stream_overflow_total', labels, c.streamOverflow - this.reported.overflow);
    const late = this.core.late;
    if (late > this.reported.late) o.telemetry.add('tidewatch_window_late_events_total', labels, late - this.reported.late);
    this.reported = { lines: c.lines, replayed: c.replayed, points: c.points, invalid, overflow: c.streamOverflow, late };
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

function kafkaMessage(m: { key?: Buffer | string; value: Buffer; headers?: Record<string, string> }): { key?: Buffer | string; value: Buffer; headers?: Record<string, string> } {
  return { ...(m.key !== undefined ? { key: m.key } : {}), value: m.value, ...(m.headers !== undefined ? { headers: m.headers } : {}) };
}

function toInMessage(topic: string, partition: number, m: { key: Buffer | null; value: Buffer | null; headers?: Record<string, unknown>; offset: string; timestamp: string }): InMessage {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(m.headers ?? {})) {
    const one: unknown = Array.isArray(v) ? v[v.length - 1] : v;
    if (typeof one === 'string') headers[k] = one;
    else if (Buffer.isBuffer(one)) headers[k] = one.toString('utf8');
  }
  return { topic, partition, offset: m.offset, key: m.key, value: m.value ?? Buffer.alloc(0), headers, timestamp: Number(m.timestamp) };
}
