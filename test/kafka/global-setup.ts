/**
 * Global setup of the vitest `kafka` project: one real broker for the whole run, unless
 * KAFKA_BROKERS (comma-separated host:port) names one already running. Tests read the bootstrap
 * list with `inject('kafkaBrokers')` or kafkaBrokers() from test/kafka/harness.ts.
 */
import type { TestProject } from 'vitest/node';
import { startKafka } from '../../scripts/kafka/index.mjs';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Bootstrap list of the `kafka` project's broker (PLAINTEXT, loopback). */
    kafkaBrokers: string[];
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const external = process.env.KAFKA_BROKERS?.split(',').map((s) => s.trim()).filter(Boolean) ?? [];
  if (external.length > 0) {
    project.provide('kafkaBrokers', external);
    return async () => {};
  }
  const cluster = await startKafka({ brokers: 1, log: (line) => console.log(`[kafka] ${line}`) });
  project.provide('kafkaBrokers', cluster.bootstrap);
  return () => cluster.stop();
}
