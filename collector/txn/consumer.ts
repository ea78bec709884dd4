/**
 * Kafka consumer pieces shared by the collector's stages (ingest, rules, catalog) and their
 * compacted-topic readers: one consumer configuration, and header decoding.
 */
import type { Consumer, Kafka } from 'kafkajs';

export interface ReadCommittedConsumerOptions {
  groupId: string;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  /** Absent: kafkajs's default. */
  maxBytesPerPartition?: number;
}

/**
 * A consumer that sees only committed transactions (the stages write transactionally; a reader
 * of their output must not see an aborted or open one), never creates topics (a typo must not
 * make an empty one), and retries without end (a broker outage is waited out, not a crash).
 */
export function readCommittedConsumer(kafka: Kafka, o: ReadCommittedConsumerOptions): Consumer {
  return kafka.consumer({
    groupId: o.groupId,
    readUncommitted: false,
    allowAutoTopicCreation: false,
    sessionTimeout: o.sessionTimeoutMs,
    heartbeatInterval: o.heartbeatIntervalMs,
    ...(o.maxBytesPerPartition !== undefined ? { maxBytesPerPartition: o.maxBytesPerPartition } : {}),
    retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 300, maxRetryTime: 5000 },
  });
}

/** A header value as text: the last one when repeated; undefined when absent or not text. */
export function headerText(v: unknown): string | undefined {
  const one: unknown = Array.isArray(v) ? v[v.length - 1] : v;
  if (typeof one === 'string') return one;
  if (Buffer.isBuffer(one)) return one.toString('utf8');
  return undefined;
}

/** A fetched message's headers as text (see headerText); headers with no text value are left out. */
export function headersOf(h: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h ?? {})) {
    const t = headerText(v);
    if (t !== undefined) out[k] = t;
  }
  return out;
}
