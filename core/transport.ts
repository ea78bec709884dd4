/**
 * A transport carries wire-format messages between roles: the in-process bus (`tidewatch up`)
 * or Kafka. Both implement this one interface, so stages are written once (DESIGN.md).
 */

export interface OutMessage {
  /** Partitioning key; messages with one key keep their order (agent + stream for logs). */
  key?: Buffer | string;
  value: Buffer;
  headers?: Record<string, string>;
  /** Explicit partition; when absent the transport hashes the key. */
  partition?: number;
}

export interface InMessage {
  topic: string;
  partition: number;
  /** The message's offset in its partition, a decimal string (Kafka offsets are int64). */
  offset: string;
  key: Buffer | null;
  value: Buffer;
  headers: Record<string, string>;
  /** Broker or bus append time, epoch ms. */
  timestamp: number;
}

export interface ConsumedBatch {
  topic: string;
  partition: number;
  messages: InMessage[];
}

export interface SubscribeOptions {
  topics: string[];
  /** Consumer group; partitions are shared among members of one group. */
  groupId: string;
  /** Where a group with no committed offset starts. */
  fromBeginning: boolean;
  /** Only read committed transactional data (rules stage on rollups). */
  readCommitted?: boolean;
}

/**
 * Receives batches one partition at a time, in offset order. After the returned promise
 * resolves, the transport commits the offset after the batch's last message (explicit commit:
 * nothing is committed for a batch whose handler rejected; it will be delivered again).
 */
export type BatchHandler = (batch: ConsumedBatch) => Promise<void>;

export interface Subscription {
  /** Stops consuming after the batch in flight, commits what was handled, leaves the group. Idempotent. */
  close(): Promise<void>;
}

export interface TopicSpec {
  name: string;
  partitions: number;
  replicationFactor: number;
  /** Topic-level configs, e.g. { 'cleanup.policy': 'compact', 'retention.ms': '604800000' }. */
  configs?: Record<string, string>;
}

export interface Transport {
  start(): Promise<void>;
  /** Creates the topics that do not exist yet; existing topics are left as they are. */
  ensureTopics(topics: TopicSpec[]): Promise<void>;
  /**
   * Appends messages to `topic`. Resolves only when they are durable (Kafka: acks=all from the
   * in-sync replicas; bus: the subscribers' handlers have taken them). Rejects with a
   * TidewatchError (retriable or not); on rejection the caller keeps its data and may retry.
   */
  publish(topic: string, messages: OutMessage[]): Promise<void>;
  subscribe(opts: SubscribeOptions, handler: BatchHandler): Promise<Subscription>;
  /** Closes producers and subscriptions. Idempotent, safe without start. */
  stop(): Promise<void>;
}
