// The Kafka harness's public entry: tests, benchmarks, CI and `npm run kafka` import from here.
// Types for TypeScript callers are in index.d.mts (this glue is plain ESM with JSDoc).
export { SCRAM_USER, freePorts, startKafka } from './harness.mjs';
export { DEFAULT_KAFKA_VERSION, kafkaCacheDir, kafkaVersion, resolveKafka } from './resolve.mjs';
export { TLS_PASSWORD, ensureTls } from './tls.mjs';
