/**
 * Kafka options shared by the agent's `kafka` sink and the collector's `kafka` source: the
 * connection (brokers, TLS, SASL, timeouts) and the topic layout (prefix, partitions,
 * replication, retention). Both components read them through the schemas below, so one YAML
 * block means the same in every role, and every client built from it (producer, consumers,
 * admin, transactional producers) carries the same security settings.
 */
import { readFile } from 'node:fs/promises';
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import type { SASLOptions } from 'kafkajs';
import type { ConnectionOptions } from 'node:tls';
import { TidewatchError } from '../errors.js';
import type { TopicSpec } from '../transport.js';
import type { KafkaTransportOptions } from './kafka.js';

export const KafkaTlsSchema = Type.Object(
  {
    ca_file: Type.Optional(Type.String({ minLength: 1, description: 'PEM file of the CA(s) that signed the brokers\' certificates; absent: the system CAs.' })),
    cert_file: Type.Optional(Type.String({ minLength: 1, description: 'PEM client certificate, for brokers that require mutual TLS.' })),
    key_file: Type.Optional(Type.String({ minLength: 1, description: 'PEM private key of cert_file.' })),
    server_name: Type.Optional(Type.String({ minLength: 1, description: 'Name to verify the brokers\' certificates against, when it is not the host in brokers.' })),
    insecure_skip_verify: Type.Boolean({ default: false, description: 'Accept any broker certificate. Only for tests: it gives up the point of TLS.' }),
  },
  { additionalProperties: false, description: 'TLS to the brokers; present means on.' },
);

export const KafkaSaslSchema = Type.Object(
  {
    mechanism: Type.Union([Type.Literal('plain'), Type.Literal('scram-sha-256'), Type.Literal('scram-sha-512')], {
      description: 'SASL mechanism the brokers\' listener enables; PLAIN only over TLS.',
    }),
    username: Type.String({ minLength: 1, description: 'SASL user (use ${ENV_VAR} rather than writing it here).' }),
    password: Type.String({ description: 'SASL password (use ${ENV_VAR}).' }),
  },
  { additionalProperties: false, description: 'SASL authentication to the brokers.' },
);

export const TopicLayoutSchema = Type.Object(
  {
    create: Type.Boolean({ default: true, description: 'Create the topics this role uses when they are missing; existing topics are never altered.' }),
    partitions: Type.Integer({ default: 6, minimum: 1, maximum: 10_000, description: 'Partitions of a created topic: the most collector instances that share one topic\'s work.' }),
    replication_factor: Type.Integer({
      default: 0,
      minimum: 0,
      maximum: 16,
      description: 'Replicas of a created topic; 0 means min(3, brokers in the cluster), what Kafka\'s documentation recommends for durability.',
    }),
    min_insync_replicas: Type.Integer({
      default: 0,
      minimum: 0,
      maximum: 16,
      description: 'min.insync.replicas of a created topic; 0 means min(2, replication factor), so acks=all survives losing one replica without losing data.',
    }),
    retention_ms: Type.Integer({ default: 604_800_000, minimum: -1, description: 'retention.ms of created logs, metrics and rollups topics (the raw-log retention); -1 keeps forever.' }),
  },
  { additionalProperties: false, description: 'How missing topics are created.' },
);

/** Connection and layout options, spread into each Kafka component's schema. */
export const KafkaCommonOptions = {
  brokers: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'Bootstrap brokers, host:port.' }),
  client_id: Type.String({ default: 'tidewatch', minLength: 1, description: 'Kafka client.id: shows in broker logs and quotas.' }),
  tls: Type.Optional(KafkaTlsSchema),
  sasl: Type.Optional(KafkaSaslSchema),
  connection_timeout_ms: Type.Integer({ default: 3000, minimum: 100, description: 'TCP + TLS connect timeout per broker.' }),
  request_timeout_ms: Type.Integer({ default: 30_000, minimum: 1000, description: 'Longest wait for one broker answer.' }),
  topic_prefix: Type.String({ default: 'tidewatch.', pattern: '^[A-Za-z0-9._-]*$', description: 'Prefix of every topic name (logs, metrics, rollups, alerts, patterns, agents, state).' }),
  topics: Type.Optional(TopicLayoutSchema),
};

const CommonSchema = Type.Object(KafkaCommonOptions);
export type KafkaCommonConfig = Static<typeof CommonSchema>;
export type TopicLayout = Static<typeof TopicLayoutSchema>;

export const TOPIC_KINDS = ['logs', 'metrics', 'rollups', 'alerts', 'patterns', 'agents', 'state'] as const;
export type TopicKind = (typeof TOPIC_KINDS)[number];
/** Topics whose records are latest-state-per-key: compaction keeps the last one. */
const COMPACTED: ReadonlySet<TopicKind> = new Set(['alerts', 'patterns', 'agents', 'state']);

export function topicName(prefix: string, kind: TopicKind): string {
  return `${prefix}${kind}`;
}

/** Layout defaults when the `topics` block is absent. */
export function layoutOf(cfg: Pick<KafkaCommonConfig, 'topics'>): TopicLayout {
  return cfg.topics ?? { create: true, partitions: 6, replication_factor: 0, min_insync_replicas: 0, retention_ms: 604_800_000 };
}

/**
 * Specs of the topics of `kinds`, for Transport.ensureTopics. `brokers` is the cluster's size
 * now (replication factor 0 = min(3, brokers)). The state topic has the logs topic's partition
 * count: the ingest stage writes the dedup state of input partition p to state partition p.
 */
export function topicSpecs(prefix: string, layout: TopicLayout, kinds: readonly TopicKind[], brokers: number): TopicSpec[] {
  const rf = layout.replication_factor > 0 ? layout.replication_factor : Math.max(1, Math.min(3, brokers));
  const isr = layout.min_insync_replicas > 0 ? layout.min_insync_replicas : Math.max(1, Math.min(2, rf));
  return kinds.map((kind) => {
    const configs: Record<string, string> = { 'min.insync.replicas': String(isr) };
    if (COMPACTED.has(kind)) configs['cleanup.policy'] = 'compact';
    else configs['retention.ms'] = String(layout.retention_ms);
    return { name: topicName(prefix, kind), partitions: layout.partitions, replicationFactor: rf, configs };
  });
}

/**
 * Transport options from the YAML options; reads the TLS files (at start, not at config load,
 * so a rotated certificate is picked up by a restart). Fails with TW_CONFIG_READ naming the file.
 */
export async function transportOptions(cfg: KafkaCommonConfig, extra: Partial<KafkaTransportOptions> = {}): Promise<KafkaTransportOptions> {
  const opts: KafkaTransportOptions = {
    brokers: cfg.brokers,
    clientId: cfg.client_id,
    connectionTimeoutMs: cfg.connection_timeout_ms,
    requestTimeoutMs: cfg.request_timeout_ms,
    ...extra,
  };
  if (cfg.tls !== undefined) opts.ssl = await tlsOptions(cfg.tls);
  if (cfg.sasl !== undefined) opts.sasl = { mechanism: cfg.sasl.mechanism, username: cfg.sasl.username, password: cfg.sasl.password } as SASLOptions;
  return opts;
}

async function tlsOptions(t: Static<typeof KafkaTlsSchema>): Promise<ConnectionOptions> {
  const read = async (file: string): Promise<string> => {
    try {
      return await readFile(file, 'utf8');
    } catch (err) {
      throw new TidewatchError('TW_CONFIG_READ', `kafka tls: cannot read ${file}: ${(err as Error).message}`, { file }, { cause: err });
    }
  };
  const o: ConnectionOptions = { rejectUnauthorized: !t.insecure_skip_verify };
  if (t.ca_file !== undefined) o.ca = [await read(t.ca_file)];
  if (t.cert_file !== undefined) o.cert = await read(t.cert_file);
  if (t.key_file !== undefined) o.key = await read(t.key_file);
  if (t.server_name !== undefined) o.servername = t.server_name;
  return o;
}
