/**
 * What Kafka tests need, in one import:
 *   import { kafkaBrokers, kafkaClient, uniqueTopic } from '../kafka/harness.js';
 * - kafkaBrokers(): the `kafka` project's broker (`inject('kafkaBrokers')`).
 * - clusterBrokers() / clusterControl(): the `kafka-cluster` project's 3 brokers
 *   (`inject('kafkaCluster')`) and kill/pause/resume/restart of one of them.
 * - kafkaClient(): a kafkajs client for those brokers, quiet unless TW_KAFKAJS_LOG is set.
 * - uniqueTopic(): a topic name no other test (or earlier run on a kept broker) uses.
 * - startKafka / SCRAM_USER: for tests that need a broker of their own (SASL, TLS).
 */
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from '../../core/kafkajs.js';
import type { KafkaConfig } from 'kafkajs';
import { inject } from 'vitest';
import { waitFor } from '../support/wait.js';
import type { BrokerInfo, KafkaClientSettings } from '../../scripts/kafka/index.mjs';

export { SCRAM_USER, startKafka } from '../../scripts/kafka/index.mjs';
export type { BrokerInfo, KafkaClientSettings, KafkaCluster, StartOptions } from '../../scripts/kafka/index.mjs';

// kafkajs 2 prints a partitioner notice on every producer; the default partitioner is what we use.
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

/** Bootstrap list of the `kafka` project's broker (or KAFKA_BROKERS). */
export function kafkaBrokers(): string[] {
  const brokers = inject('kafkaBrokers');
  if (!brokers?.length) throw new Error('no kafkaBrokers provided: is this file named *.kafka.test.ts (project kafka)?');
  return brokers;
}

/** Bootstrap list of the `kafka-cluster` project's 3 brokers. */
export function clusterBrokers(): string[] {
  const cluster = inject('kafkaCluster');
  if (!cluster?.bootstrap.length) throw new Error('no kafkaCluster provided: is this file named *.cluster.kafka.test.ts?');
  return cluster.bootstrap;
}

/** A fresh topic name: prefix, then random hex (valid in Kafka topic names). */
export function uniqueTopic(prefix = 'tw-test'): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}

const LOG_LEVELS: Record<string, logLevel> = {
  debug: logLevel.DEBUG,
  info: logLevel.INFO,
  warn: logLevel.WARN,
  error: logLevel.ERROR,
};

/**
 * A kafkajs client. Default brokers: the `kafka` project's. Pass `settings` (a KafkaCluster's
 * `client`) to connect to a broker of your own, SASL/TLS included; `config` overrides the rest.
 */
export function kafkaClient(options: { brokers?: string[]; settings?: KafkaClientSettings; config?: Partial<KafkaConfig> } = {}): Kafka {
  const s = options.settings;
  return new Kafka({
    clientId: 'tidewatch-test',
    brokers: options.brokers ?? s?.brokers ?? kafkaBrokers(),
    logLevel: LOG_LEVELS[process.env.TW_KAFKAJS_LOG ?? ''] ?? logLevel.NOTHING,
    ...(s?.ssl ? { ssl: s.ssl } : {}),
    ...(s?.sasl ? { sasl: s.sasl } : {}),
    ...options.config,
  });
}

export interface ClusterControl {
  /** Current state of each broker (pid, running). */
  brokers(): Promise<BrokerInfo[]>;
  /** Sends a signal (default SIGKILL) to broker `id`; resolves once a terminating signal took effect. */
  kill(id: number, signal?: NodeJS.Signals): Promise<BrokerInfo[]>;
  /** SIGSTOP: the broker hangs with its sockets open. */
  pause(id: number): Promise<BrokerInfo[]>;
  resume(id: number): Promise<BrokerInfo[]>;
  /** Starts broker `id` again (stopping it first if it runs); resolves when the cluster lists it. */
  restart(id: number): Promise<BrokerInfo[]>;
}

/** Control of the `kafka-cluster` project's brokers (they live in the vitest main process). */
export function clusterControl(): ClusterControl {
  const base = inject('kafkaCluster').controlUrl;
  const call = async (method: 'GET' | 'POST', path: string): Promise<BrokerInfo[]> => {
    const res = await fetch(`${base}${path}`, { method });
    if (!res.ok) throw new Error(`cluster control ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as BrokerInfo[];
  };
  return {
    brokers: () => call('GET', '/brokers'),
    kill: (id, signal = 'SIGKILL') => call('POST', `/kill/${id}?signal=${signal}`),
    pause: (id) => call('POST', `/pause/${id}`),
    resume: (id) => call('POST', `/resume/${id}`),
    restart: (id) => call('POST', `/restart/${id}`),
  };
}

/** Polls `fn` until it returns a value other than undefined, or throws after `timeoutMs`. */
export { waitFor } from '../support/wait.js';

/** Resolves once every one of `topics` exists (a component under test creates them), polling every 500 ms. */
export async function waitForTopics(kafka: Kafka, topics: string[], what: string, timeoutMs: number): Promise<void> {
  await waitFor(async () => {
    const admin = kafka.admin();
    await admin.connect();
    const names = await admin.listTopics();
    await admin.disconnect();
    return topics.every((t) => names.includes(t)) ? true : undefined;
  }, what, timeoutMs, 500);
}
