/**
 * The Kafka transport against the harness broker (project `kafka`).
 */
import { createServer } from 'node:net';
import { kafkajsExports } from '../../../core/kafkajs.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafkaTransport } from '../../../core/transports/kafka.js';
import type { KafkaTransportOptions } from '../../../core/transports/kafka.js';
import type { ConsumedBatch } from '../../../core/transport.js';
import { MemoryTelemetry } from '../../../core/telemetry.js';
import { TidewatchError } from '../../../core/errors.js';
import { kafkaBrokers, kafkaClient, uniqueTopic } from '../../kafka/harness.js';
import { scale } from '../../support/scale.js';
import { restartContract, transportContract } from './transport-contract.js';

function make(extra: Partial<KafkaTransportOptions> = {}) {
  return createKafkaTransport({ brokers: kafkaBrokers(), clientId: 'tw-transport-test', sessionTimeoutMs: 10_000, heartbeatIntervalMs: 1000, ...extra });
}

describe('kafka transport: the Transport contract', () => {
  const contract = {
    async make() {
      const t = make();
      await t.start();
      return t;
    },
    async makeSmallBatches() {
      // About 20 messages of the suite per fetch.
      const t = make({ maxBytesPerPartition: 2048 });
      await t.start();
      return t;
    },
    partitions: 3,
    count: scale(600, 20_000),
    timeoutMs: 90_000,
  };
  transportContract(contract);
  restartContract(contract);
});

describe('kafka transport', () => {
  const admin = () => kafkaClient().admin();
  let a: ReturnType<typeof admin>;
  beforeAll(async () => {
    a = admin();
    await a.connect();
  });
  afterAll(async () => {
    await a.disconnect();
  });

  it('creates missing topics with the configured partitions and configs, and leaves existing ones alone', async () => {
    const t = make();
    const compacted = uniqueTopic('tw-compact');
    const retained = uniqueTopic('tw-retain');
    try {
      await t.ensureTopics([
        { name: compacted, partitions: 4, replicationFactor: 1, configs: { 'cleanup.policy': 'compact' } },
        { name: retained, partitions: 2, replicationFactor: 1, configs: { 'retention.ms': '3600000' } },
      ]);
      // A second call with other settings changes nothing.
      await t.ensureTopics([{ name: compacted, partitions: 8, replicationFactor: 1, configs: { 'cleanup.policy': 'delete' } }]);
      const meta = await a.fetchTopicMetadata({ topics: [compacted, retained] });
      expect(Object.fromEntries(meta.topics.map((x) => [x.name, x.partitions.length]))).toEqual({ [compacted]: 4, [retained]: 2 });
      const configs = await a.describeConfigs({
        includeSynonyms: false,
        resources: [
          { type: kafkajsExports.ConfigResourceTypes.TOPIC, name: compacted, configNames: ['cleanup.policy'] },
          { type: kafkajsExports.ConfigResourceTypes.TOPIC, name: retained, configNames: ['retention.ms'] },
        ],
      });
      const value = (topic: string, name: string) =>
        configs.resources.find((r) => r.resourceName === topic)?.configEntries.find((e) => e.configName === name)?.configValue;
      expect(value(compacted, 'cleanup.policy')).toBe('compact');
      expect(value(retained, 'retention.ms')).toBe('3600000');
    } finally {
      await t.stop();
    }
  });

  it('prepare: makes the missing topics for the broker count and reads each topic\'s message limit and partitions, in one call', async () => {
    const t = make();
    const existing = uniqueTopic('tw-prep-small');
    const fresh = uniqueTopic('tw-prep-new');
    try {
      await a.createTopics({ waitForLeaders: true, topics: [{ topic: existing, numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: '20000' }] }] });
      const seen: number[] = [];
      const { limits, partitions } = await t.prepare(
        (brokers) => {
          seen.push(brokers);
          return [
            { name: existing, partitions: 5, replicationFactor: brokers },
            { name: fresh, partitions: 3, replicationFactor: brokers },
          ];
        },
        { limitsOf: [existing, fresh], partitionsOf: [existing, fresh] },
      );
      expect(seen).toEqual([kafkaBrokers().length]);
      // The existing topic is left as it is; the new one is made as specified.
      const meta = await a.fetchTopicMetadata({ topics: [existing, fresh] });
      expect(Object.fromEntries(meta.topics.map((x) => [x.name, x.partitions.length]))).toEqual({ [existing]: 1, [fresh]: 3 });
      // Partition counts as the brokers have them, read in the same session just after creation.
      expect(Object.fromEntries(partitions)).toEqual({ [existing]: 1, [fresh]: 3 });
      // The topic's own limit, and the broker's default where the topic sets none.
      const broker = await a.describeConfigs({ includeSynonyms: false, resources: [{ type: kafkajsExports.ConfigResourceTypes.TOPIC, name: fresh, configNames: ['max.message.bytes'] }] });
      expect(Object.fromEntries(limits)).toEqual({ [existing]: 20000, [fresh]: Number(broker.resources[0]!.configEntries[0]!.configValue) });
      // Limits alone; nothing asked, nothing done.
      expect(Object.fromEntries((await t.prepare(undefined, { limitsOf: [existing] })).limits)).toEqual({ [existing]: 20000 });
      const none = await t.prepare(undefined);
      expect([none.limits.size, none.partitions.size]).toEqual([0, 0]);
      // A topic that does not exist has no limit to read: a TidewatchError, which the sink retries.
      await expect(t.prepare(undefined, { limitsOf: [uniqueTopic('tw-prep-absent')] })).rejects.toBeInstanceOf(TidewatchError);
    } finally {
      await t.stop();
    }
  });

  it('redelivers a batch whose handler rejected, committing only after it succeeds', async () => {
    const telemetry = new MemoryTelemetry();
    const t = make({ telemetry, maxHandlerBackoffMs: 200 });
    const topic = uniqueTopic('tw-redeliver');
    try {
      await t.ensureTopics([{ name: topic, partitions: 1, replicationFactor: 1 }]);
      await t.publish(topic, [{ value: Buffer.from('a') }, { value: Buffer.from('b') }]);
      let calls = 0;
      const handled: string[] = [];
      const sub = await t.subscribe({ topics: [topic], groupId: `g-${topic}`, fromBeginning: true }, async (b: ConsumedBatch) => {
        calls++;
        if (calls <= 2) throw new Error('downstream unavailable');
        handled.push(...b.messages.map((m) => m.value.toString()));
      });
      const deadline = Date.now() + 60_000;
      while (handled.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      await sub.close();
      expect(handled).toEqual(['a', 'b']);
      expect(telemetry.value('tidewatch_transport_handler_errors_total', { transport: 'kafka', topic, code: 'TW_INTERNAL' })).toBe(2);
      const offsets = await a.fetchOffsets({ groupId: `g-${topic}`, topics: [topic] });
      expect(offsets[0]?.partitions[0]?.offset).toBe('2');
    } finally {
      await t.stop();
    }
  });

  it('close ends a failing handler\'s retries promptly and commits nothing for its batch', async () => {
    const t = make({ maxHandlerBackoffMs: 100 });
    const topic = uniqueTopic('tw-failing');
    try {
      await t.ensureTopics([{ name: topic, partitions: 1, replicationFactor: 1 }]);
      await t.publish(topic, [{ value: Buffer.from('x') }]);
      let calls = 0;
      const sub = await t.subscribe({ topics: [topic], groupId: `g-${topic}`, fromBeginning: true }, async () => {
        calls++;
        throw new Error('always down');
      });
      const deadline = Date.now() + 60_000;
      while (calls < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const started = Date.now();
      await sub.close();
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(calls).toBeGreaterThanOrEqual(3);
      const offsets = await a.fetchOffsets({ groupId: `g-${topic}`, topics: [topic] });
      expect(offsets[0]?.partitions[0]?.offset).toBe('-1');
    } finally {
      await t.stop();
    }
  });

  it('readCommitted hides aborted transactional writes; without it they are delivered', async () => {
    const topic = uniqueTopic('tw-txn');
    const t = make();
    try {
      await t.ensureTopics([{ name: topic, partitions: 1, replicationFactor: 1 }]);
      const producer = kafkaClient().producer({ transactionalId: `tw-test-${topic}`, idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      const aborted = await producer.transaction();
      await aborted.send({ topic, messages: [{ value: 'aborted' }] });
      await aborted.abort();
      const committed = await producer.transaction();
      await committed.send({ topic, messages: [{ value: 'committed' }] });
      await committed.commit();
      await producer.disconnect();

      const read = async (readCommitted: boolean): Promise<string[]> => {
        const got: string[] = [];
        const sub = await t.subscribe({ topics: [topic], groupId: `g-${topic}-${readCommitted}`, fromBeginning: true, readCommitted }, async (b) => {
          got.push(...b.messages.map((m) => m.value.toString()));
        });
        const deadline = Date.now() + 60_000;
        while (!got.includes('committed') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        await sub.close();
        return got;
      };
      expect(await read(true)).toEqual(['committed']);
      expect(await read(false)).toEqual(['aborted', 'committed']);
    } finally {
      await t.stop();
    }
  });

  it('rejects a record the broker will never take as TW_TRANSPORT_REJECTED', async () => {
    const t = make();
    const topic = uniqueTopic('tw-small');
    try {
      await t.ensureTopics([{ name: topic, partitions: 1, replicationFactor: 1, configs: { 'max.message.bytes': '1024' } }]);
      await t.publish(topic, [{ value: Buffer.alloc(100) }]);
      const err = await t.publish(topic, [{ value: Buffer.alloc(10_000, 1) }]).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'TW_TRANSPORT_REJECTED', retriable: false });
    } finally {
      await t.stop();
    }
  });

  it('rejects publish with a retriable TW_TRANSPORT_UNAVAILABLE when no broker answers', async () => {
    // A loopback port nobody listens on: take a free one, then release it.
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const t = createKafkaTransport({ brokers: [`127.0.0.1:${port}`], connectionTimeoutMs: 300, retry: { retries: 1, initialRetryTimeMs: 50, maxRetryTimeMs: 100 } });
    const err = await t.publish('tw-nowhere', [{ value: Buffer.from('x') }]).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'TW_TRANSPORT_UNAVAILABLE', retriable: true });
    await t.stop();
  });
});
