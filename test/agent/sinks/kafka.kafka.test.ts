/**
 * The agent's kafka sink against a real broker: message sizing against the topic's
 * max.message.bytes (split, truncate, count), keys and wire headers; and the whole
 * sink → ingest → rollups path over SASL/SCRAM + TLS (a broker of this file's own).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { Value } from '@sinclair/typebox/value';
import { afterAll, describe, expect, it } from 'vitest';
import type { KafkaMessage } from 'kafkajs';
import { KafkaSink, KafkaSinkSchema } from '../../../agent/sinks/kafka.js';
import type { KafkaSinkConfig } from '../../../agent/sinks/kafka.js';
import { KafkaSource, KafkaSourceSchema } from '../../../collector/sources/kafka.js';
import type { KafkaSourceConfig } from '../../../collector/sources/kafka.js';
import { decodeLogBatch } from '../../../core/wire.js';
import { FakeSourceContext } from '../../support/fake-source-context.js';
import { SCRAM_USER, kafkaBrokers, kafkaClient, startKafka, uniqueTopic, waitFor } from '../../kafka/harness.js';
import type { KafkaCluster } from '../../kafka/harness.js';
import { lines, watchRollups } from '../../collector/kafka-support.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

function dir(): string {
  return mkdtempSync(join(tmpdir(), 'tw-ksink-'));
}

async function readAll(kafka: ReturnType<typeof kafkaClient>, topic: string, until: (msgs: KafkaMessage[]) => boolean): Promise<KafkaMessage[]> {
  const msgs: KafkaMessage[] = [];
  const c = kafka.consumer({ groupId: `r-${randomUUID()}` });
  await c.connect();
  await c.subscribe({ topics: [topic], fromBeginning: true });
  await c.run({ eachMessage: async ({ message }) => void msgs.push(message) });
  try {
    await waitFor(() => (until(msgs) ? true : undefined), `messages of ${topic}`, 30_000);
  } finally {
    await c.disconnect();
  }
  return msgs;
}

/**
 * A started sink on `<prefix>logs`, created with an operator's small limit (max.message.bytes
 * 20000) that the sink must learn from the broker.
 */
async function limitedSink(prefix: string, partitions: number, options: Partial<KafkaSinkConfig>): Promise<{ ctx: FakeSourceContext; sink: KafkaSink }> {
  const admin = kafkaClient().admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: `${prefix}logs`, numPartitions: partitions, configEntries: [{ name: 'max.message.bytes', value: '20000' }] }] });
  await admin.disconnect();
  const ctx = new FakeSourceContext({ name: 'k', dataDir: dir() });
  const sink = new KafkaSink(Value.Default(KafkaSinkSchema, { brokers: kafkaBrokers(), topic_prefix: prefix, ...options }) as KafkaSinkConfig, ctx);
  cleanups.push(() => sink.stop());
  await sink.start();
  return { ctx, sink };
}

describe('kafka sink', () => {
  it('keeps every message under the topic limit: splits batches, truncates and counts a single oversized line', async () => {
    const prefix = `${uniqueTopic('tws')}.`;
    const kafka = kafkaClient();
    const { ctx, sink } = await limitedSink(prefix, 2, {});

    const batch = lines('ag', 's1', 0, 0, 200).map((r, i) => ({ ...r, body: `${i} ${'x'.repeat(300)}` }));
    const huge = lines('ag', 's2', 0, 0, 1)[0]!;
    huge.body = 'é'.repeat(40_000); // 80 000 bytes: four times the limit
    await sink.write([...batch, huge]);

    const msgs = await readAll(kafka, `${prefix}logs`, (m) => m.reduce((n, x) => n + decodeLogBatch(x.value!).length, 0) >= 201);
    expect(msgs.length).toBeGreaterThan(3); // 60 KB of s1 lines cannot fit one 20 KB message
    for (const m of msgs) {
      expect(m.value!.length).toBeLessThan(20_000);
      expect(m.headers?.['tw-wire']?.toString()).toBe('1');
      expect(['ag/s1', 'ag/s2']).toContain(m.key?.toString());
    }
    const recs = msgs.flatMap((m) => decodeLogBatch(m.value!));
    const s1 = recs.filter((r) => r.attributes['tidewatch.stream_id'] === 's1').map((r) => r.attributes['tidewatch.offset']);
    expect(s1).toEqual(batch.map((r) => r.attributes['tidewatch.offset'])); // one stream's order kept
    const big = recs.find((r) => r.attributes['tidewatch.stream_id'] === 's2')!;
    expect(big.attributes['tidewatch.truncated']).toBe(true);
    expect(String(big.body).length).toBeGreaterThan(5000);
    expect(String(big.body)).toMatch(/^é+$/); // cut on a character boundary
    expect(ctx.telemetry.snapshot().find((s) => s.name === 'tidewatch_kafka_truncated_total')?.value).toBe(1);
  });

  it('a request larger than the topic limit goes in parts that fit: uncompressed, and compressed data that does not compress', async () => {
    for (const compression of ['none', 'lz4'] as const) {
      const prefix = `${uniqueTopic('twf')}.`;
      const kafka = kafkaClient();
      const { ctx, sink } = await limitedSink(prefix, 1, { compression });
      // About 120 KB of one stream, random bytes that no codec shrinks much: six times the limit,
      // one request (batch_bytes and max_request_bytes are far larger), one partition.
      const batch = lines('ag', 's1', 0, 0, 400).map((r, i) => ({ ...r, body: `${i} ${randomBytes(150).toString('base64')}` }));
      await sink.write(batch);
      const msgs = await readAll(kafka, `${prefix}logs`, (m) => m.reduce((n, x) => n + decodeLogBatch(x.value!).length, 0) >= batch.length);
      const got = msgs.flatMap((m) => decodeLogBatch(m.value!)).map((r) => r.body);
      expect(got, compression).toEqual(batch.map((r) => r.body)); // all, once, in order
      expect(ctx.telemetry.snapshot().filter((x) => x.name === 'tidewatch_events_dropped_total'), compression).toEqual([]);
      await sink.stop();
    }
  });

  it('a record still over the limit after its body was truncated (huge attributes) is dropped and counted; its neighbours arrive', async () => {
    const prefix = `${uniqueTopic('twd')}.`;
    const kafka = kafkaClient();
    const { ctx, sink } = await limitedSink(prefix, 1, {});
    const batch = lines('ag', 's1', 0, 0, 21);
    batch[10]!.attributes['http.request.header.cookie'] = 'c'.repeat(30_000); // alone 1.5x the 20 000 limit
    await sink.write(batch); // resolves: nothing is left to retry
    const want = batch.filter((_, i) => i !== 10).map((r) => r.attributes['tidewatch.offset']);
    const msgs = await readAll(kafka, `${prefix}logs`, (m) => m.reduce((n, x) => n + decodeLogBatch(x.value!).length, 0) >= want.length);
    expect(msgs.flatMap((m) => decodeLogBatch(m.value!)).map((r) => r.attributes['tidewatch.offset'])).toEqual(want);
    expect(ctx.telemetry.snapshot().filter((x) => x.name === 'tidewatch_events_dropped_total').map((x) => [x.labels['reason'], x.value])).toEqual([['too_large', 1]]);
  });

  it('memory mode: stop sends what waits at once, not after linger_ms, and every write it sent resolves', async () => {
    const prefix = `${uniqueTopic('twl')}.`;
    const kafka = kafkaClient();
    const { sink } = await limitedSink(prefix, 1, { linger_ms: 60_000, batch_bytes: 1 << 24 });
    // Two writes that would linger a minute (far below batch_bytes) when stop comes.
    const writes = [sink.write(lines('ag', 's1', 0, 0, 50)), sink.write(lines('ag', 's1', 0, 500, 50))];
    const t0 = Date.now();
    const stopped = sink.stop();
    await Promise.all(writes);
    await stopped;
    expect(Date.now() - t0).toBeLessThan(10_000);
    const msgs = await readAll(kafka, `${prefix}logs`, (m) => m.reduce((n, x) => n + decodeLogBatch(x.value!).length, 0) >= 100);
    const offsets = msgs.flatMap((m) => decodeLogBatch(m.value!)).map((r) => r.attributes['tidewatch.offset']);
    expect(offsets).toEqual(lines('ag', 's1', 0, 0, 100).map((r) => r.attributes['tidewatch.offset']));
  });

  it('otlp_proto: logs as OTLP requests, read back by the ingest stage with exact rollups (replays dropped)', async () => {
    const prefix = `${uniqueTopic('twp')}.`;
    const common = { brokers: kafkaBrokers(), topic_prefix: prefix, logs_topic: `${prefix}otlp_logs` };
    const srcCtx = new FakeSourceContext({ name: 'src', dataDir: dir() });
    const src = new KafkaSource(
      Value.Default(KafkaSourceSchema, { ...common, group_id: `g-${prefix}`, stage: 'ingest', encoding: 'otlp_proto', emit_events: false }) as KafkaSourceConfig,
      srcCtx,
    );
    cleanups.push(() => src.stop());
    await src.start();
    const sink = new KafkaSink(Value.Default(KafkaSinkSchema, { ...common, encoding: 'otlp_proto' }) as KafkaSinkConfig, new FakeSourceContext({ name: 'k', dataDir: dir() }));
    cleanups.push(() => sink.stop());
    await sink.start();
    await sink.write(lines('ag', 's1', 0, 0, 250));
    await sink.write(lines('ag', 's1', 0, 1000, 100)); // offsets 1000..1990: sent already (0..2490), all replays
    await sink.write(lines('ag', 's2', 0, 0, 50));
    const kafka = kafkaClient();
    const raw = await readAll(kafka, `${prefix}otlp_logs`, (m) => m.length >= 3);
    expect(raw.every((m) => m.headers?.['tw-wire'] === undefined)).toBe(true); // plain OTLP, as an OpenTelemetry Collector writes
    const watcher = await watchRollups(kafka, `${prefix}rollups`);
    cleanups.push(() => watcher.stop());
    await waitFor(() => (watcher.total() === 250 + 50 ? true : undefined), 'otlp rollups', 60_000);
    expect(srcCtx.telemetry.snapshot().find((x) => x.name === 'tidewatch_events_dropped_total' && x.labels['reason'] === 'replayed')?.value).toBe(100);
  });

  it('lz4: librdkafka (kcat) reads what the sink writes, and the sink\'s codec reads what kcat writes', async () => {
    const prefix = `${uniqueTopic('twz')}.`;
    const ctx = new FakeSourceContext({ name: 'k', dataDir: dir() });
    const sink = new KafkaSink(Value.Default(KafkaSinkSchema, { brokers: kafkaBrokers(), topic_prefix: prefix, compression: 'lz4' }) as KafkaSinkConfig, ctx);
    cleanups.push(() => sink.stop());
    await sink.start();
    // 3 streams, several messages each (bodies long enough to need more than one 64 KiB LZ4 block).
    const sent = [...lines('ag', 's1', 0, 0, 4000), ...lines('ag', 's2', 0, 0, 1500), ...lines('ag', 's3', 0, 0, 10)].map((r, i) => ({ ...r, body: `${String(r.body)} ${'é'.repeat(i % 7)}${'x'.repeat(i % 150)}` }));
    await sink.write(sent);
    // librdkafka decompresses every record batch; one message value per output line (JSON has no raw newline).
    const { stdout } = await promisify(execFile)('kcat', ['-C', '-b', kafkaBrokers().join(','), '-t', `${prefix}logs`, '-e', '-q', '-f', '%s\\n'], { maxBuffer: 256 << 20 });
    const values = stdout.split('\n').filter((l) => l !== '');
    expect(values.length).toBeGreaterThanOrEqual(3);
    const got = values.flatMap((v) => decodeLogBatch(Buffer.from(v)));
    const key = (r: { attributes: Record<string, unknown>; body: unknown }): string => `${String(r.attributes['tidewatch.stream_id'])}@${String(r.attributes['tidewatch.offset'])} ${String(r.body)}`;
    expect(got.map(key).sort()).toEqual(sent.map(key).sort());

    // The other way: kcat produces with lz4 (librdkafka's linked-block frames); a kafkajs consumer
    // in this process (the sink registered the codec) reads every line back.
    const topic = uniqueTopic('twz-kcat');
    const kafka = kafkaClient();
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1 }] });
    await admin.disconnect();
    const file = join(dir(), 'in.txt');
    const input = Array.from({ length: 20_000 }, (_, i) => `kcat line ${i} ${'abc'.repeat(i % 30)}`);
    writeFileSync(file, `${input.join('\n')}\n`);
    await promisify(execFile)('kcat', ['-P', '-b', kafkaBrokers().join(','), '-t', topic, '-z', 'lz4', '-X', 'linger.ms=50', '-X', 'batch.num.messages=10000', '-l', file]);
    const msgs = await readAll(kafka, topic, (m) => m.length >= input.length);
    expect(msgs.map((m) => m.value!.toString())).toEqual(input);
  });

  describe('over SASL/SCRAM and TLS', () => {
    let secure: KafkaCluster;
    it('ships, ingests and commits rollups with SCRAM-SHA-256 over TLS on every client', async () => {
      secure = await startKafka({ sasl: true, tls: true });
      cleanups.push(() => secure.stop());
      const caFile = join(dir(), 'ca.pem');
      writeFileSync(caFile, secure.client.ssl!.ca.join('\n'));
      const prefix = `${uniqueTopic('twt')}.`;
      const common = {
        brokers: secure.bootstrap,
        topic_prefix: prefix,
        tls: { ca_file: caFile, ...(secure.client.ssl?.servername !== undefined ? { server_name: secure.client.ssl.servername } : {}) },
        sasl: { mechanism: 'scram-sha-256', username: SCRAM_USER.username, password: SCRAM_USER.password },
      };
      const src = new KafkaSource(Value.Default(KafkaSourceSchema, { ...common, group_id: 'sec', emit_events: false }) as KafkaSourceConfig, new FakeSourceContext({ name: 'src', dataDir: dir() }));
      cleanups.push(() => src.stop());
      await src.start();
      const sink = new KafkaSink(Value.Default(KafkaSinkSchema, { ...common }) as KafkaSinkConfig, new FakeSourceContext({ name: 'k', dataDir: dir() }));
      cleanups.push(() => sink.stop());
      await sink.start();
      await sink.write(lines('ag', 's1', 0, 0, 300));
      const watcher = await watchRollups(kafkaClient({ settings: secure.client }), `${prefix}rollups`);
      cleanups.push(() => watcher.stop());
      await waitFor(() => (watcher.total() === 300 ? true : undefined), 'rollups over SASL+TLS', 60_000);

      // Without credentials the same sink gets nowhere (it keeps retrying, the write never resolves).
      const bare = new KafkaSink(Value.Default(KafkaSinkSchema, { brokers: secure.bootstrap, topic_prefix: prefix, tls: common.tls, request_timeout_ms: 2000 }) as KafkaSinkConfig, new FakeSourceContext({ name: 'k2', dataDir: dir() }));
      await bare.start();
      const outcome = await Promise.race([bare.write(lines('ag', 's9', 0, 0, 1)).then(() => 'acked'), new Promise((r) => setTimeout(() => r('waiting'), 3000))]);
      expect(outcome).toBe('waiting');
      await bare.stop();
    });
  });
});
