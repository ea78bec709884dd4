/**
 * The Kafka Transport (core/transport.ts), on kafkajs 2.2.
 *
 * Publishing: one idempotent producer, acks = -1 (all in-sync replicas); `publish` resolves only
 * when the broker acknowledged every message. kafkajs retries retriable errors with backoff
 * (`retry`); when it gives up, `publish` rejects with TW_TRANSPORT_UNAVAILABLE (retriable: the
 * caller keeps its data and its checkpoint, and tries again) or TW_TRANSPORT_REJECTED (the
 * broker refused for good: authorisation, invalid topic, record too large).
 *
 * Consuming: a consumer group per `subscribe`, `eachBatch` one partition at a time, no
 * auto-commit. After the handler resolves, the offset after the batch's last message is
 * committed before the next batch of that partition is fetched. A handler that rejects gets the
 * same batch again after a backoff (nothing is committed for it), until it succeeds or the
 * subscription closes; the messages are then delivered again to whoever owns the partition next.
 * So delivery is at-least-once across crashes and rebalances, and exactly-once across orderly
 * restarts (close commits what was handled).
 */
import type { ConnectionOptions } from 'node:tls';
import { CompressionTypes, Kafka, Partitioners, logLevel } from '../kafkajs.js';
import type { Admin, Consumer, EachBatchPayload, IHeaders, LogEntry, Producer, SASLOptions } from 'kafkajs';
import { registerKafkaCodecs } from '../kafka-codecs.js';
import { TidewatchError, isTidewatchError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Telemetry } from '../telemetry.js';
import type {
  BatchHandler,
  ConsumedBatch,
  InMessage,
  OutMessage,
  SubscribeOptions,
  Subscription,
  TopicSpec,
  Transport,
} from '../transport.js';

export interface KafkaTransportOptions {
  /** Bootstrap brokers, `host:port`. */
  brokers: string[];
  clientId?: string;
  /** TLS: `true` for the system CAs, or Node TLS options (ca, cert, key, servername). Passed to kafkajs as is. */
  ssl?: boolean | ConnectionOptions;
  /** SASL (plain, scram-sha-256/512, aws, oauthbearer). Passed to kafkajs as is. */
  sasl?: SASLOptions;
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
  /**
   * kafkajs retry policy for broker requests. Bounded by default (8 retries, about half a minute)
   * so that `publish` rejects while the brokers are away instead of hanging: the caller retries.
   */
  retry?: { retries?: number; initialRetryTimeMs?: number; maxRetryTimeMs?: number };
  /** How long the broker may wait for the in-sync replicas before failing a produce request. */
  ackTimeoutMs?: number;
  compression?: 'none' | 'gzip';
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  /** Upper bound of one fetch per partition; bounds the memory of a batch in flight. */
  maxBytesPerPartition?: number;
  /** Partitions one subscription handles at the same time (each still one batch at a time, in order). */
  partitionsConsumedConcurrently?: number;
  /** Longest pause between two deliveries of a batch whose handler rejected. */
  maxHandlerBackoffMs?: number;
  /** Where kafkajs's own warnings and errors go (at warn); silent when absent. */
  log?: Logger;
  telemetry?: Telemetry;
}

/** kafkajs's retry policy for broker requests, from the transport options (defaults: 8 retries, about half a minute). */
export type KafkaRetry = { retries: number; initialRetryTime: number; maxRetryTime: number };

export function kafkaRetry(opts: KafkaTransportOptions): KafkaRetry {
  return { retries: opts.retry?.retries ?? 8, initialRetryTime: opts.retry?.initialRetryTimeMs ?? 300, maxRetryTime: opts.retry?.maxRetryTimeMs ?? 10_000 };
}

/**
 * A connected idempotent producer (acks=all implied) with the default (murmur2, Java-compatible)
 * partitioner, named so kafkajs does not warn about it: a key's messages always go to one
 * partition, in order. One request in flight: with idempotence kafkajs serialises them anyway.
 */
async function connectIdempotentProducer(kafka: Kafka, retry: KafkaRetry): Promise<Producer> {
  try {
    const p = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, retry });
    await p.connect();
    return p;
  } catch (err) {
    throw mapError(err, 'connect the producer');
  }
}

/**
 * One idempotent producer, connected on first use (callers share the connect in progress) and
 * dropped after a send that gave up: its sequence numbers may disagree with the broker's (the
 * request may have landed), so the next use connects a fresh one (new producer id). Shared by
 * the transport and the agent's kafka sink.
 */
export class ProducerSlot {
  private producer: Producer | undefined;
  private connecting: Promise<Producer> | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly retry: KafkaRetry,
  ) {}

  get(): Promise<Producer> {
    if (this.producer !== undefined) return Promise.resolve(this.producer);
    this.connecting ??= (async () => {
      let p: Producer;
      try {
        p = await connectIdempotentProducer(this.kafka, this.retry);
      } catch (err) {
        this.connecting = undefined;
        throw err;
      }
      this.producer = p;
      return p;
    })();
    return this.connecting;
  }

  /** Disconnects `p` and forgets it, unless another producer already took its place. */
  drop(p: Producer): void {
    if (this.producer !== p) return;
    this.producer = undefined;
    this.connecting = undefined;
    void p.disconnect().catch(() => undefined);
  }

  /**
   * Disconnects the producer. A connect still retrying (brokers away) is not waited for: it can
   * outlast the stop timeout; whatever it yields is disconnected once it settles.
   */
  async stop(): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    if (producer === undefined) {
      void this.connecting?.then((p) => p.disconnect()).catch(() => undefined);
      return;
    }
    await producer.disconnect().catch(() => undefined);
  }
}

/**
 * A kafkajs client with the transport's connection settings (brokers, TLS, SASL, timeouts,
 * logging): every Kafka client tidewatch makes (transport, ingest stage's transactional
 * producers and consumers, rules reader) is built here, so security options reach all of them.
 */
export function createKafkaClient(opts: KafkaTransportOptions, retry?: KafkaRetry): Kafka {
  if (opts.brokers.length === 0) throw new TidewatchError('TW_CONFIG_SCHEMA', 'kafka transport: brokers is empty');
  // Every client reads what an agent may write: LZ4 (our own frame codec) and gzip.
  registerKafkaCodecs();
  const log = opts.log;
  return new Kafka({
    clientId: opts.clientId ?? 'tidewatch',
    brokers: opts.brokers,
    ...(opts.ssl !== undefined ? { ssl: opts.ssl } : {}),
    ...(opts.sasl !== undefined ? { sasl: opts.sasl } : {}),
    connectionTimeout: opts.connectionTimeoutMs ?? 3000,
    requestTimeout: opts.requestTimeoutMs ?? 30_000,
    retry: retry ?? kafkaRetry(opts),
    logLevel: log === undefined ? logLevel.NOTHING : logLevel.WARN,
    ...(log === undefined ? {} : { logCreator: () => (entry: LogEntry) => kafkajsLog(log, entry) }),
  });
}

/** Each topic's `max.message.bytes` (the broker's default where the topic sets none), in one DescribeConfigs request. */
async function describeLimits(admin: Admin, topics: readonly string[]): Promise<Map<string, number>> {
  const res = await admin.describeConfigs({ includeSynonyms: false, resources: topics.map((name) => ({ type: 2 /* TOPIC */, name, configNames: ['max.message.bytes'] })) });
  const out = new Map<string, number>();
  for (const topic of topics) {
    const v = res.resources.find((r) => r.resourceName === topic)?.configEntries.find((e) => e.configName === 'max.message.bytes')?.configValue;
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n <= 0) throw new TidewatchError('TW_TRANSPORT_REJECTED', `kafka: topic ${topic} has no max.message.bytes`);
    out.set(topic, n);
  }
  return out;
}

/**
 * Partitions of each topic. Just after the topics were created, a broker may not know them yet
 * ("This server does not host this topic-partition"): retriable, so asked again for a while
 * (about 25 s with the backoff) rather than failing the start.
 */
async function partitionCounts(admin: Admin, topics: readonly string[]): Promise<Map<string, number>> {
  for (let attempt = 1; ; attempt++) {
    try {
      const meta = await admin.fetchTopicMetadata({ topics: [...topics] });
      return new Map(topics.map((name) => [name, Math.max(1, meta.topics.find((t) => t.name === name)?.partitions.length ?? 1)]));
    } catch (err) {
      if (!metadataRetriable(err) || attempt >= METADATA_ATTEMPTS) throw err;
      await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** attempt)));
    }
  }
}

const METADATA_ATTEMPTS = 15;

/**
 * Whether asking for a topic's metadata again may succeed: what mapError calls retriable (also
 * when kafkajs's own retries gave up), and a topic or leader the broker does not know yet, however
 * kafkajs marked it.
 */
export function metadataRetriable(err: unknown): boolean {
  const mapped = mapError(err, 'topic metadata');
  return mapped.retriable || METADATA_PENDING.has(String(mapped.details['kafka_error']));
}

const METADATA_PENDING = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE']);

/** What `KafkaTransport.prepare` found: message limits and partition counts by topic. */
export interface Prepared {
  limits: Map<string, number>;
  partitions: Map<string, number>;
}

export function createKafkaTransport(opts: KafkaTransportOptions): KafkaTransport {
  return new KafkaTransport(opts);
}

export class KafkaTransport implements Transport {
  private readonly kafka: Kafka;
  private readonly producers: ProducerSlot;
  private readonly subs = new Set<KafkaSubscription>();
  private stopped = false;

  constructor(private readonly opts: KafkaTransportOptions) {
    const retry = kafkaRetry(opts);
    this.kafka = createKafkaClient(opts, retry);
    this.producers = new ProducerSlot(this.kafka, retry);
  }

  /**
   * What a component needs of the cluster before it starts, in one admin session (one
   * connection and its handshake, where separate calls made one each, in turn: the agent's start
   * waited on four, the collector's on three): the topics `specs(brokers)` lists (`brokers`: how
   * many the cluster has now, which caps replication factors), made where missing (none when
   * `specs` is undefined); the message limit of each topic in `ask.limitsOf` (the topic's
   * `max.message.bytes`, else the broker's `message.max.bytes`), asked in one request; and the
   * partition count of each topic in `ask.partitionsOf`. Rejects with a TidewatchError when no
   * broker answers; the caller then keeps its own defaults and tries again later.
   */
  async prepare(specs: ((brokers: number) => TopicSpec[]) | undefined, ask: { limitsOf?: readonly string[]; partitionsOf?: readonly string[] } = {}): Promise<Prepared> {
    const limitsOf = ask.limitsOf ?? [];
    const partitionsOf = ask.partitionsOf ?? [];
    if (specs === undefined && limitsOf.length === 0 && partitionsOf.length === 0) return { limits: new Map(), partitions: new Map() };
    return this.withAdmin('prepare topics', async (a) => {
      if (specs !== undefined) await this.createMissing(a, specs((await a.describeCluster()).brokers.length));
      return {
        limits: limitsOf.length === 0 ? new Map<string, number>() : await describeLimits(a, limitsOf),
        partitions: partitionsOf.length === 0 ? new Map<string, number>() : await partitionCounts(a, partitionsOf),
      };
    });
  }

  /**
   * Connects the producer, so a wrong broker list shows at start. Rejects with
   * TW_TRANSPORT_UNAVAILABLE when no broker answers; the transport stays usable (publish
   * connects again), so a caller that must run while Kafka is away may log and carry on.
   */
  async start(): Promise<void> {
    await this.getProducer();
  }

  async ensureTopics(topics: TopicSpec[]): Promise<void> {
    if (topics.length === 0) return;
    await this.withAdmin(`ensure topics ${topics.map((t) => t.name).join(', ')}`, (a) => this.createMissing(a, topics));
  }

  /** Runs `fn` with a connected admin client, disconnected after; errors mapped (`what` names the call). */
  private async withAdmin<T>(what: string, fn: (admin: Admin) => Promise<T>): Promise<T> {
    this.assertRunning();
    const admin = this.kafka.admin();
    try {
      await admin.connect();
      return await fn(admin);
    } catch (err) {
      throw mapError(err, what);
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  /** Creates those of `topics` that do not exist (existing ones are left as they are). */
  private async createMissing(admin: Admin, topics: TopicSpec[]): Promise<void> {
    if (topics.length === 0) return;
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t.name));
    if (missing.length > 0) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((t) => ({
          topic: t.name,
          numPartitions: t.partitions,
          replicationFactor: t.replicationFactor,
          configEntries: Object.entries(t.configs ?? {}).map(([name, value]) => ({ name, value })),
        })),
      });
    }
    await this.warnOnDrift(admin, topics.filter((t) => existing.has(t.name)));
  }

  /** Existing topics are left as they are (DESIGN.md), but a partition count that differs from the config is worth a line. */
  private async warnOnDrift(admin: Admin, topics: TopicSpec[]): Promise<void> {
    if (topics.length === 0 || this.opts.log === undefined) return;
    const meta = await admin.fetchTopicMetadata({ topics: topics.map((t) => t.name) });
    for (const t of topics) {
      const m = meta.topics.find((x) => x.name === t.name);
      if (m !== undefined && m.partitions.length !== t.partitions) {
        this.opts.log.warn('kafka topic exists with another partition count; left as it is', { topic: t.name, partitions: m.partitions.length, configured: t.partitions });
      }
    }
  }

  async publish(topic: string, messages: OutMessage[]): Promise<void> {
    if (messages.length === 0) return;
    this.assertRunning();
    const producer = await this.getProducer();
    try {
      await producer.send({
        topic,
        acks: -1,
        timeout: this.opts.ackTimeoutMs ?? 30_000,
        compression: this.opts.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None,
        messages: messages.map((m) => ({
          value: m.value,
          ...(m.key !== undefined ? { key: m.key } : {}),
          ...(m.headers !== undefined ? { headers: m.headers } : {}),
          ...(m.partition !== undefined ? { partition: m.partition } : {}),
        })),
      });
    } catch (err) {
      const mapped = mapError(err, `publish to ${topic}`);
      this.opts.telemetry?.add('tidewatch_transport_publish_errors_total', { transport: 'kafka', topic, code: mapped.code });
      // After a send that gave up, the idempotent producer's sequence numbers may disagree with
      // the broker's (the request may have landed): a fresh producer (new producer id) starts clean.
      if (mapped.retriable) this.producers.drop(producer);
      throw mapped;
    }
    this.opts.telemetry?.add('tidewatch_transport_published_total', { transport: 'kafka', topic }, messages.length);
  }

  async subscribe(opts: SubscribeOptions, handler: BatchHandler): Promise<Subscription> {
    this.assertRunning();
    const consumer = this.kafka.consumer({
      groupId: opts.groupId,
      readUncommitted: !(opts.readCommitted ?? false),
      allowAutoTopicCreation: false,
      sessionTimeout: this.opts.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: this.opts.heartbeatIntervalMs ?? 3000,
      maxBytesPerPartition: this.opts.maxBytesPerPartition ?? 1_048_576,
      // The consumer's own retry (rejoin, fetch) is unbounded: a consumer waits for Kafka to come back.
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 300, maxRetryTime: 10_000 },
    });
    const sub = new KafkaSubscription(consumer, handler, this.opts, () => this.subs.delete(sub));
    this.subs.add(sub);
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: opts.topics, fromBeginning: opts.fromBeginning });
      await sub.run(this.opts.partitionsConsumedConcurrently ?? 1);
    } catch (err) {
      await sub.close().catch(() => undefined);
      throw mapError(err, `subscribe ${opts.groupId} to ${opts.topics.join(', ')}`);
    }
    return sub;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.all([...this.subs].map((s) => s.close()));
    await this.producers.stop();
  }

  private assertRunning(): void {
    if (this.stopped) throw new TidewatchError('TW_STOPPED', 'kafka transport is stopped');
  }

  private getProducer(): Promise<Producer> {
    this.assertRunning();
    return this.producers.get();
  }
}

class KafkaSubscription implements Subscription {
  private closing: Promise<void> | undefined;
  private stopRequested = false;
  /** Wakes a handler backoff early when the subscription closes. */
  private wake: (() => void) | undefined;

  constructor(
    private readonly consumer: Consumer,
    private readonly handler: BatchHandler,
    private readonly opts: KafkaTransportOptions,
    private readonly onClosed: () => void,
  ) {}

  async run(concurrency: number): Promise<void> {
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: concurrency,
      eachBatch: (payload) => this.eachBatch(payload),
    });
  }

  private async eachBatch({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale }: EachBatchPayload): Promise<void> {
    if (batch.messages.length === 0) return;
    const consumed: ConsumedBatch = {
      topic: batch.topic,
      partition: batch.partition,
      messages: batch.messages.map((m) => toInMessage(batch.topic, batch.partition, m)),
    };
    const last = batch.messages[batch.messages.length - 1]!.offset;
    // A slow handler must not cost the group membership: keep heartbeating while it runs
    // (kafkajs throttles heartbeat() to heartbeatInterval).
    const beat = setInterval(() => void heartbeat().catch(() => undefined), Math.max(500, (this.opts.heartbeatIntervalMs ?? 3000) / 2));
    beat.unref();
    try {
      let backoff = 100;
      for (;;) {
        // Not handled yet and the partition is going away (close, rebalance, seek): leave the
        // batch uncommitted for the next owner.
        if (this.stopRequested || !isRunning() || isStale()) return;
        try {
          await this.handler(consumed);
          break;
        } catch (err) {
          this.opts.telemetry?.add('tidewatch_transport_handler_errors_total', {
            transport: 'kafka',
            topic: batch.topic,
            code: isTidewatchError(err) ? err.code : 'TW_INTERNAL',
          });
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, backoff);
            t.unref();
            this.wake = () => {
              clearTimeout(t);
              resolve();
            };
          });
          this.wake = undefined;
          backoff = Math.min(backoff * 2, this.opts.maxHandlerBackoffMs ?? 5000);
        }
      }
      resolveOffset(last);
      // commitOffsetsIfNecessary(offsets) commits even while the consumer is stopping (the
      // consumer's commitOffsets() skips silently once stop began): close() relies on it.
      await commitOffsetsIfNecessary({ topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: (BigInt(last) + 1n).toString() }] }] });
      this.opts.telemetry?.add('tidewatch_transport_consumed_total', { transport: 'kafka', topic: batch.topic }, batch.messages.length);
    } finally {
      clearInterval(beat);
    }
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.stopRequested = true;
      this.wake?.();
      try {
        // disconnect() stops fetching, waits for the batch in flight (which commits), then leaves the group.
        await this.consumer.disconnect();
      } finally {
        this.onClosed();
      }
    })();
    return this.closing;
  }
}

function toInMessage(topic: string, partition: number, m: { key: Buffer | null; value: Buffer | null; headers?: IHeaders; offset: string; timestamp: string }): InMessage {
  const headers: Record<string, string> = {};
  if (m.headers !== undefined) {
    for (const [k, v] of Object.entries(m.headers)) {
      // A repeated header keeps its last value (the wire format never repeats one).
      const one = Array.isArray(v) ? v[v.length - 1] : v;
      if (one !== undefined) headers[k] = typeof one === 'string' ? one : one.toString('utf8');
    }
  }
  return {
    topic,
    partition,
    offset: m.offset,
    key: m.key,
    // A tombstone (compacted topics) has no value; it reaches the handler as empty bytes.
    value: m.value ?? Buffer.alloc(0),
    headers,
    timestamp: Number(m.timestamp),
  };
}

/** kafkajs errors → TidewatchError: retriable ones (or retries exhausted on them) are UNAVAILABLE. */
export function mapError(err: unknown, what: string): TidewatchError {
  if (isTidewatchError(err)) return err;
  let e: unknown = err;
  let retriable = false;
  let type: string | undefined;
  // KafkaJSNumberOfRetriesExceeded and friends wrap the last error in `cause` / `originalError`.
  for (let depth = 0; depth < 5 && typeof e === 'object' && e !== null; depth++) {
    const k = e as { name?: string; retriable?: boolean; type?: string; cause?: unknown; originalError?: unknown };
    type ??= k.type;
    if (k.retriable === true || /Connection|Timeout|NoBrokerAvailable|BrokerNotFound|MetadataNotLoaded/.test(k.name ?? '')) retriable = true;
    e = k.originalError ?? k.cause;
  }
  const message = err instanceof Error ? err.message : String(err);
  if (type !== undefined && NEVER_RETRIABLE.has(type)) retriable = false;
  if (type !== undefined && PRODUCER_STATE.has(type)) retriable = true;
  return new TidewatchError(retriable ? 'TW_TRANSPORT_UNAVAILABLE' : 'TW_TRANSPORT_REJECTED', `kafka: ${what}: ${message}`, type === undefined ? {} : { kafka_error: type }, {
    cause: err,
  });
}

/**
 * The idempotent producer's sequence or id no longer matches the broker's (after a broker's
 * kill -9, a request that timed out yet landed). kafkajs calls these not retriable, and a retry
 * with the same producer fails forever; they are retriable once the caller starts a fresh
 * producer (new producer id), which every caller does on a retriable error. Found by the chaos
 * suite (test/chaos/pipeline.chaos.test.ts): an agent's sink stuck for minutes on "out of order
 * sequence number" after a broker's kill -9.
 */
const PRODUCER_STATE = new Set(['OUT_OF_ORDER_SEQUENCE_NUMBER', 'UNKNOWN_PRODUCER_ID', 'INVALID_PRODUCER_EPOCH', 'INVALID_PRODUCER_ID_MAPPING']);

/** Broker answers that no retry will change. */
const NEVER_RETRIABLE = new Set([
  'TOPIC_AUTHORIZATION_FAILED',
  'GROUP_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
  'SASL_AUTHENTICATION_FAILED',
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_TOPIC_EXCEPTION',
  'INVALID_REPLICATION_FACTOR',
  'INVALID_PARTITIONS',
  'INVALID_CONFIG',
  'POLICY_VIOLATION',
  'UNSUPPORTED_VERSION',
]);

function kafkajsLog(log: Logger, { namespace, level, log: entry }: LogEntry): void {
  if (level > logLevel.WARN) return;
  const { message, timestamp: _t, logger: _l, ...fields } = entry as { message: string; timestamp?: string; logger?: string } & Record<string, unknown>;
  // Bounded retries are deliberate (publish must reject while brokers are away; the caller
  // retries, a fresh producer starts clean, and the ingest stage drops replayed lines by offset).
  if (message.startsWith('Limiting retries for the idempotent producer')) return;
  log.warn(`kafkajs: ${message}`, { namespace, ...fields });
}
