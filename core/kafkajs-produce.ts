/**
 * Produce retries, mended for kafkajs 2.2.4. One `send` becomes a produce request per partition
 * leader; when one of them fails (NOT_LEADER after a broker died or paused), kafkajs refreshes the
 * metadata and retries, but only towards brokers that have not answered yet. A partition whose
 * leadership moved to a broker that had already answered for its own partitions was never sent,
 * and `send` resolved as if it had been: the agent confirmed lines Kafka never got, and a
 * collector committed a transaction without some of its rollups (the chaos suite lost a whole
 * batch of a file around a broker pause). Here acknowledgements are kept per partition: every
 * retry sends each partition not yet acknowledged to its leader of the moment.
 *
 * The rest is kafkajs's behaviour, on its own building blocks (partitioning, request shape,
 * idempotent sequences under the broker lock, transactions' AddPartitions, which errors refresh
 * the metadata). Installed like the read_committed mend (core/kafkajs-read-committed.ts): in
 * require's cache before kafkajs loads, which core/kafkajs.ts guarantees.
 */
import { createRequire } from 'node:module';
import { replaceKafkajsModule } from './kafkajs-mend.js';

const require = createRequire(import.meta.url);

/** kafkajs's internals this module drives (the shapes it uses, untyped in kafkajs). */
interface Broker {
  nodeId: number;
  produce(request: Record<string, unknown>): Promise<unknown>;
}
interface Cluster {
  refreshMetadataIfNecessary(): Promise<void>;
  refreshMetadata(): Promise<void>;
  addMultipleTargetTopics(topics: string[]): Promise<void>;
  findTopicPartitionMetadata(topic: string): unknown[];
  findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]>;
  findBroker(opts: { nodeId: string }): Promise<Broker>;
  isConnected(): boolean;
  connect(): Promise<void>;
  removeBroker(opts: { host: string; port: number }): void;
}
interface EosManager {
  isTransactional(): boolean;
  getTransactionalId(): string;
  getProducerId(): unknown;
  getProducerEpoch(): unknown;
  getSequence(topic: string, partition: number): number;
  updateSequence(topic: string, partition: number, increment: number): void;
  acquireBrokerLock(broker: Broker): Promise<void>;
  releaseBrokerLock(broker: Broker): Promise<void>;
  addPartitionsToTransaction(topicData: TopicData[]): Promise<void>;
}
interface Logger {
  debug(msg: string, extra?: Record<string, unknown>): void;
  error(msg: string, extra?: Record<string, unknown>): void;
}
type Retrier = <T>(fn: (bail: (e: Error) => void, retryCount: number, retryTime: number) => Promise<T>) => Promise<T>;
interface TopicData {
  topic: string;
  partitions: { partition: number; messages: unknown[]; firstSequence?: number }[];
}
type KafkaError = Error & { type?: string; retriable?: boolean; host?: string; port?: number };

export interface SendMessagesDeps {
  logger: Logger;
  cluster: Cluster;
  partitioner: (args: { topic: string; partitionMetadata: unknown[]; message: unknown }) => number;
  eosManager: EosManager;
  retrier: Retrier;
}
export interface SendRequest {
  acks: number;
  timeout: number;
  compression: number;
  topicMessages: { topic: string; messages: unknown[] }[];
}

const { KafkaJSMetadataNotLoaded } = require('kafkajs/src/errors.js') as { KafkaJSMetadataNotLoaded: new (msg: string) => Error };
const { staleMetadata } = require('kafkajs/src/protocol/error.js') as { staleMetadata: (e: KafkaError) => boolean };
const groupMessagesPerPartition = require('kafkajs/src/producer/groupMessagesPerPartition.js') as (a: {
  topic: string;
  partitionMetadata: unknown[];
  messages: unknown[];
  partitioner: SendMessagesDeps['partitioner'];
}) => Record<string, unknown[]>;
const responseSerializer = require('kafkajs/src/producer/responseSerializer.js') as (response: unknown) => unknown[];

/** The kafkajs `sendMessages` factory, with acknowledgements kept per partition. */
export function createSendMessages({ logger, cluster, partitioner, eosManager, retrier }: SendMessagesDeps) {
  return async ({ acks, timeout, compression, topicMessages }: SendRequest): Promise<unknown[]> => {
    // Each message's partition is decided once, so that a retry resends exactly what is missing.
    const plan = new Map<string, Record<string, unknown[]>>();
    const acknowledged = new Set<string>();
    const responses: unknown[] = [];

    const sendToLeader = async (nodeId: string, data: TopicData[]): Promise<void> => {
      const broker = await cluster.findBroker({ nodeId });
      await eosManager.acquireBrokerLock(broker);
      try {
        if (eosManager.isTransactional()) await eosManager.addPartitionsToTransaction(data);
        for (const { topic, partitions } of data) {
          for (const entry of partitions) {
            entry.firstSequence = eosManager.getSequence(topic, entry.partition);
            eosManager.updateSequence(topic, entry.partition, entry.messages.length);
          }
        }
        let response: unknown;
        try {
          response = await broker.produce({
            transactionalId: eosManager.isTransactional() ? eosManager.getTransactionalId() : undefined,
            producerId: eosManager.getProducerId(),
            producerEpoch: eosManager.getProducerEpoch(),
            acks,
            timeout,
            compression,
            topicData: data,
          });
        } catch (e) {
          for (const { topic, partitions } of data) for (const entry of partitions) eosManager.updateSequence(topic, entry.partition, -entry.messages.length);
          throw e;
        }
        if (acks !== 0) responses.push(...responseSerializer(response));
        for (const { topic, partitions } of data) for (const entry of partitions) acknowledged.add(`${topic}\u0000${entry.partition}`);
      } finally {
        await eosManager.releaseBrokerLock(broker);
      }
    };

    return retrier(async (bail, retryCount, retryTime) => {
      await cluster.addMultipleTargetTopics(topicMessages.map(({ topic }) => topic));
      try {
        await cluster.refreshMetadataIfNecessary();
        const perLeader = new Map<string, TopicData[]>();
        for (const { topic, messages } of topicMessages) {
          let perPartition = plan.get(topic);
          if (perPartition === undefined) {
            const partitionMetadata = cluster.findTopicPartitionMetadata(topic);
            if (partitionMetadata.length === 0) {
              logger.debug('Producing to topic without metadata', { topic });
              throw new KafkaJSMetadataNotLoaded('Producing to topic without metadata');
            }
            perPartition = groupMessagesPerPartition({ topic, partitionMetadata, messages, partitioner });
            plan.set(topic, perPartition);
          }
          const waiting = Object.keys(perPartition)
            .map(Number)
            .filter((p) => !acknowledged.has(`${topic}\u0000${p}`));
          if (waiting.length === 0) continue;
          for (const [nodeId, partitions] of Object.entries(cluster.findLeaderForPartitions(topic, waiting))) {
            const list = perLeader.get(nodeId) ?? [];
            list.push({ topic, partitions: partitions.map((partition) => ({ partition, messages: perPartition[partition]! })) });
            perLeader.set(nodeId, list);
          }
        }
        await Promise.all([...perLeader].map(([nodeId, data]) => sendToLeader(nodeId, data)));
        return responses;
      } catch (err) {
        const e = err as KafkaError;
        if (e.name === 'KafkaJSConnectionClosedError' && e.host !== undefined && e.port !== undefined) cluster.removeBroker({ host: e.host, port: e.port });
        if (!cluster.isConnected()) {
          logger.debug(`Cluster has disconnected, reconnecting: ${e.message}`, { retryCount, retryTime });
          await cluster.connect();
          await cluster.refreshMetadata();
          throw e;
        }
        // Stale metadata: a leader moved, or partitions were added.
        if (staleMetadata(e) || ['KafkaJSMetadataNotLoaded', 'KafkaJSConnectionError', 'KafkaJSConnectionClosedError'].includes(e.name) || (e.name === 'KafkaJSProtocolError' && e.retriable === true)) {
          logger.error(`Failed to send messages: ${e.message}`, { retryCount, retryTime });
          await cluster.refreshMetadata();
          throw e;
        }
        logger.error(e.message, { retryCount, retryTime });
        if (e.retriable === true) throw e;
        bail(e);
        return [];
      }
    });
  };
}

replaceKafkajsModule('producer/sendMessages.js', 'producer/messageProducer.js', createSendMessages, 'its produce retries are not mended');
