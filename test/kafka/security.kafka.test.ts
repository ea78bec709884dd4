/**
 * kafkajs 2.2.4 over SASL/SCRAM and over TLS against harness brokers of this file's own (the
 * shared `kafka` project broker is PLAINTEXT). Both start in parallel, once for the file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Kafka } from 'kafkajs';
import { SCRAM_USER, kafkaClient, startKafka, uniqueTopic } from './harness.js';
import type { KafkaCluster } from './harness.js';

async function roundTrip(kafka: Kafka): Promise<string[]> {
  const topic = uniqueTopic('secure');
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  await producer.send({ topic, acks: -1, messages: [{ value: 'a' }, { value: 'b' }] });
  await producer.disconnect();
  const consumer = kafka.consumer({ groupId: uniqueTopic('secure-group'), maxWaitTimeInMs: 200 });
  const seen: string[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => void seen.push(message.value?.toString() ?? '') });
  const deadline = Date.now() + 30_000;
  while (seen.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  await consumer.disconnect();
  return seen;
}

/** Connects an admin and returns the error it fails with (undefined if it connects). */
async function connectError(kafka: Kafka): Promise<Error | undefined> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.describeCluster();
    return undefined;
  } catch (e) {
    return e as Error;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

describe('kafkajs over SASL/SCRAM and TLS', () => {
  let sasl: KafkaCluster;
  let tls: KafkaCluster;
  beforeAll(async () => {
    [sasl, tls] = await Promise.all([startKafka({ sasl: true }), startKafka({ tls: true })]);
  });
  afterAll(async () => {
    await Promise.all([sasl?.stop(), tls?.stop()]);
  });

  it('SCRAM-SHA-256 and SCRAM-SHA-512 with the right password produce and consume', async () => {
    expect(await roundTrip(kafkaClient({ settings: sasl.client }))).toEqual(['a', 'b']);
    const sha512 = kafkaClient({ settings: sasl.client, config: { sasl: { mechanism: 'scram-sha-512', ...SCRAM_USER } } });
    expect(await roundTrip(sha512)).toEqual(['a', 'b']);
  });

  it('SCRAM with a wrong password, or no SASL at all, is refused', async () => {
    const wrong = kafkaClient({ settings: sasl.client, config: { sasl: { mechanism: 'scram-sha-256', username: SCRAM_USER.username, password: 'wrong' }, retry: { retries: 0 } } });
    expect((await connectError(wrong))?.name).toBe('KafkaJSSASLAuthenticationError');
    const none = kafkaClient({ brokers: sasl.bootstrap, config: { retry: { retries: 0 }, connectionTimeout: 1000, requestTimeout: 2000 } });
    expect(await connectError(none)).toBeInstanceOf(Error);
  });

  it('TLS with the test CA produces and consumes; without the CA the certificate is rejected', async () => {
    expect(await roundTrip(kafkaClient({ settings: tls.client }))).toEqual(['a', 'b']);
    const untrusted = kafkaClient({ brokers: tls.bootstrap, config: { ssl: true, retry: { retries: 0 }, connectionTimeout: 2000 } });
    expect(String((await connectError(untrusted))?.message)).toMatch(/certificate/i);
  });
});
