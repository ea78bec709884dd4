/**
 * The ingest stage over Kafka (DESIGN.md, "Exactly-once rollups"): a consumer group
 * `<group_id>.ingest` over the logs and metrics topics, shared by any number of collector
 * processes. Each assigned input partition gets a worker with its own transactional producer,
 * `transactional.id = <group_id>-ingest-<topic>-<partition>` (kafkajs has only the pre-KIP-447
 * offset commit, so fencing is per partition), and every `commit_interval_ms` one transaction
 * carries that partition's rollup partials (to the rollups topic), its changed dedup state (to
 * state partition p of the compacted state topic) and its input offset (sendOffsets to the
 * group). Either all three are visible to read_committed readers or none is. That machinery is
 * txn/partition-stage.ts (shared with the catalog stage); this file is the ingest's own part.
 *
 * Taking a partition over (first batch of a partition without a worker):
 *   1. the new producer's InitProducerId fences the previous owner: its open transaction is
 *      aborted, a commit in progress completes first;
 *   2. the committed input offset is read then (stable after 1), and the consumer seeks there;
 *   3. the dedup state of the partition is restored from the state topic (state-reader.ts);
 *   then replayed lines (offset at or below the state's) are dropped and counted.
 * A transaction that fails (broker loss, fenced) discards the worker; the next batch builds a
 * new one, which starts again from the last commit. So totals in the rollups topic equal the
 * lines written exactly, through broker failover, rebalances and kill -9 of a collector.
 */
import { randomBytes } from 'node:crypto';
import type { Kafka, KafkaMessage } from 'kafkajs';
import type { Event } from '../../core/model.js';
import type { Logger } from '../../core/log.js';
import type { Telemetry } from '../../core/telemetry.js';
import { errorCodeOf } from '../../core/errors.js';
import type { InMessage } from '../../core/transport.js';
import { encodeRollup, encodeStreamState } from '../../core/wire.js';
import { headersOf } from '../txn/consumer.js';
import { TransactionalPartitionStage, settingsOf } from '../txn/partition-stage.js';
import type { PartitionStageSettings, PartitionWork, TxnContent } from '../txn/partition-stage.js';
import { IngestCore } from './core.js';
import type { IngestCoreOptions } from './core.js';
import { createStateReader } from './state-reader.js';

// The lag gauge moved with the shared machinery; importers of it here keep working.
export { LagGauge } from '../txn/partition-stage.js';

export interface IngestStageOptions extends PartitionStageSettings {
  kafka: Kafka;
  /** The configured group_id; the consumer group is `<groupId>.ingest`. */
  groupId: string;
  inputTopics: string[];
  rollupsTopic: string;
  stateTopic: string;
  /** Partitions of the state topic (input partition p writes state partition p mod this). */
  statePartitions: number;
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
  private readonly stage: TransactionalPartitionStage<IngestPartition>;

  constructor(private readonly opts: IngestStageOptions) {
    const o = opts;
    const group = `${o.groupId}.ingest`;
    const reader = createStateReader({ kafka: o.kafka, topic: o.stateTopic, groupPrefix: group, maxStreams: o.maxStreams });
    this.stage = new TransactionalPartitionStage<IngestPartition>({
      kafka: o.kafka,
      name: 'ingest',
      groupId: o.groupId,
      topics: o.inputTopics,
      labelTopic: true,
      ...settingsOf(o),
      restoreReader: reader,
      open: async ({ topic, partition, instance, heartbeat }) => {
        const statePartition = partition % o.statePartitions;
        const state = await reader.restore(statePartition, statePartition, heartbeat);
        const session = randomBytes(4).toString('hex');
        const core = new IngestCore({
          sourceInstance: `${instance}:${topic}-${partition}@${session}`,
          latenessMs: o.latenessMs,
          maxWindows: o.maxWindows,
          maxStreams: o.maxStreams,
          state,
          ...(o.decodeForeign !== undefined ? { decodeForeign: o.decodeForeign } : {}),
        });
        return { work: new IngestPartition(this.opts, topic, partition, statePartition, core), fields: { streams: state.size } };
      },
      component: o.component,
      telemetry: o.telemetry,
      log: o.log,
    });
  }

  get consumerGroup(): string {
    return this.stage.group;
  }

  async start(): Promise<void> {
    await this.stage.start();
  }

  /** Commits what every worker holds, then leaves the group. Idempotent. */
  async stop(): Promise<void> {
    await this.stage.stop();
  }
}

/**
 * One ownership of an input partition: the dedup state and rollups (IngestCore), the events
 * handed downstream, and the counters reported so far.
 */
class IngestPartition implements PartitionWork {
  private gapLogged = false;
  private reported = { lines: 0, replayed: 0, points: 0, invalid: 0, overflow: 0, late: 0 };

  constructor(
    private readonly opts: IngestStageOptions,
    private readonly topic: string,
    private readonly partition: number,
    private readonly statePartition: number,
    private readonly core: IngestCore,
  ) {}

  async take(messages: KafkaMessage[], position: bigint): Promise<(() => void) | undefined> {
    const o = this.opts;
    const first = BigInt(messages[0]!.offset);
    if (first > position && !this.gapLogged) {
      // Input topics have no transaction markers, so offsets are contiguous: a batch starting
      // past the position skips messages. Logged once per worker, to be seen, not to flood.
      this.gapLogged = true;
      o.log.warn('ingest: batch starts past the partition position', { topic: this.topic, partition: this.partition, position: position.toString(), first: first.toString() });
    }
    // Metric points have no identity to dedup them by: the stage's position keeps replays out.
    const f = this.core.filter(messages.map((m) => toInMessage(this.topic, this.partition, m)));
    if (o.emit !== undefined && f.events.length > 0) {
      try {
        await o.emit(f.events);
      } catch (err) {
        // Downstream refused: nothing is counted; the batch comes again.
        o.telemetry.add('tidewatch_ingest_errors_total', { component: o.component, code: errorCodeOf(err), op: 'emit' });
        await new Promise((r) => setTimeout(r, 200));
        return undefined;
      }
    }
    return () => f.apply();
  }

  prepare(): TxnContent | undefined {
    const snap = this.core.snapshot();
    if (snap === undefined) return undefined;
    const o = this.opts;
    const topicMessages = [];
    if (snap.partials.length > 0) topicMessages.push({ topic: o.rollupsTopic, messages: snap.partials.map((p) => kafkaMessage(encodeRollup(p))) });
    if (snap.states.length > 0) {
      topicMessages.push({ topic: o.stateTopic, messages: snap.states.map((s) => ({ ...kafkaMessage(encodeStreamState(s)), partition: this.statePartition })) });
    }
    return {
      topicMessages,
      nextOffset: BigInt(snap.nextOffset),
      committed: (elapsedMs) => {
        this.core.committed(snap.nextOffset);
        o.telemetry.add('tidewatch_ingest_partials_total', { component: o.component }, snap.partials.length);
        o.telemetry.set('tidewatch_ingest_last_commit_ms', { component: o.component, topic: this.topic }, elapsedMs);
      },
    };
  }

  report(): void {
    const o = this.opts;
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
}

function kafkaMessage(m: { key?: Buffer | string; value: Buffer; headers?: Record<string, string> }): { key?: Buffer | string; value: Buffer; headers?: Record<string, string> } {
  return { ...(m.key !== undefined ? { key: m.key } : {}), value: m.value, ...(m.headers !== undefined ? { headers: m.headers } : {}) };
}

function toInMessage(topic: string, partition: number, m: KafkaMessage): InMessage {
  return { topic, partition, offset: m.offset, key: m.key, value: m.value ?? Buffer.alloc(0), headers: headersOf(m.headers), timestamp: Number(m.timestamp) };
}
