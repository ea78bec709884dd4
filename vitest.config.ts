import { defineConfig } from 'vitest/config';

// Tests that need a Kafka broker are named *.kafka.test.ts and run in their own project, whose
// global setup starts the harness broker (unless KAFKA_BROKERS is set). Unit tests never wait
// for a broker: vitest runs a project's global setup only when that project has files to run.
//
// - project `kafka` (test/**/*.kafka.test.ts): one broker for the whole run, started by
//   test/kafka/global-setup.ts; tests read its bootstrap list with `inject('kafkaBrokers')`
//   (string[]), or through kafkaBrokers() in test/kafka/harness.ts.
// - project `kafka-cluster` (test/**/*.cluster.kafka.test.ts): a 3-broker cluster started once
//   per run by test/kafka/cluster-setup.ts; `inject('kafkaCluster')` gives
//   { bootstrap, brokers, controlUrl }, and clusterControl() in test/kafka/harness.ts kills,
//   pauses, resumes and restarts its brokers. Its files run one at a time: they share the
//   cluster and disturb it on purpose.
// - project `chaos` (test/chaos/*.chaos.test.ts): the same cluster setup, for chaos runs.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.kafka.test.ts', 'test/**/*.browser.test.ts', 'test/**/*.chaos.test.ts', 'node_modules/**'],
          // TW_SCALE=full runs the fuzz and property tests 10-30x longer (test/support/scale.ts).
          testTimeout: process.env.TW_SCALE === 'full' ? 600_000 : 30_000,
        },
      },
      {
        test: {
          name: 'kafka',
          include: ['test/**/*.kafka.test.ts'],
          exclude: ['test/**/*.cluster.kafka.test.ts', 'node_modules/**'],
          globalSetup: ['test/kafka/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'kafka-cluster',
          include: ['test/**/*.cluster.kafka.test.ts'],
          exclude: ['node_modules/**'],
          globalSetup: ['test/kafka/cluster-setup.ts'],
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
      {
        // Chaos runs (issue 11, test/chaos/*.chaos.test.ts): real agent and collector processes
        // on the same 3-broker cluster setup as kafka-cluster (clusterControl() kills, pauses and
        // resumes brokers), one file at a time; `npm run chaos` runs this project alone.
        test: {
          name: 'chaos',
          include: ['test/chaos/*.chaos.test.ts'],
          exclude: ['node_modules/**'],
          globalSetup: ['test/kafka/cluster-setup.ts'],
          fileParallelism: false,
          testTimeout: 420_000,
          hookTimeout: 180_000,
        },
      },
      {
        // Headless Chromium (Debian's chromium at /usr/bin/chromium) driven by playwright-core;
        // one browser at a time on a small machine.
        test: {
          name: 'browser',
          include: ['test/**/*.browser.test.ts'],
          exclude: ['node_modules/**'],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
