/**
 * `kafka` source (collector): the collector's two stages over Kafka (DESIGN.md).
 *
 * - stage `ingest`: consumer group `<group_id>.ingest` over the logs and metrics topics, one
 *   transactional producer per assigned input partition, exactly-once 1 s rollup partials into
 *   the rollups topic (collector/ingest/stage.ts). The deduplicated input events are also handed
 *   downstream to this source's pipelines (at-least-once there), unless `emit_events` is false.
 * - stage `rules`: consumer group `<group_id>.rules` over the rollups topic, read_committed,
 *   merging partials; each merged window update is handed downstream as a metric event
 *   (collector/ingest/rules-reader.ts), for the anomaly rules and sinks.
 * - stage `catalog`: consumer group `<group_id>.catalog` over the pattern observations topic
 *   that `patterns` sinks publish, one transactional producer per partition, the one writer of
 *   each pattern's record in the compacted patterns topic (collector/catalog/stage.ts).
 * - `all` (default) runs all three. `tidewatch collector --stage S` narrows every kafka source to S.
 *
 * Topics are created when missing (logs, metrics, rollups, alerts, patterns, agents, state, and
 * pattern-observations for the catalog stage).
 */
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import type { Source, SourceContext, SourceFactory } from '../../core/component.js';
import { KafkaTransport, createKafkaClient } from '../../core/transports/kafka.js';
import { KafkaCommonOptions, TOPIC_KINDS, layoutOf, topicName, topicSpecs, transportOptions } from '../../core/transports/kafka-config.js';
import { IngestStage } from '../ingest/stage.js';
import type { IngestStageOptions } from '../ingest/stage.js';
import { TidewatchError } from '../../core/errors.js';
import type { LogRecord, MetricPoint } from '../../core/model.js';
import type { TopicSpec } from '../../core/transport.js';
import { decodeLogsRequest, decodeMetricsRequest } from '../../agent/sources/otlp/proto.js';
import { logsToEvents, metricsToEvents } from '../../agent/sources/otlp/map.js';
import { RulesReader } from '../ingest/rules-reader.js';
import { CatalogStage } from '../catalog/stage.js';
import type { MergedWindow } from '../ingest/merge.js';

export const KafkaSourceSchema = Type.Object(
  {
    ...KafkaCommonOptions,
    group_id: Type.String({ default: 'tidewatch', minLength: 1, description: 'Base of the consumer groups (<group_id>.ingest, <group_id>.rules, <group_id>.catalog) and transactional ids; collectors with one group_id share the work.' }),
    stage: Type.Union([Type.Literal('all'), Type.Literal('ingest'), Type.Literal('rules'), Type.Literal('catalog'), Type.Literal('off')], {
      default: 'all',
      description: 'Which stage this source runs: ingest, rules, catalog (the pattern catalog\'s single writer) or all; off does nothing (what --stage sets when it names another stage).',
    }),
    logs_topic: Type.Optional(Type.String({ minLength: 1, description: 'Logs topic the ingest stage reads; default <topic_prefix>logs (otlp_logs for an OpenTelemetry Collector exporter\'s defaults).' })),
    metrics_topic: Type.Optional(Type.String({ minLength: 1, description: 'Metrics topic the ingest stage reads; default <topic_prefix>metrics.' })),
    encoding: Type.Union([Type.Literal('tidewatch'), Type.Literal('otlp_proto')], {
      default: 'tidewatch',
      description: 'How messages without the tw-wire header are read: tidewatch counts them as invalid; otlp_proto reads them as OTLP ExportLogs/MetricsServiceRequest (an OpenTelemetry Collector\'s Kafka exporter). Tidewatch messages are read either way.',
    }),
    from_beginning: Type.Boolean({ default: true, description: 'Where a group with no committed offset starts: the oldest retained data (true) or new data only.' }),
    commit_interval_ms: Type.Integer({ default: 150, minimum: 10, maximum: 10_000, description: 'Ingest transaction period: rollups become visible to read_committed readers this often.' }),
    transaction_timeout_ms: Type.Integer({
      default: 10_000,
      minimum: 1000,
      description: 'Broker-side timeout of an ingest transaction: a collector that died mid-transaction stalls read_committed readers at most this long.',
    }),
    session_timeout_ms: Type.Integer({ default: 10_000, minimum: 3000, description: 'Group session timeout: how soon a dead collector\'s partitions move to the others.' }),
    heartbeat_interval_ms: Type.Integer({ default: 1000, minimum: 100, description: 'Group heartbeat period (a third of the session timeout or less).' }),
    max_bytes_per_partition: Type.Integer({ default: 1_048_576, minimum: 1024, description: 'Largest fetch per partition: bounds the memory of a batch in flight.' }),
    partitions_consumed_concurrently: Type.Integer({ default: 4, minimum: 1, maximum: 64, description: 'Input partitions processed at the same time by one collector.' }),
    lateness_ms: Type.Integer({
      default: 5000,
      minimum: 0,
      description: 'A 1 s window closes (final partial) once the partition\'s event time is this far past its end; later lines for it are counted late.',
    }),
    max_windows: Type.Integer({ default: 100_000, minimum: 1, description: 'Open rollup windows per partition (ingest) and merged windows held (rules); beyond it data is dropped and counted.' }),
    max_streams: Type.Integer({ default: 1_000_000, minimum: 1, description: 'Stream generations whose dedup state is held; beyond it replays of new streams are not detected (counted).' }),
    emit_events: Type.Boolean({ default: true, description: 'Ingest: hand the deduplicated input events to this source\'s pipelines (parsers, miners, sinks).' }),
    observations_topic: Type.Optional(
      Type.String({ minLength: 1, description: 'Catalog: the pattern observations topic the patterns sinks publish; default <topic_prefix>pattern-observations.' }),
    ),
    catalog_commit_interval_ms: Type.Integer({
      default: 1000,
      minimum: 10,
      maximum: 60_000,
      description: 'Catalog transaction period: merged pattern records become visible to the dashboard this often.',
    }),
    max_patterns: Type.Integer({ default: 100_000, minimum: 1, description: 'Catalog: pattern records held per process; observations of further patterns are dropped and counted.' }),
    rebuild_ms: Type.Integer({ default: 60_000, minimum: 0, description: 'Rules: how much rollup history a new partition owner reads back before handing windows on.' }),
  },
  { additionalProperties: false },
);
export type KafkaSourceConfig = Static<typeof KafkaSourceSchema>;

export type Stage = KafkaSourceConfig['stage'];

/** What a source configured with `configured` runs under `collector --stage flag`. */
export function narrowStage(configured: Stage, flag: 'all' | 'ingest' | 'rules' | 'catalog'): Stage {
  if (flag === 'all' || configured === 'off') return configured;
  if (configured === 'all' || configured === flag) return flag;
  return 'off';
}

export class KafkaSource implements Source {
  private ingest: IngestStage | undefined;
  private rules: RulesReader | undefined;
  private catalog: CatalogStage | undefined;
  /** Test and bench hook: every merged window the rules stage hands on. */
  onMerged: ((w: MergedWindow, appendTime: number) => void) | undefined;

  constructor(
    private readonly config: KafkaSourceConfig,
    private readonly ctx: SourceContext,
  ) {}

  async start(): Promise<void> {
    const c = this.config;
    if (c.stage === 'off') return;
    const opts = await transportOptions(c, { log: this.ctx.log });
    const layout = layoutOf(c);
    const logsTopic = c.logs_topic ?? topicName(c.topic_prefix, 'logs');
    const metricsTopic = c.metrics_topic ?? topicName(c.topic_prefix, 'metrics');
    const observationsTopic = c.observations_topic ?? `${c.topic_prefix}pattern-observations`;
    const runCatalog = c.stage === 'all' || c.stage === 'catalog';
    const t = new KafkaTransport(opts);
    const stateTopic = topicName(c.topic_prefix, 'state');
    const catalogTopic = topicName(c.topic_prefix, 'patterns');
    let partitions: Map<string, number>;
    try {
      // One admin session: the topics made where missing, then the partition counts that the
      // state and catalog writers spread their keys over.
      const specs = (brokers: number): TopicSpec[] => {
        const out = topicSpecs(c.topic_prefix, layout, TOPIC_KINDS, brokers);
        // Configured names of the input topics (an OpenTelemetry Collector's otlp_logs, say).
        out[TOPIC_KINDS.indexOf('logs')]!.name = logsTopic;
        out[TOPIC_KINDS.indexOf('metrics')]!.name = metricsTopic;
        // Deltas, read by the catalog stage: the logs retention is ample.
        if (runCatalog) out.push({ ...out[TOPIC_KINDS.indexOf('logs')]!, name: observationsTopic });
        return out;
      };
      ({ partitions } = await t.prepare(layout.create ? specs : undefined, { partitionsOf: runCatalog ? [stateTopic, catalogTopic] : [stateTopic] }));
    } finally {
      await t.stop();
    }
    const statePartitions = partitions.get(stateTopic) ?? layout.partitions;
    const catalogPartitions = partitions.get(catalogTopic) ?? layout.partitions;
    const kafka = createKafkaClient(opts);
    const emit = (events: Parameters<SourceContext['emit']>[0]): Promise<void> => this.ctx.emit(events);
    if (c.stage === 'all' || c.stage === 'ingest') {
      this.ingest = new IngestStage({
        kafka,
        groupId: c.group_id,
        inputTopics: [logsTopic, metricsTopic],
        ...(c.encoding === 'otlp_proto' ? { decodeForeign: otlpDecoder(logsTopic, metricsTopic, () => this.ctx.now()) } : {}),
        rollupsTopic: topicName(c.topic_prefix, 'rollups'),
        stateTopic: topicName(c.topic_prefix, 'state'),
        statePartitions,
        fromBeginning: c.from_beginning,
        commitIntervalMs: c.commit_interval_ms,
        transactionTimeoutMs: c.transaction_timeout_ms,
        sessionTimeoutMs: c.session_timeout_ms,
        heartbeatIntervalMs: c.heartbeat_interval_ms,
        maxBytesPerPartition: c.max_bytes_per_partition,
        partitionsConsumedConcurrently: c.partitions_consumed_concurrently,
        latenessMs: c.lateness_ms,
        maxWindows: c.max_windows,
        maxStreams: c.max_streams,
        emit: c.emit_events ? emit : undefined,
        component: this.ctx.name,
        telemetry: this.ctx.telemetry,
        log: this.ctx.log,
      });
    }
    if (c.stage === 'all' || c.stage === 'rules') {
      this.rules = new RulesReader({
        kafka,
        groupId: c.group_id,
        rollupsTopic: topicName(c.topic_prefix, 'rollups'),
        rebuildMs: c.rebuild_ms,
        maxWindows: c.max_windows,
        sessionTimeoutMs: c.session_timeout_ms,
        heartbeatIntervalMs: c.heartbeat_interval_ms,
        emit,
        onMerged: (w, ts) => this.onMerged?.(w, ts),
        component: this.ctx.name,
        telemetry: this.ctx.telemetry,
        log: this.ctx.log,
        now: () => this.ctx.now(),
      });
    }
    if (runCatalog) {
      this.catalog = new CatalogStage({
        kafka,
        groupId: c.group_id,
        observationsTopic,
        catalogTopic: topicName(c.topic_prefix, 'patterns'),
        catalogPartitions,
        fromBeginning: true, // observations are deltas: a new group must merge every one retained
        commitIntervalMs: c.catalog_commit_interval_ms,
        transactionTimeoutMs: c.transaction_timeout_ms,
        sessionTimeoutMs: c.session_timeout_ms,
        heartbeatIntervalMs: c.heartbeat_interval_ms,
        maxBytesPerPartition: c.max_bytes_per_partition,
        partitionsConsumedConcurrently: c.partitions_consumed_concurrently,
        maxPatterns: c.max_patterns,
        component: this.ctx.name,
        telemetry: this.ctx.telemetry,
        log: this.ctx.log,
      });
    }
    // Downstream first: the rules reader and the catalog, then the ingest stage that feeds them.
    await this.rules?.start();
    await this.catalog?.start();
    await this.ingest?.start();
  }

  async stop(): Promise<void> {
    await this.ingest?.stop();
    await this.catalog?.stop();
    await this.rules?.stop();
    this.ingest = undefined;
    this.catalog = undefined;
    this.rules = undefined;
  }
}

/**
 * OTLP protobuf requests by topic: the logs topic carries ExportLogsServiceRequest, the metrics
 * topic ExportMetricsServiceRequest (what the OpenTelemetry Collector's Kafka exporter writes),
 * mapped by the OTLP receiver's own code, so the same records come out as over OTLP/HTTP.
 */
function otlpDecoder(logsTopic: string, metricsTopic: string, now: () => number): NonNullable<IngestStageOptions['decodeForeign']> {
  return (m) => {
    try {
      if (m.topic === logsTopic) return { type: 'logs', records: logsToEvents(decodeLogsRequest(m.value), { now: now(), agentId: '' }).events as LogRecord[] };
      if (m.topic === metricsTopic) return { type: 'metrics', records: metricsToEvents(decodeMetricsRequest(m.value), { now: now(), agentId: '' }).events as MetricPoint[] };
    } catch (err) {
      throw new TidewatchError('TW_WIRE_DECODE', `otlp_proto: ${(err as Error).message}`, {}, { cause: err });
    }
    throw new TidewatchError('TW_WIRE_DECODE', `otlp_proto: topic ${m.topic} is neither the logs nor the metrics topic`);
  };
}

export const kafkaSource: SourceFactory<typeof KafkaSourceSchema> = {
  type: 'kafka',
  role: 'source',
  description: 'Collector stages over Kafka: exactly-once ingest rollups (consumer group, one transaction per partition) and the rules reader.',
  schema: KafkaSourceSchema,
  create: (config, ctx) => new KafkaSource(config, ctx),
};
