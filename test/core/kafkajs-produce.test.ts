/**
 * The mended produce retry (core/kafkajs-produce.ts), driven through kafkajs's own interfaces with
 * a scripted cluster: brokers that answer or fail, leaders that move between attempts. kafkajs
 * 2.2.4 retried only towards brokers that had not answered, so a partition whose leader moved to a
 * broker that had already answered was never sent while `send` resolved (the chaos suite's lost
 * file lines around a broker pause).
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { createSendMessages } from '../../core/kafkajs-produce.js';
import type { SendMessagesDeps } from '../../core/kafkajs-produce.js';
import { brokerError } from '../support/kafkajs-errors.js';

const notLeader = (): Error => brokerError('NOT_LEADER_FOR_PARTITION', 6, true, 'This server is not the leader for that topic-partition');

interface Sent {
  broker: number;
  topic: string;
  partition: number;
  values: string[];
  firstSequence: number | undefined;
}

/** A cluster whose leaders and broker behaviours the test scripts per attempt. */
function scripted(leadersPerAttempt: Record<number, number>[], fail: (broker: number, attempt: number) => Error | undefined) {
  let attempt = 0;
  const sent: Sent[] = [];
  const sequences = new Map<string, number>();
  const leaders = (): Record<number, number> => leadersPerAttempt[Math.min(attempt, leadersPerAttempt.length - 1)]!;
  const broker = (nodeId: number) => ({
    nodeId,
    async produce(req: Record<string, unknown>) {
      const e = fail(nodeId, attempt);
      if (e !== undefined) throw e;
      const topicData = req['topicData'] as { topic: string; partitions: { partition: number; messages: { value: string }[]; firstSequence?: number }[] }[];
      for (const t of topicData) for (const p of t.partitions) sent.push({ broker: nodeId, topic: t.topic, partition: p.partition, values: p.messages.map((m) => m.value), firstSequence: p.firstSequence });
      return { topics: topicData.map((t) => ({ topicName: t.topic, partitions: t.partitions.map((p) => ({ partition: p.partition, errorCode: 0, baseOffset: '0' })) })) };
    },
  });
  const brokers = new Map([1, 2, 3].map((id) => [id, broker(id)]));
  const deps: SendMessagesDeps = {
    logger: { debug: () => undefined, error: () => undefined },
    cluster: {
      refreshMetadataIfNecessary: async () => undefined,
      refreshMetadata: async () => void attempt++,
      addMultipleTargetTopics: async () => undefined,
      findTopicPartitionMetadata: () => [{ partitionId: 0 }, { partitionId: 1 }, { partitionId: 2 }],
      findLeaderForPartitions: (_topic, partitions) => {
        const out: Record<string, number[]> = {};
        for (const p of partitions) (out[leaders()[p]!] ??= []).push(p);
        return out;
      },
      findBroker: async ({ nodeId }) => brokers.get(Number(nodeId))!,
      isConnected: () => true,
      connect: async () => undefined,
      removeBroker: () => undefined,
    },
    partitioner: ({ message }) => (message as { partition: number }).partition,
    eosManager: {
      isTransactional: () => false,
      getTransactionalId: () => '',
      getProducerId: () => '7',
      getProducerEpoch: () => 0,
      getSequence: (topic, partition) => sequences.get(`${topic}/${partition}`) ?? 0,
      updateSequence: (topic, partition, n) => void sequences.set(`${topic}/${partition}`, (sequences.get(`${topic}/${partition}`) ?? 0) + n),
      acquireBrokerLock: async () => undefined,
      releaseBrokerLock: async () => undefined,
      addPartitionsToTransaction: async () => undefined,
    },
    retrier: async (fn) => {
      for (let i = 0; ; i++) {
        let bailed: Error | undefined;
        try {
          const r = await fn((e) => void (bailed = e), i, 0);
          if (bailed !== undefined) throw bailed;
          return r;
        } catch (e) {
          if (bailed !== undefined || i >= 5) throw e;
        }
      }
    },
  };
  return { send: createSendMessages(deps), sent, sequences };
}

const messages = [0, 1, 2].flatMap((p) => [0, 1].map((i) => ({ partition: p, value: `p${p}-m${i}` })));

describe('kafkajs produce retries (mended)', () => {
  it('a partition whose leader moved to a broker that had already answered is sent on the retry', async () => {
    // Attempt 0: p0 on broker 1, p1 on broker 2 (not the leader any more), p2 on broker 3.
    // Attempt 1: p1's leader is broker 1, which answered for p0 in attempt 0.
    const c = scripted(
      [
        { 0: 1, 1: 2, 2: 3 },
        { 0: 1, 1: 1, 2: 3 },
      ],
      (broker, attempt) => (broker === 2 && attempt === 0 ? notLeader() : undefined),
    );
    const responses = await c.send({ acks: -1, timeout: 1000, compression: 0, topicMessages: [{ topic: 't', messages }] });
    const delivered = c.sent.flatMap((s) => s.values).sort();
    expect(delivered).toEqual(messages.map((m) => m.value).sort());
    // Each partition once: acknowledged partitions are not sent again.
    expect(c.sent.map((s) => `${s.broker}:${s.partition}`).sort()).toEqual(['1:0', '1:1', '3:2']);
    expect(responses).toHaveLength(3);
    // The failed request's sequence numbers were handed back: p1 starts at 0 on its new leader.
    expect(c.sent.find((s) => s.partition === 1)?.firstSequence).toBe(0);
    expect(c.sequences.get('t/1')).toBe(2);
  });

  it('without failures, one request per leader and every partition once', async () => {
    const c = scripted([{ 0: 1, 1: 1, 2: 2 }], () => undefined);
    await c.send({ acks: -1, timeout: 1000, compression: 0, topicMessages: [{ topic: 't', messages }] });
    expect(c.sent.map((s) => `${s.broker}:${s.partition}`).sort()).toEqual(['1:0', '1:1', '2:2']);
  });

  it('an error that is not retriable is given up at once', async () => {
    const denied = brokerError('TOPIC_AUTHORIZATION_FAILED', 29, false, 'Not authorized to access topics');
    const c = scripted([{ 0: 1, 1: 1, 2: 1 }], () => denied);
    await expect(c.send({ acks: -1, timeout: 1000, compression: 0, topicMessages: [{ topic: 't', messages }] })).rejects.toThrow('Not authorized');
    expect(c.sent).toEqual([]);
  });

  it("is the function kafkajs's producer uses", () => {
    const require = createRequire(import.meta.url);
    const installed = require('kafkajs/src/producer/sendMessages.js') as Record<symbol, unknown>;
    expect(installed).toBe(createSendMessages);
  });
});
