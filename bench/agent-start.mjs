// How fast the agent starts (issue 5: start-up is part of every file → Kafka figure): the real CLI
// with a file source and a kafka sink (defaults) on a harness broker, its topics created
// beforehand (as bench/kafka-e2e.mjs does), timed from spawn to its "started" log line and to its
// checkpoint holding the end of a 1000-line file (checkpoint_interval_ms: 20: what Kafka
// acknowledged). Run after `npm run build`:
//   node bench/agent-start.mjs [--rounds N] [--baseline-root DIR]
// --baseline-root also runs the agent of another built checkout, interleaved round by round.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { startKafka } from '../scripts/kafka/index.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const ROUNDS = Number(arg('rounds', '5'));
const BASELINE = arg('baseline-root', '');
const roots = [path.join(HERE, '..'), ...(BASELINE === '' ? [] : [BASELINE])];
const { Kafka, logLevel } = await import('../dist/core/kafkajs.js');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const LINES = 1000;

console.log(`# agent start bench: Node ${process.version}, ${os.cpus().length} cores, load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}, ${ROUNDS} rounds`);
const cluster = await startKafka({ brokers: 1, quickStart: false });
const kafka = new Kafka({ clientId: 'bench', brokers: cluster.bootstrap, logLevel: logLevel.NOTHING });
const dir = mkdtempSync(path.join(os.tmpdir(), 'tw-start-'));
const results = new Map(roots.map((r) => [r, { started: [], acked: [] }]));

async function once(root) {
  const p = `st${randomUUID().slice(0, 8)}.`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: ['logs', 'metrics', 'agents'].map((k) => ({ topic: `${p}${k}`, numPartitions: 6, replicationFactor: 1, configEntries: k === 'agents' ? [{ name: 'cleanup.policy', value: 'compact' }] : [] })),
  });
  await admin.disconnect();
  const logDir = path.join(dir, `in-${p}`);
  mkdirSync(logDir);
  const text = `${Array.from({ length: LINES }, (_, i) => `2026-11-25T10:00:00.000Z INFO request ${i} GET /cart 200`).join('\n')}\n`;
  writeFileSync(path.join(logDir, 'app.log'), text);
  const data = path.join(dir, `d-${p}`);
  const cfg = path.join(dir, `${p}.yaml`);
  writeFileSync(
    cfg,
    [
      `data_dir: ${data}`,
      'sources:',
      `  app: { type: file, include: ["${logDir}/*.log"], start_at: beginning, checkpoint_interval_ms: 20 }`,
      'sinks:',
      `  k: { type: kafka, brokers: ${JSON.stringify(cluster.bootstrap)}, topic_prefix: "${p}" }`,
      'pipelines:',
      '  logs: { sources: [app], sinks: [k] }',
      '',
    ].join('\n'),
  );
  const t0 = performance.now();
  const child = spawn(process.execPath, [path.join(root, 'bin', 'tidewatch.js'), 'agent', '--config', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
  let started = NaN;
  let err = '';
  child.stderr.on('data', (c) => {
    err += c;
    if (Number.isNaN(started) && /"msg":"started"/.test(err)) started = performance.now() - t0;
  });
  const end = `"offset":${Buffer.byteLength(text)},`;
  let acked = NaN;
  for (let i = 0; i < 2000 && Number.isNaN(acked); i++) {
    await sleep(5);
    try {
      if (readFileSync(path.join(data, 'source', 'app', 'checkpoint'), 'utf8').includes(end)) acked = performance.now() - t0;
    } catch {}
  }
  await new Promise((r) => (child.exitCode !== null ? r() : (child.once('exit', r), child.kill('SIGTERM'))));
  if (Number.isNaN(acked)) throw new Error(`agent of ${root} did not finish:\n${err.slice(-2000)}`);
  results.get(root).started.push(started);
  results.get(root).acked.push(acked);
}

try {
  for (let round = 0; round < ROUNDS; round++) for (const root of roots) await once(root);
} finally {
  await cluster.stop();
  rmSync(dir, { recursive: true, force: true });
}
const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (xs) => `median ${med(xs).toFixed(0)} ms (${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)})`;
for (const [root, r] of results) {
  console.log(`- ${root === roots[0] ? 'this build' : `baseline ${root}`}: "started" ${fmt(r.started)}; ${LINES} lines acknowledged (checkpoint) ${fmt(r.acked)}`);
}
