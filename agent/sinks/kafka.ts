/**
 * `kafka` sink: ships events to Kafka in wire format v1 (docs/wire-format.md).
 *
 * - Logs go to `<prefix>logs`, one message per stream batch (key `<agent_id>/<stream_id>`, so a
 *   file's lines stay in one partition, in order); metrics to `<prefix>metrics`; the agent's
 *   heartbeat records to `<prefix>agents` (compacted, keyed by agent id). Every message carries
 *   the `tw-wire` version header.
 * - Writes from many emits share one produce request: a request goes out when `batch_bytes` are
 *   waiting or `linger_ms` after the first one, one request in flight at a time (order kept
 *   across retries), through the transport's idempotent producer with acks=all.
 * - `write` resolves only when Kafka acknowledged everything it was given (the file source's
 *   checkpoint advances then), or, with the disk buffer, when the batch is fsynced there.
 * - The sink never gives up: a failed request is retried with backoff until it succeeds or the
 *   sink stops (errors counted in tidewatch_kafka_sink_errors_total by code). Nothing becomes a
 *   poison pill: every message is sized against the broker's limit for the topic before it is
 *   sent; batches are split to fit, and a single line longer than the limit is truncated
 *   (tidewatch_kafka_truncated_total) so that the rest of its stream goes on. A request's record
 *   batches fit too: uncompressed, or when a compressed one was refused, a topic's messages go in
 *   sends of at most the limit.
 */
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import type { ComponentContext, Sink, SinkFactory } from '../../core/component.js';
import { encodeEvents } from '../../core/codec.js';
import { TidewatchError, errorCodeOf, isTidewatchError } from '../../core/errors.js';
import type { Event, LogRecord, MetricPoint } from '../../core/model.js';
import { AttrKeys } from '../../core/model.js';
import type { OutMessage } from '../../core/transport.js';
import { KafkaTransport } from '../../core/transports/kafka.js';
import { KafkaCommonOptions, layoutOf, topicName, topicSpecs, transportOptions } from '../../core/transports/kafka-config.js';
import type { TopicKind } from '../../core/transports/kafka-config.js';
import type { TopicSpec } from '../../core/transport.js';
import { encodeHeartbeat, encodeLineBlock } from '../../core/wire.js';
import { within } from '../../core/within.js';
import type { LineBlock } from '../../core/line-block.js';
import { DiskBuffer } from './kafka/buffer.js';
import type { BufferedGroup } from './kafka/buffer.js';
import { encodeOtlpLogs, encodeOtlpMetrics } from './kafka/otlp.js';
import { SinkProducer } from './kafka/producer.js';

const BufferSchema = Type.Object(
  {
    type: Type.Union([Type.Literal('memory'), Type.Literal('disk')], {
      default: 'memory',
      description: 'memory: a write is confirmed when Kafka acknowledged it (sources wait during an outage); disk: when it is fsynced to the buffer under data_dir, which drains to Kafka in order.',
    }),
    max_bytes: Type.Integer({ default: 268_435_456, minimum: 65_536, description: 'Disk buffer size limit (all segments).' }),
    segment_bytes: Type.Integer({ default: 8_388_608, minimum: 4096, description: 'Size at which a disk buffer segment is closed and a new one begun; whole drained segments are deleted.' }),
    when_full: Type.Union([Type.Literal('block'), Type.Literal('drop_oldest')], {
      default: 'block',
      description: 'block: writes wait for room (sources slow down, files keep their place); drop_oldest: the oldest segment is deleted and its records counted as dropped.',
    }),
  },
  { additionalProperties: false, description: 'Where batches wait while Kafka is unreachable.' },
);

export const KafkaSinkSchema = Type.Object(
  {
    ...KafkaCommonOptions,
    logs_topic: Type.Optional(Type.String({ minLength: 1, description: 'Topic of log batches; default <topic_prefix>logs.' })),
    metrics_topic: Type.Optional(Type.String({ minLength: 1, description: 'Topic of metric batches; default <topic_prefix>metrics.' })),
    agents_topic: Type.Optional(Type.String({ minLength: 1, description: 'Topic of heartbeats (compacted); default <topic_prefix>agents.' })),
    encoding: Type.Union([Type.Literal('tidewatch'), Type.Literal('otlp_proto')], {
      default: 'tidewatch',
      description: 'Logs and metrics as tidewatch wire format v1, or as one OTLP ExportLogsServiceRequest / ExportMetricsServiceRequest per message (readable by an OpenTelemetry Collector\'s Kafka receiver, encoding otlp_proto); heartbeats stay in the wire format.',
    }),
    compression: Type.Union([Type.Literal('lz4'), Type.Literal('gzip'), Type.Literal('none')], {
      default: 'gzip',
      description:
        'Codec of produce requests. gzip (level 1) is read by every Kafka client; lz4 (tidewatch\'s own LZ4 frame codec) needs consumers with an LZ4 codec (librdkafka, Java clients, kafkajs with core/kafka-codecs.ts registered); snappy and zstd are not offered (native codecs).',
    }),
    max_message_bytes: Type.Integer({
      default: 900_000,
      minimum: 4096,
      description: 'Largest message (one stream batch) sent; lowered to the topic\'s max.message.bytes when the broker says it is smaller.',
    }),
    batch_bytes: Type.Integer({ default: 1_048_576, minimum: 1, description: 'A produce request is sent once this many bytes wait (many messages per request).' }),
    linger_ms: Type.Integer({ default: 5, minimum: 0, description: 'Longest wait for more writes before a produce request goes out; trades a little latency for fewer requests.' }),
    max_request_bytes: Type.Integer({ default: 4_194_304, minimum: 4096, description: 'Most bytes in one produce request (several requests when more wait); uncompressed, a topic\'s part of it also fits the broker\'s max.message.bytes.' }),
    max_pending_bytes: Type.Integer({ default: 16_777_216, minimum: 65_536, description: 'Bytes accepted and not yet acknowledged; writes wait beyond it (backpressure, bounded memory).' }),
    ack_timeout_ms: Type.Integer({ default: 30_000, minimum: 1000, description: 'How long a broker may wait for the in-sync replicas (acks=all) before failing a request.' }),
    retry_backoff_ms: Type.Integer({ default: 200, minimum: 1, description: 'First pause after a failed request; doubles up to retry_backoff_max_ms. Retries never stop.' }),
    retry_backoff_max_ms: Type.Integer({ default: 5000, minimum: 1, description: 'Longest pause between two tries of a failed request.' }),
    buffer: Type.Optional(BufferSchema),
  },
  { additionalProperties: false },
);
export type KafkaSinkConfig = Static<typeof KafkaSinkSchema>;

/** Bytes kept free under the broker's limit for the record batch's own framing and headers. */
const FRAMING_BYTES = 1024;
/** Beyond its key, value and headers, a record in a v2 record batch takes at most this many bytes (length, attributes, time and offset deltas, varint sizes). */
const RECORD_OVERHEAD = 48;
/** How long requests stay split to fit uncompressed after the broker refused a compressed one as too large. */
const FIT_MS = 60_000;
/** Start waits for Kafka at most connection_timeout_ms plus this (topic creation included). */
const START_GRACE_MS = 2000;

/** One topic's encoded messages, of `events` events. */
interface Group {
  topic: string;
  messages: OutMessage[];
  bytes: number;
  events: number;
}

interface Entry extends Group {
  done: () => void;
  fail: (err: unknown) => void;
}

export class KafkaSink implements Sink {
  /** Admin requests only (topics, limits); messages go through `producer`. */
  private transport: KafkaTransport | undefined;
  private producer: SinkProducer | undefined;
  private readonly topics: Record<'logs' | 'metrics' | 'agents', string>;
  private readonly queue: Entry[] = [];
  private queuedBytes = 0;
  private readonly spaceWaiters: (() => void)[] = [];
  private sending: Promise<void> | undefined;
  private lingerTimer: NodeJS.Timeout | undefined;
  private limit: number;
  private limitKnown = false;
  /** Until then, requests are split to fit the broker's limit uncompressed (see publishGroups). */
  private fitUntil = 0;
  private topicsReady = false;
  private stopping = false;
  private wakeBackoff: (() => void) | undefined;
  private buffer: DiskBuffer | undefined;
  /** Memory mode: the entries of the request being sent. */
  private inflight: Entry[] = [];

  constructor(
    private readonly config: KafkaSinkConfig,
    private readonly ctx: ComponentContext,
  ) {
    const p = config.topic_prefix;
    this.topics = {
      logs: config.logs_topic ?? topicName(p, 'logs'),
      metrics: config.metrics_topic ?? topicName(p, 'metrics'),
      agents: config.agents_topic ?? topicName(p, 'agents'),
    };
    this.limit = config.max_message_bytes;
  }

  async start(): Promise<void> {
    const opts = await transportOptions(this.config, {
      ackTimeoutMs: this.config.ack_timeout_ms,
      log: this.ctx.log,
      telemetry: this.ctx.telemetry,
    });
    this.transport = new KafkaTransport(opts);
    this.producer = new SinkProducer({ client: opts, compression: this.config.compression, ackTimeoutMs: this.config.ack_timeout_ms, telemetry: this.ctx.telemetry });
    if (this.config.buffer?.type === 'disk') {
      const b = this.config.buffer;
      this.buffer = new DiskBuffer({
        dir: join(this.ctx.dataDir, 'sink', this.ctx.name, 'buffer'),
        maxBytes: b.max_bytes,
        segmentBytes: b.segment_bytes,
        whenFull: b.when_full,
        onDrop: (records, reason) => this.ctx.telemetry.add('tidewatch_events_dropped_total', { component: this.ctx.name, reason }, records),
        onCorrupt: (bytes) => {
          // Reported once per bad region by the buffer: a log line with the code is bounded.
          this.ctx.telemetry.add('tidewatch_buffer_corrupt_bytes_total', { component: this.ctx.name }, bytes);
          this.ctx.telemetry.add('tidewatch_errors_total', { component: this.ctx.name, code: 'TW_STATE_CORRUPT' });
          this.ctx.log.error('disk buffer record is corrupt; skipped to the next valid record', { code: 'TW_STATE_CORRUPT', bytes });
        },
      });
      await this.buffer.open();
    }
    // The agent must run while Kafka is away (DESIGN.md: never lose a line, keep reading). Start
    // waits for Kafka a few seconds at most (kafkajs's own retries of a connect take far longer);
    // then the attempt goes on in the background, the send loop keeps trying, and lines wait in
    // the buffer meanwhile.
    const producer = this.producer;
    // The producer's connection and the admin requests are independent: both at once.
    const attempt = Promise.all([producer.connect(), this.prepare()]);
    attempt.catch((err: unknown) => {
      if (!this.stopping) this.ctx.log.warn('kafka not reachable at start; will keep trying', { err: errorCodeOf(err), message: (err as Error).message });
    });
    const waitMs = this.config.connection_timeout_ms + START_GRACE_MS;
    const ready = await within(
      attempt.then(
        () => true,
        () => undefined,
      ),
      waitMs,
    );
    if (ready === false) this.ctx.log.warn('kafka not reachable at start; the agent runs, buffers, and keeps trying', { wait_ms: waitMs });
    if (this.buffer !== undefined && this.buffer.pendingRecords > 0) this.kick(true);
  }

  /** Topics exist and the size limit is known (one admin session); retried by the send loop until it succeeds. */
  private async prepare(): Promise<void> {
    const layout = layoutOf(this.config);
    const create = !this.topicsReady && layout.create;
    const specs = (brokers: number): TopicSpec[] => {
      const out = topicSpecs(this.config.topic_prefix, layout, ['logs', 'metrics', 'agents'] satisfies TopicKind[], brokers);
      out[0]!.name = this.topics.logs;
      out[1]!.name = this.topics.metrics;
      out[2]!.name = this.topics.agents;
      return out;
    };
    const { limits } = await this.transport!.prepare(create ? specs : undefined, { limitsOf: this.limitKnown ? [] : [this.topics.logs, this.topics.metrics] });
    this.topicsReady = true;
    if (!this.limitKnown) {
      const broker = Math.min(...limits.values());
      this.limit = Math.max(4096, Math.min(this.config.max_message_bytes, broker - FRAMING_BYTES));
      this.limitKnown = true;
    }
  }

  async write(events: Event[]): Promise<void> {
    if (this.stopping || this.transport === undefined) throw new TidewatchError('TW_STOPPED', `sink ${this.ctx.name} is stopped`);
    return this.ship(this.encode(events));
  }

  /**
   * A file's lines, written from their bytes into wire batches (core/wire.ts encodeLineBlock):
   * the agent's main path. OTLP encoding, and a line beyond a message (truncated here), take
   * the records path.
   */
  async writeLines(block: LineBlock): Promise<void> {
    if (this.stopping || this.transport === undefined) throw new TidewatchError('TW_STOPPED', `sink ${this.ctx.name} is stopped`);
    const lineLimit = this.lineLimit();
    if (this.config.encoding === 'otlp_proto' || block.longestLine > lineLimit) return this.write(block.records());
    const out: Group[] = [];
    this.group(out, this.topics.logs, encodeLineBlock(block, { maxBytes: lineLimit }), block.length);
    return this.ship(out);
  }

  /** Largest wire batch (and so largest line) a message may hold: the limit less room for the record's framing and headers. */
  private lineLimit(): number {
    return this.limit - FRAMING_BYTES * 2;
  }

  /** Encoded groups into the disk buffer or the send queue; resolves once Kafka has them all. */
  private async ship(groups: Group[]): Promise<void> {
    if (this.buffer !== undefined) {
      // Durable once fsynced in the buffer; the drain loop ships it in order.
      for (const g of groups) await this.buffer.append(g.topic, g.messages, g.events);
      this.kick(false);
      return;
    }
    const promises: Promise<void>[] = [];
    for (const g of groups) {
      while (this.queuedBytes > 0 && this.queuedBytes + g.bytes > this.config.max_pending_bytes) {
        await new Promise<void>((resolve) => this.spaceWaiters.push(resolve));
        if (this.stopping) throw new TidewatchError('TW_STOPPED', `sink ${this.ctx.name} is stopping`);
      }
      promises.push(
        new Promise<void>((done, fail) => {
          this.queue.push({ ...g, done, fail });
          this.queuedBytes += g.bytes;
        }),
      );
      this.kick(false);
    }
    await Promise.all(promises);
  }

  /** Events → messages per topic, each under the size limit. */
  private encode(events: Event[]): Group[] {
    const logs: LogRecord[] = [];
    const beats: LogRecord[] = [];
    const metrics: Event[] = [];
    const lineLimit = this.lineLimit();
    for (const e of events) {
      if (e.kind === 'metric') metrics.push(e);
      else if (e.attributes['event.name'] === 'tidewatch.agent.heartbeat') beats.push(e);
      else {
        if (typeof e.body === 'string' && e.body.length * 3 > lineLimit && Buffer.byteLength(e.body) > lineLimit) {
          e.body = truncateUtf8(e.body, lineLimit);
          e.attributes['tidewatch.truncated'] = true;
          this.ctx.telemetry.add('tidewatch_kafka_truncated_total', { component: this.ctx.name });
        }
        logs.push(e);
      }
    }
    const out: Group[] = [];
    const add = (topic: string, msgs: OutMessage[], n: number): void => this.group(out, topic, msgs, n);
    if (logs.length > 0) add(this.topics.logs, this.config.encoding === 'otlp_proto' ? encodeOtlpLogs(logs, lineLimit) : encodeEvents(logs, { maxBytes: lineLimit }), logs.length);
    if (metrics.length > 0) {
      const enc = this.config.encoding === 'otlp_proto' ? encodeOtlpMetrics(metrics as MetricPoint[], lineLimit) : encodeEvents(metrics, { maxBytes: lineLimit });
      add(this.topics.metrics, enc, metrics.length);
    }
    if (beats.length > 0) add(this.topics.agents, beats.map(heartbeatMessage), beats.length);
    return out;
  }

  /** Appends the messages of `n` events for `topic` to `out`, without any a broker would refuse. */
  private group(out: Group[], topic: string, msgs: OutMessage[], n: number): void {
    const kept: OutMessage[] = [];
    let bytes = 0;
    for (const m of msgs) {
      const size = m.value.length + (typeof m.key === 'string' ? Buffer.byteLength(m.key) : (m.key?.length ?? 0));
      if (size > this.limit) {
        // Still too large after truncating bodies (huge attributes): dropped and counted,
        // never sent to be refused forever.
        this.ctx.telemetry.add('tidewatch_events_dropped_total', { component: this.ctx.name, reason: 'too_large' });
        continue;
      }
      kept.push(m);
      bytes += size;
    }
    if (kept.length > 0) out.push({ topic, messages: kept, bytes, events: n });
  }

  private kick(now: boolean): void {
    if (this.sending !== undefined) return;
    const waiting = this.buffer !== undefined ? this.buffer.pendingBytes : this.queuedBytes;
    if (waiting === 0) return;
    if (now || waiting >= this.config.batch_bytes || this.config.linger_ms === 0) {
      if (this.lingerTimer !== undefined) clearTimeout(this.lingerTimer);
      this.lingerTimer = undefined;
      this.sending = this.sendLoop()
        .catch((err: unknown) => {
          // A bug or a buffer I/O error: counted and logged; the next write or tick tries again.
          this.ctx.telemetry.add('tidewatch_kafka_sink_errors_total', { component: this.ctx.name, code: errorCodeOf(err) });
          this.ctx.log.error('kafka sink send loop failed', { err });
        })
        .finally(() => {
          this.sending = undefined;
          if (!this.stopping) this.kick(false);
        });
      return;
    }
    if (this.lingerTimer === undefined) {
      this.lingerTimer = setTimeout(() => {
        this.lingerTimer = undefined;
        this.kick(true);
      }, this.config.linger_ms);
      this.lingerTimer.unref();
    }
  }

  /** Sends until nothing waits; one request at a time, each retried until it succeeds or the sink stops. */
  private async sendLoop(): Promise<void> {
    let backoff = this.config.retry_backoff_ms;
    for (;;) {
      if (this.stopping) return;
      const batch: (BufferedGroup | Entry)[] = this.buffer !== undefined ? await this.buffer.peek(this.config.max_request_bytes) : (this.inflight = this.takeRequest());
      if (batch.length === 0) return;
      for (;;) {
        try {
          if (!this.topicsReady || !this.limitKnown) await this.prepare();
          await this.publishGroups(batch);
          break;
        } catch (err) {
          const code = errorCodeOf(err);
          this.ctx.telemetry.add('tidewatch_kafka_sink_errors_total', { component: this.ctx.name, code });
          if (isTidewatchError(err) && /MESSAGE_TOO_LARGE|RECORD_LIST_TOO_LARGE/.test(String(err.details['kafka_error']))) {
            // The broker's limit is lower than we knew: learn it again; oversized messages of
            // this request are dropped and counted rather than retried forever.
            this.limitKnown = false;
            await this.prepare().catch(() => undefined);
            for (const g of batch) {
              const kept = g.messages.filter((m) => m.value.length <= this.limit);
              if (kept.length < g.messages.length) this.ctx.telemetry.add('tidewatch_events_dropped_total', { component: this.ctx.name, reason: 'too_large' }, g.messages.length - kept.length);
              g.messages = kept;
            }
            // A compressed request can pass the limit too (data that does not compress): sends
            // fit uncompressed for a while, then large requests are tried again.
            if (this.config.compression !== 'none') {
              if (Date.now() >= this.fitUntil) this.ctx.log.warn('a compressed produce request passed the broker\'s max.message.bytes; requests are split to fit for a minute', { limit: this.limit });
              this.fitUntil = Date.now() + FIT_MS;
            }
          }
          if (this.stopping) {
            if (this.buffer === undefined) for (const e of batch as Entry[]) e.fail(new TidewatchError('TW_STOPPED', `sink ${this.ctx.name} stopped before Kafka acknowledged`, {}, { cause: err }));
            this.inflight = [];
            return;
          }
          if (backoff >= this.config.retry_backoff_max_ms) this.ctx.log.warn('kafka send failing; retrying', { code, message: (err as Error).message });
          await this.sleep(backoff);
          backoff = Math.min(backoff * 2, this.config.retry_backoff_max_ms);
        }
      }
      backoff = this.config.retry_backoff_ms;
      if (this.buffer !== undefined) {
        if (this.stopping) return; // the buffer is closing: acknowledged again after the restart
        await this.buffer.ack(batch.length);
      } else {
        for (const e of batch as Entry[]) e.done();
        this.inflight = [];
      }
    }
  }

  private takeRequest(): Entry[] {
    const out: Entry[] = [];
    let bytes = 0;
    while (this.queue.length > 0) {
      const e = this.queue[0]!;
      if (out.length > 0 && bytes + e.bytes > this.config.max_request_bytes) break;
      this.queue.shift();
      out.push(e);
      bytes += e.bytes;
      this.queuedBytes -= e.bytes;
    }
    for (const w of this.spaceWaiters.splice(0)) w();
    return out;
  }

  /**
   * Publishes the groups topic by topic, each topic's messages in their order. A broker refuses a
   * partition's record batch beyond max.message.bytes, and a request's messages for one partition
   * become one batch: uncompressed (or after the broker refused a compressed one), a topic's
   * messages go in sends of at most `limit` bytes. Acknowledged messages leave their group, so a
   * retry sends only the rest.
   */
  private async publishGroups(batch: { topic: string; messages: OutMessage[] }[]): Promise<void> {
    const byTopic = new Map<string, { topic: string; messages: OutMessage[] }[]>();
    for (const g of batch) {
      if (g.messages.length === 0) continue;
      const l = byTopic.get(g.topic) ?? [];
      l.push(g);
      byTopic.set(g.topic, l);
    }
    const cap = this.config.compression === 'none' || Date.now() < this.fitUntil ? this.limit - (this.limit >> 10) : Number.POSITIVE_INFINITY;
    for (const [topic, groups] of byTopic) {
      let first = 0;
      while (first < groups.length) {
        const messages: OutMessage[] = [];
        const taken: number[] = [];
        let bytes = 0;
        for (let j = first; j < groups.length && bytes <= cap; j++) {
          const msgs = groups[j]!.messages;
          let k = 0;
          for (; k < msgs.length; k++) {
            const size = cap === Number.POSITIVE_INFINITY ? 0 : recordBytes(msgs[k]!);
            if (messages.length > 0 && bytes + size > cap) {
              bytes = Number.POSITIVE_INFINITY;
              break;
            }
            messages.push(msgs[k]!);
            bytes += size;
          }
          taken.push(k);
        }
        await this.producer!.send([{ topic, messages }]);
        for (let j = 0; j < taken.length; j++) {
          const g = groups[first + j]!;
          g.messages = taken[j] === g.messages.length ? [] : g.messages.slice(taken[j]);
        }
        while (first < groups.length && groups[first]!.messages.length === 0) first++;
        this.ctx.telemetry.add('tidewatch_kafka_messages_sent_total', { component: this.ctx.name, topic }, messages.length);
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      t.unref();
      this.wakeBackoff = () => {
        clearTimeout(t);
        resolve();
      };
    }).finally(() => (this.wakeBackoff = undefined));
  }

  /**
   * Memory mode: gives what was accepted a short last chance (3 s) to be acknowledged, then
   * rejects the rest with TW_STOPPED (the file source keeps its checkpoint and reads it again).
   * Disk mode: returns at once; what is not sent stays in the buffer for the next start. Never
   * waits on a request kafkajs is still retrying against absent brokers.
   */
  async stop(): Promise<void> {
    if (this.transport === undefined || this.stopping) return;
    if (this.buffer === undefined) {
      // Whatever waits is sent now, not after linger_ms; a send loop that ended while entries
      // still waited (they came after its last take) is started again.
      const deadline = Date.now() + 3000;
      for (;;) {
        if (this.sending === undefined && this.queue.length > 0) this.kick(true);
        const left = deadline - Date.now();
        if (this.sending === undefined || left <= 0) break;
        await within(this.sending, left);
      }
    }
    this.stopping = true;
    if (this.lingerTimer !== undefined) clearTimeout(this.lingerTimer);
    this.wakeBackoff?.();
    for (const w of this.spaceWaiters.splice(0)) w();
    const stopped = (): TidewatchError => new TidewatchError('TW_STOPPED', `sink ${this.ctx.name} stopped before Kafka acknowledged`);
    for (const e of this.inflight.splice(0)) e.fail(stopped());
    for (const e of this.queue.splice(0)) e.fail(stopped());
    this.queuedBytes = 0;
    // A request in flight is abandoned, not awaited: its data is in the disk buffer or was
    // rejected above, and a send that lands anyway is a duplicate the collector drops by offset.
    if (this.sending !== undefined) await within(this.sending, 500);
    await this.buffer?.close();
    await this.producer?.stop().catch(() => undefined);
    await this.transport.stop().catch(() => undefined);
  }
}

/** What a message takes in a record batch, uncompressed. */
function recordBytes(m: OutMessage): number {
  let n = m.value.length + RECORD_OVERHEAD;
  if (m.key !== undefined) n += typeof m.key === 'string' ? Buffer.byteLength(m.key) : m.key.length;
  if (m.headers !== undefined) for (const k in m.headers) n += Buffer.byteLength(k) + Buffer.byteLength(m.headers[k]!) + 10;
  return n;
}

function heartbeatMessage(r: LogRecord): OutMessage {
  const a = r.attributes;
  const num = (v: unknown, d: number): number => (typeof v === 'number' && Number.isFinite(v) ? v : d);
  const time = r.time ?? r.observed_time;
  const startedText = a['tidewatch.agent.started_at'];
  const started = typeof startedText === 'string' ? Date.parse(startedText) : Number.NaN;
  return encodeHeartbeat({
    agent_id: String(r.resource[AttrKeys.agentId] ?? ''),
    host: String(r.resource[AttrKeys.hostName] ?? ''),
    version: String(a['tidewatch.agent.version'] ?? ''),
    started_at: Number.isFinite(started) ? started : time,
    time,
    interval_ms: Math.max(1, Math.round(num(a['tidewatch.heartbeat.interval_ms'], 10_000))),
    streams: Math.max(0, Math.round(num(a['tidewatch.files'], 0))),
    stopping: a['tidewatch.agent.state'] === 'stopping',
  });
}

/** The longest prefix of `s` whose UTF-8 encoding fits in `maxBytes`, cut on a character boundary. */
export function truncateUtf8(s: string, maxBytes: number): string {
  const buf = Buffer.from(s);
  if (buf.length <= maxBytes) return s;
  let end = maxBytes;
  // Back up over continuation bytes (10xxxxxx) so no character is cut in half.
  while (end > 0 && (buf[end]! & 0xc0) === 0x80) end--;
  return buf.subarray(0, end).toString('utf8');
}

export const kafkaSink: SinkFactory<typeof KafkaSinkSchema> = {
  type: 'kafka',
  role: 'sink',
  description: 'Ships logs, metrics and heartbeats to Kafka (acks=all, idempotent, never gives up; optional disk buffer for outages).',
  schema: KafkaSinkSchema,
  create: (config, ctx) => new KafkaSink(config, ctx),
};
