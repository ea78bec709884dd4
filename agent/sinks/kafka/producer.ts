/**
 * The `kafka` sink's producer: one idempotent kafkajs producer (acks=all) that sends a whole
 * request of several topics' messages at once, compressed with the sink's codec.
 *
 * Why the sink has its own rather than KafkaTransport.publish: the sink is the agent's hot path
 * and needs what the shared transport does not offer: the LZ4 codec, a faster gzip, and one
 * produce request for several topics. Connection, TLS, SASL, retries and logging come from the
 * same createKafkaClient, the producer's lifecycle from the same ProducerSlot, and failures map
 * to the same TidewatchErrors (mapError), so the sink's contract is the transport's: `send`
 * resolves only when the brokers acknowledged every message, rejects with
 * TW_TRANSPORT_UNAVAILABLE (retriable: the caller keeps its data and tries again) or
 * TW_TRANSPORT_REJECTED.
 *
 * kafkajs serialises an idempotent producer's requests to one broker (a lock held until the
 * answer), so more than one request in flight per broker is not possible here; the sink keeps
 * the pipe full by sending large requests while the next ones are being framed and encoded.
 */
import { CompressionTypes } from '../../../core/kafkajs.js';
import type { Message, Producer } from 'kafkajs';
import { TidewatchError } from '../../../core/errors.js';
import type { Telemetry } from '../../../core/telemetry.js';
import type { OutMessage } from '../../../core/transport.js';
import { ProducerSlot, createKafkaClient, kafkaRetry, mapError } from '../../../core/transports/kafka.js';
import type { KafkaTransportOptions } from '../../../core/transports/kafka.js';

export type SinkCompression = 'lz4' | 'gzip' | 'none';

const TYPES: Record<SinkCompression, CompressionTypes> = { lz4: CompressionTypes.LZ4, gzip: CompressionTypes.GZIP, none: CompressionTypes.None };

export interface SinkProducerOptions {
  client: KafkaTransportOptions;
  compression: SinkCompression;
  /** How long a broker may wait for the in-sync replicas (acks=all) before failing a request. */
  ackTimeoutMs: number;
  telemetry?: Telemetry;
}

export class SinkProducer {
  private readonly producers: ProducerSlot;
  private stopped = false;

  constructor(private readonly opts: SinkProducerOptions) {
    // Bounded like the transport's (8 retries, about half a minute): `send` rejects while the
    // brokers are away and the sink retries with its own backoff, forever. The client registers
    // the LZ4 and level-1 gzip codecs (core/kafka-codecs.ts).
    const retry = kafkaRetry(opts.client);
    this.producers = new ProducerSlot(createKafkaClient(opts.client, retry), retry);
  }

  /** Connects, so a wrong broker list shows at start; rejects with TW_TRANSPORT_UNAVAILABLE (then `send` connects again). */
  async connect(): Promise<void> {
    await this.get();
  }

  /**
   * One produce request (per leader broker) with every topic's messages, each topic's in the
   * given order. Resolves when all are acknowledged (acks=all). The caller keeps ownership of
   * the messages; their Buffers are handed to kafkajs as they are, not copied.
   */
  async send(batches: readonly { topic: string; messages: readonly OutMessage[] }[]): Promise<void> {
    if (this.stopped) throw new TidewatchError('TW_STOPPED', 'kafka sink producer is stopped');
    const topicMessages = batches.filter((b) => b.messages.length > 0).map((b) => ({ topic: b.topic, messages: b.messages.map(toKafkaMessage) }));
    if (topicMessages.length === 0) return;
    const producer = await this.get();
    try {
      await producer.sendBatch({ topicMessages, acks: -1, timeout: this.opts.ackTimeoutMs, compression: TYPES[this.opts.compression] });
    } catch (err) {
      const topics = topicMessages.map((t) => t.topic).join(', ');
      const mapped = mapError(err, `publish to ${topics}`);
      for (const t of topicMessages) this.opts.telemetry?.add('tidewatch_transport_publish_errors_total', { transport: 'kafka', topic: t.topic, code: mapped.code });
      // After a send that gave up, a fresh producer (new producer id) starts clean.
      if (mapped.retriable) this.producers.drop(producer);
      throw mapped;
    }
    for (const t of topicMessages) this.opts.telemetry?.add('tidewatch_transport_published_total', { transport: 'kafka', topic: t.topic }, t.messages.length);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.producers.stop();
  }

  private get(): Promise<Producer> {
    if (this.stopped) return Promise.reject(new TidewatchError('TW_STOPPED', 'kafka sink producer is stopped'));
    return this.producers.get();
  }
}

function toKafkaMessage(m: OutMessage): Message {
  const k: Message = { value: m.value };
  if (m.key !== undefined) k.key = m.key;
  if (m.headers !== undefined) k.headers = m.headers;
  if (m.partition !== undefined) k.partition = m.partition;
  return k;
}
