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
 * Readers are read_committed. That machinery is txn/partition-stage.ts (shared with the ingest
 * stage); this file is the catalog's own part: the merge (CatalogCore) and what it writes.
 *
 * Taking a partition over (first batch of a partition without a worker):
 *   1. the new producer's InitProducerId fences the previous owner: its open transaction is
 *      aborted, a commit in progress completes first, and it can commit nothing after;
 *   2. the committed input offset is read then (stable after 1), and the consumer seeks there;
 *   3. the partition's catalog records are restored from the catalog topic (reader.ts),
 *      which holds exactly what the committed offsets account for.
 * A transaction that fails (broker loss, fenced) discards the worker; the next batch builds a
 * new one from the last commit. So the merged counts equal the observed counts exactly, through
 * rebalances and restarts of the stage, and a restart resumes from the compacted topic.
 */
import type { Kafka, KafkaMessage } from 'kafkajs';
import { Partitioners } from '../../core/kafkajs.js';
import { errorCodeOf } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import type { Telemetry } from '../../core/telemetry.js';
import { encodePattern } from '../../core/wire.js';
import { headersOf } from '../txn/consumer.js';
import { TransactionalPartitionStage, settingsOf } from '../txn/partition-stage.js';
import type { PartitionStageSettings, PartitionWork, TxnContent } from '../txn/partition-stage.js';
import { CatalogCore, type CatalogCounters } from './core.js';
import { CATALOG_SOURCE_HEADER, createCatalogReader } from './reader.js';
import { decodeObservation, encodeObservation } from './observation.js';

export interface CatalogStageOptions extends PartitionStageSettings {
  kafka: Kafka;
  /** The configured group_id; the consumer group is `<groupId>.catalog`. */
  groupId: string;
  observationsTopic: string;
  catalogTopic: string;
  /** Partitions of the catalog topic (observations partition p writes catalog partition p mod this). */
  catalogPartitions: number;
  /** Catalog records held by this process (its workers' and the restore reader's, each). */
  maxPatterns: number;
  component: string;
  telemetry: Telemetry;
  log: Logger;
}

export class CatalogStage {
  private readonly stage: TransactionalPartitionStage<CatalogPartition>;

  constructor(readonly opts: CatalogStageOptions) {
    const o = opts;
    const reader = createCatalogReader({ kafka: o.kafka, topic: o.catalogTopic, groupPrefix: `${o.groupId}.catalog`, maxPatterns: o.maxPatterns });
    this.stage = new TransactionalPartitionStage<CatalogPartition>({
      kafka: o.kafka,
      name: 'catalog',
      groupId: o.groupId,
      topics: [o.observationsTopic],
      labelTopic: false,
      ...settingsOf(o),
      // Forwards must land where the patterns sinks' producers put the key (murmur2, as Java).
      producer: { createPartitioner: Partitioners.DefaultPartitioner },
      restoreReader: reader,
      open: async ({ partition, instance, heartbeat }) => {
        const records = await reader.restore(partition, partition % o.catalogPartitions, heartbeat);
        const core = new CatalogCore({ maxPatterns: o.maxPatterns });
        for (const r of records.values()) core.restore(r);
        return { work: new CatalogPartition(o, partition, core), fields: { patterns: core.size, instance } };
      },
      component: o.component,
      telemetry: o.telemetry,
      log: o.log,
    });
  }

  /** The consumer group, `<groupId>.catalog`. */
  get group(): string {
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

/** One ownership of an observations partition: its keys' catalog records, and the counters reported so far. */
class CatalogPartition implements PartitionWork {
  private reported: CatalogCounters = { observations: 0, overflow: 0, aliasConflicts: 0, loops: 0, windowsDropped: 0 };

  constructor(
    private readonly opts: CatalogStageOptions,
    private readonly partition: number,
    private readonly core: CatalogCore,
  ) {}

  take(messages: KafkaMessage[]): Promise<() => void> {
    const o = this.opts;
    return Promise.resolve(() => {
      for (const m of messages) {
        try {
          this.core.apply(decodeObservation({ headers: headersOf(m.headers), value: m.value ?? Buffer.alloc(0) }));
        } catch (err) {
          o.telemetry.add('tidewatch_events_dropped_total', { component: o.component, reason: errorCodeOf(err) });
        }
      }
    });
  }

  prepare(position: bigint, lastCommit: bigint): TxnContent | undefined {
    if (!this.core.pending && position === lastCommit) return undefined;
    const o = this.opts;
    // Taken together, synchronously: the records account for exactly the input up to `position`.
    const { records, forwards } = this.core.drain();
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
    return {
      topicMessages,
      nextOffset: position,
      committed: () => {
        o.telemetry.add('tidewatch_catalog_records_written_total', { component: o.component }, records.length);
        if (forwards.length > 0) o.telemetry.add('tidewatch_catalog_forwards_total', { component: o.component }, forwards.length);
      },
    };
  }

  report(): void {
    const o = this.opts;
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
}
