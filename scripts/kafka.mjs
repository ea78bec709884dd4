// `npm run kafka`: one development broker in the foreground on 127.0.0.1:9092 (KAFKA_PORT to
// change it), from the same harness the tests use. Ctrl-C stops it; its data is kept in
// .cache/kafka/dev (delete that directory for a fresh broker).
// Flags: --brokers N (a cluster on free ports after the first), --sasl, --tls, --prefetch (only
// resolve the jars, as CI does), --fresh (wipe the dev data first).
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { kafkaCacheDir, resolveKafka, startKafka } from './kafka/index.mjs';

const args = process.argv.slice(2);
const flag = (/** @type {string} */ name) => args.includes(name);
const log = (/** @type {string} */ line) => console.log(`[kafka] ${line}`);

if (flag('--prefetch')) {
  const r = await resolveKafka({ log });
  if (r.cached) log(`cached: kafka ${r.version} jars in ${r.libDir}`);
  process.exit(0);
}

const brokersArg = args.indexOf('--brokers');
const brokers = brokersArg >= 0 ? Number(args[brokersArg + 1]) : 1;
const port = Number(process.env.KAFKA_PORT || 9092);
const sasl = flag('--sasl');
const tls = flag('--tls');
// One data dir per shape: a dev broker restarted with other flags must not reuse
// another shape's metadata (its listeners and users differ).
const dir = path.join(kafkaCacheDir(), 'dev', `b${brokers}${sasl ? '-sasl' : ''}${tls ? '-tls' : ''}`);
if (flag('--fresh')) await rm(dir, { recursive: true, force: true });

/** @type {import('./kafka/index.mjs').KafkaCluster | undefined} */
let cluster;
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  log('stopping');
  await cluster?.stop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

try {
  cluster = await startKafka({ brokers, port, sasl, tls, dir, foreground: true, quickStart: false, log });
} catch (e) {
  console.error(`[kafka] ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}
log(`bootstrap: ${cluster.bootstrap.join(',')}`);
if (cluster.client.sasl) log(`SASL/SCRAM user ${cluster.client.sasl.username} password ${cluster.client.sasl.password}`);
if (tls) log(`TLS CA: ${path.join(kafkaCacheDir(), 'tls', 'ca.pem')}`);
log(`data and logs: ${dir}; Ctrl-C to stop`);
