/**
 * read_committed as the broker defines it, through kafkajs: of interleaved transactions from
 * several producers on one partition, a reader sees exactly the committed records, never an
 * aborted one, whatever the order in which the transactions ended and wherever a fetch starts.
 *
 * kafkajs 2.2.4 gets this wrong (its filter assumes the fetch response lists aborted transactions
 * by first offset, and registers one per record): the broker lists them in the order they were
 * aborted, so a reader counted records of aborted transactions and dropped committed ones. The
 * mended filter lives in core/kafkajs.ts; librdkafka's kcat is the independent reference.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Kafka, Producer, Transaction } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prng } from '../../agent/demo-logs.js';
import { scale } from '../support/scale.js';
import { kafkaBrokers, kafkaClient, uniqueTopic, waitFor } from './harness.js';

async function readAll(kafka: Kafka, topic: string, expected: number, maxBytesPerPartition: number): Promise<string[]> {
  const consumer = kafka.consumer({ groupId: uniqueTopic('rc-group'), readUncommitted: false, maxWaitTimeInMs: 100, maxBytesPerPartition, sessionTimeout: 10_000, heartbeatInterval: 1000 });
  const seen: string[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ autoCommit: false, eachMessage: async ({ message }) => void seen.push(message.value?.toString() ?? '') });
  try {
    await waitFor(() => (seen.includes('end') ? true : undefined), `the end marker (${seen.length} of ${expected} read)`, 60_000, 100);
    await new Promise((r) => setTimeout(r, 300)); // anything after the marker would show now
  } finally {
    await consumer.disconnect();
  }
  return seen;
}

describe('read_committed through kafkajs', () => {
  let kafka: Kafka;
  const producers: Producer[] = [];
  beforeAll(() => {
    kafka = kafkaClient();
  });
  afterAll(async () => {
    for (const p of producers) await p.disconnect().catch(() => undefined);
  });

  it('interleaved transactions of several producers, ended in any order: readers see the committed records only', async () => {
    const seed = Number(process.env.TW_SEED ?? Date.now() % 1_000_000);
    const random = prng(seed);
    const topic = uniqueTopic('rc');
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1 }] });
    await admin.disconnect();

    const n = 4;
    for (let i = 0; i < n; i++) {
      const p = kafka.producer({ transactionalId: uniqueTopic(`rc-tx${i}`), idempotent: true, maxInFlightRequests: 1, transactionTimeout: 30_000 });
      await p.connect();
      producers.push(p);
    }
    const open: (Transaction | undefined)[] = new Array<Transaction | undefined>(n).fill(undefined);
    const pending: string[][] = Array.from({ length: n }, () => []);
    const committed: string[] = [];
    let aborted = 0;
    let seq = 0;
    const send = async (i: number): Promise<void> => {
      const values = Array.from({ length: 1 + Math.floor(random() * 3) }, () => `p${i}-${seq++}`);
      await open[i]!.send({ topic, acks: -1, messages: values.map((value) => ({ value, partition: 0 })) });
      pending[i]!.push(...values);
    };
    const end = async (i: number, commit: boolean): Promise<void> => {
      if (commit) {
        await open[i]!.commit();
        committed.push(...pending[i]!);
      } else {
        await open[i]!.abort();
        aborted += pending[i]!.length;
      }
      open[i] = undefined;
      pending[i] = [];
    };

    for (let step = 0; step < scale(150, 1500); step++) {
      const i = Math.floor(random() * n);
      if (open[i] === undefined) {
        open[i] = await producers[i]!.transaction();
        await send(i);
        continue;
      }
      const r = random();
      if (r < 0.5) await send(i);
      else await end(i, r < 0.75);
    }
    for (let i = 0; i < n; i++) if (open[i] !== undefined) await end(i, random() < 0.5);
    const plain = kafka.producer();
    await plain.connect();
    await plain.send({ topic, acks: -1, messages: [{ value: 'end', partition: 0 }] });
    await plain.disconnect();
    const expected = [...committed, 'end'].sort();
    expect(aborted, `seed ${seed}: the workload aborted some transactions`).toBeGreaterThan(0);

    // librdkafka's read_committed: the reference.
    const { stdout } = await promisify(execFile)('kcat', ['-C', '-b', kafkaBrokers().join(','), '-t', topic, '-X', 'isolation.level=read_committed', '-o', 'beginning', '-e', '-q', '-f', '%s\n'], { maxBuffer: 64 << 20 });
    expect(stdout.split('\n').filter(Boolean).sort(), `seed ${seed}: kcat`).toEqual(expected);
    // kafkajs with its default fetch size, and with small fetches that start inside transactions.
    for (const bytes of [1 << 20, 256]) {
      const seen = await readAll(kafka, topic, expected.length, bytes);
      expect([...seen].sort(), `seed ${seed}: kafkajs, maxBytesPerPartition ${bytes}`).toEqual(expected);
    }
  });
});
