import { describe, expect, it } from 'vitest';
import { kafkaBrokers, kafkaClient, uniqueTopic } from './harness.js';

describe('kafka harness broker (project kafka)', () => {
  it('answers describeCluster and round-trips a message on a new topic', async () => {
    const kafka = kafkaClient();
    const admin = kafka.admin();
    await admin.connect();
    try {
      const info = await admin.describeCluster();
      // Every bootstrap address is a live broker of the cluster (KAFKA_BROKERS may list a subset).
      expect(info.brokers.map((b) => `${b.host}:${b.port}`)).toEqual(expect.arrayContaining(kafkaBrokers()));
      const topic = uniqueTopic('harness');
      expect(await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true })).toBe(true);
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({ topic, messages: [{ key: 'k', value: 'hello' }] });
      await producer.disconnect();
      const offsets = await admin.fetchTopicOffsets(topic);
      expect(offsets.reduce((n, p) => n + Number(p.high), 0)).toBe(1);
    } finally {
      await admin.disconnect();
    }
  });
});
