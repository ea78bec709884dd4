import { defineConfig } from 'vitest/config';

// Tests that need a Kafka broker are named *.kafka.test.ts and run in their own project, whose
// global setup starts the harness broker (unless KAFKA_BROKERS is set). Unit tests never wait
// for a broker.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.kafka.test.ts', 'test/**/*.browser.test.ts', 'node_modules/**'],
          testTimeout: 30_000,
        },
      },
    ],
  },
});
