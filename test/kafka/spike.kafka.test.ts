/**
 * Compatibility spike: what kafkajs 2.2.4 can do against the harness's Apache Kafka 4.x broker,
 * for each thing tidewatch relies on (DESIGN.md): topic admin, idempotent acks=all produce,
 * consumer-group commits that survive a restart, read-process-write transactions with
 * sendOffsets seen through read_committed, and how long a read_committed reader stalls when the
 * process holding a transaction is killed with SIGKILL. Findings: docs/kafka-client.md.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Consumer, Kafka, KafkaMessage } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scale } from '../support/scale.js';
import { kafkaBrokers, kafkaClient, uniqueTopic, waitFor } from './harness.js';

const HOLDER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'txn-holder.mjs');

interface Seen {
  partition: number;
  offset: number;
  key: string;
  value: string;
  at: number;
}

/** Starts a consumer that records every message it gets; the caller stops it. */
async function recorder(kafka: Kafka, topics: string[], opts: { groupId?: string; readUncommitted?: boolean; autoCommit?: boolean } = {}): Promise<{ consumer: Consumer; seen: Seen[] }> {
  const consumer = kafka.consumer({
    groupId: opts.groupId ?? uniqueTopic('group'),
    readUncommitted: opts.readUncommitted ?? false,
    // Short fetch waits so the stall measurement is not rounded up to kafkajs's 5 s default.
    maxWaitTimeInMs: 200,
    sessionTimeout: 10_000,
    heartbeatInterval: 1_000,
    retry: { retries: 10 },
  });
  const seen: Seen[] = [];
  await consumer.connect();
  for (const topic of topics) await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    autoCommit: opts.autoCommit ?? true,
    eachMessage: async ({ partition, message }) => {
      seen.push({ partition, offset: Number(message.offset), key: text(message.key), value: text(message.value), at: Date.now() });
    },
  });
  return { consumer, seen };
}

function text(b: KafkaMessage['value'] | KafkaMessage['key']): string {
  return b ? b.toString('utf8') : '';
}

describe('kafkajs 2.2.4 against the harness broker', () => {
  let kafka: Kafka;
  const admin = () => kafka.admin();

  beforeAll(() => {
    kafka = kafkaClient();
  });

  it('creates topics with partitions and configs, and lists and describes them', async () => {
    const a = admin();
    await a.connect();
    try {
      const plain = uniqueTopic('spike-create');
      const compacted = uniqueTopic('spike-compacted');
      const created = await a.createTopics({
        waitForLeaders: true,
        topics: [
          { topic: plain, numPartitions: 3 },
          { topic: compacted, numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] },
        ],
      });
      expect(created).toBe(true);
      // Creating an existing topic is not an error, it answers false: callers may create idempotently.
      expect(await a.createTopics({ topics: [{ topic: plain, numPartitions: 3 }] })).toBe(false);
      expect(await a.listTopics()).toEqual(expect.arrayContaining([plain, compacted]));
      const meta = await a.fetchTopicMetadata({ topics: [plain] });
      expect(meta.topics[0]?.partitions).toHaveLength(3);
      const configs = await a.describeConfigs({ includeSynonyms: false, resources: [{ type: 2 /* TOPIC */, name: compacted, configNames: ['cleanup.policy'] }] });
      expect(configs.resources[0]?.configEntries[0]?.configValue).toBe('compact');
    } finally {
      await a.disconnect();
    }
  });

  it('produces idempotently with acks=all: every record lands once, in order per partition (read back by kcat too)', async () => {
    const topic = uniqueTopic('spike-idem');
    const a = admin();
    await a.connect();
    await a.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 3 }] });
    await a.disconnect();
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const total = scale(600, 20_000);
    const batch = 100;
    for (let i = 0; i < total; i += batch) {
      const messages = Array.from({ length: Math.min(batch, total - i) }, (_, j) => ({ key: `k${(i + j) % 7}`, value: String(i + j) }));
      const meta = await producer.send({ topic, acks: -1, messages });
      expect(meta.every((m) => m.errorCode === 0)).toBe(true);
    }
    await producer.disconnect();

    const { consumer, seen } = await recorder(kafka, [topic], { readUncommitted: true });
    await waitFor(() => (seen.length >= total ? true : undefined), `${total} records`);
    await consumer.disconnect();
    expect(seen).toHaveLength(total);
    expect(new Set(seen.map((s) => s.value)).size).toBe(total);
    // Per key (so per partition), values come back in the order they were sent.
    for (let k = 0; k < 7; k++) {
      const values = seen.filter((s) => s.key === `k${k}`).map((s) => Number(s.value));
      expect(values).toEqual([...values].sort((x, y) => x - y));
    }
    // An independent client (librdkafka's kcat) sees exactly the same records.
    const { stdout } = await promisify(execFile)('kcat', ['-C', '-b', kafkaBrokers().join(','), '-t', topic, '-e', '-q', '-f', '%s\n'], { maxBuffer: 64 << 20 });
    const fromKcat = stdout.split('\n').filter(Boolean).map(Number).sort((x, y) => x - y);
    expect(fromKcat).toEqual(Array.from({ length: total }, (_, i) => i));
  });

  it('a consumer group commits, restarts and reads exactly the rest', async () => {
    const topic = uniqueTopic('spike-group');
    const groupId = uniqueTopic('spike-group-id');
    const total = 100;
    const firstPart = 40;
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: Array.from({ length: total }, (_, i) => ({ value: String(i) })) });
    await producer.disconnect();

    // First run: take the first 40, commit exactly up to there, stop.
    const first = kafka.consumer({ groupId, maxWaitTimeInMs: 200 });
    const taken: number[] = [];
    await first.connect();
    await first.subscribe({ topic, fromBeginning: true });
    let committed = false;
    await first.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        const offset = Number(message.offset);
        if (offset >= firstPart) return;
        taken.push(Number(text(message.value)));
        if (offset === firstPart - 1) {
          await first.commitOffsets([{ topic, partition, offset: String(firstPart) }]);
          committed = true;
        }
      },
    });
    await waitFor(() => (committed ? true : undefined), 'first consumer commit');
    await first.disconnect();
    expect(taken).toEqual(Array.from({ length: firstPart }, (_, i) => i));

    const a = admin();
    await a.connect();
    const offsets = await a.fetchOffsets({ groupId, topics: [topic] });
    await a.disconnect();
    expect(offsets[0]?.partitions[0]?.offset).toBe(String(firstPart));

    // Restart in the same group: it must resume at the commit, with nothing repeated or missed.
    const { consumer: second, seen } = await recorder(kafka, [topic], { groupId, autoCommit: false });
    await waitFor(() => (seen.length >= total - firstPart ? true : undefined), 'the rest of the topic');
    await new Promise((r) => setTimeout(r, 500)); // anything extra would show up now
    await second.disconnect();
    expect(seen.map((s) => Number(s.value))).toEqual(Array.from({ length: total - firstPart }, (_, i) => firstPart + i));
  });

  it('a transaction writes records and the group offsets atomically (sendOffsets); read_committed skips an aborted one', async () => {
    const input = uniqueTopic('spike-txn-in');
    const output = uniqueTopic('spike-txn-out');
    const groupId = uniqueTopic('spike-txn-group');
    const a = admin();
    await a.connect();
    await a.createTopics({ waitForLeaders: true, topics: [{ topic: input }, { topic: output }] });

    const txProducer = kafka.producer({ transactionalId: uniqueTopic('spike-txid'), idempotent: true, maxInFlightRequests: 1, transactionTimeout: 10_000 });
    await txProducer.connect();

    const committedTx = await txProducer.transaction();
    await committedTx.send({ topic: output, acks: -1, messages: Array.from({ length: 10 }, (_, i) => ({ value: `ok-${i}` })) });
    await committedTx.sendOffsets({ consumerGroupId: groupId, topics: [{ topic: input, partitions: [{ partition: 0, offset: '10' }] }] });
    await committedTx.commit();

    const abortedTx = await txProducer.transaction();
    await abortedTx.send({ topic: output, acks: -1, messages: Array.from({ length: 5 }, (_, i) => ({ value: `aborted-${i}` })) });
    await abortedTx.sendOffsets({ consumerGroupId: groupId, topics: [{ topic: input, partitions: [{ partition: 0, offset: '15' }] }] });
    await abortedTx.abort();
    await txProducer.disconnect();

    const plain = kafka.producer();
    await plain.connect();
    await plain.send({ topic: output, acks: -1, messages: [{ value: 'end' }] });
    await plain.disconnect();

    const offsets = await a.fetchOffsets({ groupId, topics: [input] });
    await a.disconnect();
    expect(offsets[0]?.partitions[0]?.offset).toBe('10');

    const committedReader = await recorder(kafka, [output], { readUncommitted: false });
    const uncommittedReader = await recorder(kafka, [output], { readUncommitted: true });
    await waitFor(() => (committedReader.seen.some((s) => s.value === 'end') && uncommittedReader.seen.some((s) => s.value === 'end') ? true : undefined), 'the end marker');
    await Promise.all([committedReader.consumer.disconnect(), uncommittedReader.consumer.disconnect()]);
    expect(committedReader.seen.map((s) => s.value)).toEqual([...Array.from({ length: 10 }, (_, i) => `ok-${i}`), 'end']);
    expect(uncommittedReader.seen.map((s) => s.value)).toEqual([
      ...Array.from({ length: 10 }, (_, i) => `ok-${i}`),
      ...Array.from({ length: 5 }, (_, i) => `aborted-${i}`),
      'end',
    ]);
  });

  describe('kill -9 of a process holding open transactions (one transactional.id per input partition)', () => {
    const children: ChildProcess[] = [];
    afterAll(() => {
      for (const c of children) c.kill('SIGKILL');
    });

    /** Runs the txn-holder fixture; resolves once it printed `want` for every partition. */
    async function holder(topic: string, prefix: string, partitions: number[], timeoutMs: number, commit: boolean): Promise<ChildProcess> {
      const child = spawn(process.execPath, [HOLDER, kafkaBrokers().join(','), topic, prefix, partitions.join(','), String(timeoutMs), ...(commit ? ['--commit'] : [])], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      children.push(child);
      const want = commit ? 'COMMITTED' : 'OPEN';
      const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
      const got = new Set<number>();
      await new Promise<void>((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`txn-holder exited with ${code} before ${want}`)));
        lines.on('line', (line) => {
          const [word, p] = line.split(' ');
          if (word === want) got.add(Number(p));
          if (got.size === partitions.length) resolve();
        });
      });
      return child;
    }

    /** Sets the scene: open transactions on every output partition, then a committed marker after each. */
    async function openAndMark(transactionTimeoutMs: number) {
      const topic = uniqueTopic('spike-stall');
      const prefix = uniqueTopic('spike-ingest');
      const partitions = [0, 1];
      const a = admin();
      await a.connect();
      await a.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: partitions.length }] });
      await a.disconnect();
      const child = await holder(topic, prefix, partitions, transactionTimeoutMs, false);
      const txStartedAt = Date.now();
      const plain = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await plain.connect();
      await plain.send({ topic, acks: -1, messages: partitions.map((partition) => ({ partition, value: 'marker' })) });
      await plain.disconnect();
      const reader = await recorder(kafka, [topic], { readUncommitted: false });
      // The reader is live (it joined and fetches) yet sees nothing: the open transactions hold the
      // last stable offset before the markers.
      await new Promise((r) => setTimeout(r, 1500));
      expect(reader.seen).toEqual([]);
      return { topic, prefix, partitions, child, reader, txStartedAt };
    }

    it('without a replacement, the reader stalls until the transaction timeout aborts it', async () => {
      const transactionTimeoutMs = 4000;
      const { partitions, child, reader, txStartedAt } = await openAndMark(transactionTimeoutMs);
      const killedAt = Date.now();
      child.kill('SIGKILL');
      await waitFor(() => (reader.seen.filter((s) => s.value === 'marker').length === partitions.length ? true : undefined), 'markers after the timed-out transactions', 60_000);
      await reader.consumer.disconnect();
      const visibleAt = Math.max(...reader.seen.map((s) => s.at));
      const stallMs = visibleAt - killedAt;
      console.log(`[spike] kill -9 mid-transaction, no replacement, transactionTimeout ${transactionTimeoutMs} ms: reader stalled ${stallMs} ms after the kill (${visibleAt - txStartedAt} ms after the transaction began)`);
      // The aborted records stay invisible; only the markers arrive.
      expect(reader.seen.map((s) => s.value)).toEqual(partitions.map(() => 'marker'));
      // The broker aborts an expired transaction on its next check (every 10 s by default), so the
      // stall ends within the timeout plus one check interval, measured from the transaction start.
      // (txStartedAt is taken just after the holder reported, so a little after the real start.)
      expect(visibleAt - txStartedAt).toBeLessThan(transactionTimeoutMs + 10_000 + 5_000);
      expect(visibleAt - txStartedAt).toBeGreaterThanOrEqual(transactionTimeoutMs - 500);
    });

    it('a replacement with the same transactional.ids fences the dead one and unblocks the reader long before the timeout', async () => {
      // A long timeout (kafkajs's default): only fencing can end the stall early.
      const transactionTimeoutMs = 60_000;
      const { topic, prefix, partitions, child, reader } = await openAndMark(transactionTimeoutMs);
      const killedAt = Date.now();
      child.kill('SIGKILL');
      await holder(topic, prefix, partitions, transactionTimeoutMs, true);
      await waitFor(() => (reader.seen.filter((s) => s.value.startsWith('committed ')).length === partitions.length ? true : undefined), 'the replacement\'s commits', 60_000);
      await reader.consumer.disconnect();
      const markers = reader.seen.filter((s) => s.value === 'marker');
      expect(markers).toHaveLength(partitions.length);
      const stallMs = Math.max(...markers.map((s) => s.at)) - killedAt;
      console.log(`[spike] kill -9 mid-transaction, replacement with the same transactional.ids: reader stalled ${stallMs} ms after the kill`);
      expect(reader.seen.some((s) => s.value.startsWith('open '))).toBe(false);
      expect(stallMs).toBeLessThan(15_000);
    });
  });
});
