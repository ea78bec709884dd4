// Kafka harness figures for bench/RESULTS.md: Maven resolve time (cold and cached), broker
// start time (1 and 3 nodes, against the usual JVM flags as baseline), and how long a
// read_committed reader stalls after a kill -9 of the process holding open transactions.
// Run: node bench/kafka-harness.mjs [--reps N] [--skip-cold]
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { kafkaVersion, resolveKafka, startKafka } from '../scripts/kafka/index.mjs';

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
const HERE = path.dirname(fileURLToPath(import.meta.url));
const HOLDER = path.join(HERE, '..', 'test', 'kafka', 'fixtures', 'txn-holder.mjs');
const args = process.argv.slice(2);
const repsArg = args.indexOf('--reps');
const REPS = repsArg >= 0 ? Number(args[repsArg + 1]) : 3;

/** @param {number[]} xs */
function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const med = s.length % 2 ? s[(s.length - 1) / 2] : ((s[s.length / 2 - 1] ?? 0) + (s[s.length / 2] ?? 0)) / 2;
  return `median ${(Number(med) / 1000).toFixed(1)} s (min ${((s[0] ?? 0) / 1000).toFixed(1)}, max ${((s.at(-1) ?? 0) / 1000).toFixed(1)}, n=${s.length})`;
}
const load = () => os.loadavg().map((x) => x.toFixed(1)).join(' ');
const out = (/** @type {string} */ line) => console.log(line);

out(`# kafka harness bench: Kafka ${kafkaVersion()}, Node ${process.version}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, load ${load()}`);

// 1. Maven resolve: cold = empty Maven repo and empty harness cache; warm Maven = ~/.m2-like
//    repo already holding the jars (a new clone on a machine that ran it before); hit = the
//    harness cache already complete (every later test run).
if (!args.includes('--skip-cold')) {
  const m2 = await mkdtemp(path.join(os.tmpdir(), 'tw-m2-'));
  const cacheA = await mkdtemp(path.join(os.tmpdir(), 'tw-kcache-'));
  const cacheB = await mkdtemp(path.join(os.tmpdir(), 'tw-kcache-'));
  const saved = { m2: process.env.MAVEN_REPO_LOCAL, cache: process.env.KAFKA_CACHE_DIR };
  try {
    process.env.MAVEN_REPO_LOCAL = m2;
    process.env.KAFKA_CACHE_DIR = cacheA;
    const cold = await resolveKafka();
    process.env.KAFKA_CACHE_DIR = cacheB;
    const warm = await resolveKafka();
    const hit = await resolveKafka();
    out(`resolve cold (empty Maven repo, empty cache): ${(cold.ms / 1000).toFixed(1)} s`);
    out(`resolve with a warm Maven repo, empty harness cache: ${(warm.ms / 1000).toFixed(1)} s`);
    out(`resolve, harness cache hit: ${hit.ms} ms`);
  } finally {
    if (saved.m2 === undefined) delete process.env.MAVEN_REPO_LOCAL;
    else process.env.MAVEN_REPO_LOCAL = saved.m2;
    if (saved.cache === undefined) delete process.env.KAFKA_CACHE_DIR;
    else process.env.KAFKA_CACHE_DIR = saved.cache;
    await Promise.all([m2, cacheA, cacheB].map((d) => rm(d, { recursive: true, force: true })));
  }
}
await resolveKafka();

// 2. Start time: from startKafka() to a kafkajs describeCluster listing every node, jars cached.
for (const [brokers, quickStart] of /** @type {const} */ ([[1, true], [1, false], [3, true]])) {
  const times = [];
  for (let i = 0; i < REPS; i++) {
    const c = await startKafka({ brokers, quickStart });
    times.push(c.timings.startMs);
    await c.stop();
  }
  out(`start ${brokers} node(s), ${quickStart ? 'quickStart (C1, serial GC; the default)' : 'tiered JIT + G1 (baseline)'}: ${stats(times)}; load ${load()}`);
}

// 3. Reader stall after kill -9 of a process with open transactions on 2 partitions
//    (one transactional.id per partition), with and without a replacement that reuses the ids.
const cluster = await startKafka({ brokers: 1 });
try {
  const kafka = new Kafka({ clientId: 'bench', brokers: cluster.bootstrap, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  /**
   * @param {string} topic @param {string} prefix @param {number} timeoutMs @param {boolean} commit
   * @returns {Promise<import('node:child_process').ChildProcess>}
   */
  const holder = (topic, prefix, timeoutMs, commit) => new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [HOLDER, cluster.bootstrap.join(','), topic, prefix, '0,1', String(timeoutMs), ...(commit ? ['--commit'] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
    const want = commit ? 'COMMITTED' : 'OPEN';
    let n = 0;
    child.once('exit', (code) => { if (n < 2) reject(new Error(`holder exited ${code}`)); });
    createInterface({ input: /** @type {NodeJS.ReadableStream} */ (child.stdout) }).on('line', (l) => {
      if (l.startsWith(want) && ++n === 2) resolve(child);
    });
  });
  /** @param {number} timeoutMs @param {boolean} replace */
  const stallOnce = async (timeoutMs, replace) => {
    const topic = `bench-stall-${Date.now()}-${Math.random().toString(16).slice(2, 8)}`;
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 2 }] });
    const child = await holder(topic, `${topic}-ingest`, timeoutMs, false);
    const p = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await p.connect();
    await p.send({ topic, acks: -1, messages: [{ partition: 0, value: 'marker' }, { partition: 1, value: 'marker' }] });
    await p.disconnect();
    const consumer = kafka.consumer({ groupId: `${topic}-reader`, maxWaitTimeInMs: 100 });
    /** @type {number[]} */
    const seen = [];
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => { if (message.value?.toString() === 'marker') seen.push(Date.now()); } });
    await new Promise((r) => setTimeout(r, 1500));
    if (seen.length) throw new Error('marker visible before the kill: the transaction did not block the reader');
    const killedAt = Date.now();
    child.kill('SIGKILL');
    if (replace) (await holder(topic, `${topic}-ingest`, timeoutMs, true)).kill();
    while (seen.length < 2) await new Promise((r) => setTimeout(r, 20));
    await consumer.disconnect();
    return Math.max(...seen) - killedAt;
  };
  for (const [timeoutMs, replace] of /** @type {const} */ ([[2000, false], [5000, false], [10000, false], [60000, true]])) {
    const times = [];
    for (let i = 0; i < REPS; i++) times.push(await stallOnce(timeoutMs, replace));
    out(`reader stall after kill -9, transactionTimeout ${timeoutMs} ms, ${replace ? 'replacement reuses the transactional.ids' : 'no replacement'}: ${stats(times)}`);
  }
  await admin.disconnect();
} finally {
  await cluster.stop();
}
