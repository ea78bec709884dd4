// End-to-end Kafka figures for bench/RESULTS.md (issue 7), on a harness cluster of 1 and 3 brokers:
// 1. file → Kafka throughput: our agent (the real CLI: file source → kafka sink, defaults) beside
//    kcat -P -l (librdkafka) plain and tuned, same file, same broker, same run, with each side's
//    user+sys CPU (kcat under /usr/bin/time, the agent's /proc/<pid>/stat when its checkpoint,
//    which only Kafka's acknowledgements advance, reaches the file's end), and the brokers' JVM CPU
//    over each run (they share the two cores);
// 2. end-to-end lines/s, file → committed rollups (agent + one collector ingest stage), and
// 3. freshness: from a line's write returning to its count being visible in the open 1 s
//    window to a read_committed rollups reader, p50/p99.
// Run after `npm run build`: node bench/kafka-e2e.mjs [--lines N] [--brokers 1,3] [--only throughput]
//   [--runs R] [--warmup W] [--sinks 'compression: gzip|compression: lz4'] [--source 'k: v'] [--agent-prof DIR]
// --only throughput: part 1 only (kcat beside the agent), R times per cluster; --sinks runs the agent
// once per '|'-separated variant, each adding options to its kafka sink (YAML flow-map entries; an
// empty variant is the defaults); --agent-prof writes the agent's V8 CPU profile to DIR;
// --baseline-root DIR also runs the agent of another built checkout with the same variants (before/after),
// the two taking turns going first.
// --warmup W (throughput only; default 3): W whole rounds first, printed but left out of the medians,
// so that no side pays for the broker's cold JVM (a fresh broker served kcat's message-per-line run
// at 0.7-1.0M lines/s in the first round and 1.5-2.2M from the third; a production broker is warm). With R > 1 the run ends with each side's
// median and the agent's ratios to kcat.
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { startKafka } from '../scripts/kafka/index.mjs';

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
const HERE = path.dirname(fileURLToPath(import.meta.url));
const BIN = path.join(HERE, '..', 'bin', 'tidewatch.js');
// kafkajs through tidewatch's module: its read_committed filter is mended there (core/kafkajs-read-committed.ts).
const { Kafka, logLevel } = await import('../dist/core/kafkajs.js');
const { decodeRollup } = await import('../dist/core/wire.js');
const { PartialMerger } = await import('../dist/collector/ingest/merge.js');
// The bench's own consumers read what the agent wrote, lz4 included.
(await import('../dist/core/kafka-codecs.js')).registerKafkaCodecs();

const args = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const LINES = Number(arg('lines', '200000'));
const BROKERS = arg('brokers', '1,3').split(',').map(Number);
const ONLY = arg('only', 'all');
const RUNS = Number(arg('runs', '1'));
const WARMUP = Number(arg('warmup', '3'));
const SINK_VARIANTS = arg('sinks', '').split('|');
const AGENT_PROF = arg('agent-prof', '');
// Options added to the agent's file source (YAML flow-map entries), e.g. 'read_buffer_bytes: 1048576'.
const SOURCE_EXTRA = arg('source', '');
const BASELINE_ROOT = arg('baseline-root', '');
// Extra node flags for the agent (e.g. '--max-semi-space-size=64'), space-separated.
const AGENT_NODE_ARGS = arg('agent-node-args', '').split(' ').filter((x) => x !== '');
const out = (l) => console.log(l);
const kcatVersion = `kcat ${/Version (\S+ \(.*?librdkafka \S+)/.exec(spawnSync('kcat', ['-V']).stdout?.toString() ?? '')?.[1] ?? '?'})`;
out(`# kafka e2e bench: Node ${process.version}, ${os.cpus().length} cores, ${kcatVersion.trim()}, ${LINES} lines of 103 bytes, load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);

// CPU seconds (user, sys) of a running process, from /proc/<pid>/stat fields 14 and 15 (clock ticks).
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim()) || 100;
function procCpu(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { user: Number(f[11]) / CLK_TCK, sys: Number(f[12]) / CLK_TCK };
  } catch {
    return undefined;
  }
}
/** Peak resident memory of a running process (VmHWM), MB. */
function peakRssMb(pid) {
  try {
    return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;
  } catch {
    return NaN;
  }
}
/** The harness brokers' JVMs (their command lines name the cluster's directory). */
function brokerPids(cluster) {
  const out = spawnSync('pgrep', ['-f', cluster.dir]).stdout?.toString() ?? '';
  return out.split('\n').filter((x) => x !== '').map(Number).filter((pid) => pid !== process.pid);
}
/** CPU seconds (user + sys) the brokers have used so far. */
function brokerCpu(cluster) {
  let s = 0;
  for (const pid of brokerPids(cluster)) {
    const c = procCpu(pid);
    if (c !== undefined) s += c.user + c.sys;
  }
  return s;
}
const cpuText = (c) => (c ? `CPU ${c.user.toFixed(2)} s user + ${c.sys.toFixed(2)} s sys = ${((c.user + c.sys) / (LINES / 100_000)).toFixed(2)} s per 100k lines` : 'CPU ?');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};

function makeFile(dir, n) {
  const file = path.join(dir, 'app.log');
  const chunk = [];
  for (let i = 0; i < n; i++) chunk.push(`2026-11-25T10:00:00.000Z INFO request ${String(i).padStart(9, '0')} GET /cart 200 ${'x'.repeat(40)}`.padEnd(99, '.'));
  writeFileSync(file, `${chunk.join('\n')}\n`);
  return file;
}

/** Byte offset of the file's last line (the agent is done when that line is in the topic). */
function lastLineOffset(file) {
  const buf = readFileSync(file);
  return buf.lastIndexOf(0x0a, buf.length - 2) + 1;
}

async function topicCount(kafka, topic) {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offs = await admin.fetchTopicOffsets(topic);
    return offs.reduce((n, o) => n + Number(o.high), 0);
  } catch {
    return 0;
  } finally {
    await admin.disconnect();
  }
}

function startRole(role, configText, dir, extra = [], nodeArgs = [], bin = BIN) {
  const file = path.join(dir, `${role}-${randomUUID()}.yaml`);
  writeFileSync(file, configText);
  const child = spawn(process.execPath, [...nodeArgs, bin, role, '--config', file, ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (c) => (err += c.toString()));
  return { child, stderr: () => err, stop: () => new Promise((r) => (child.exitCode !== null ? r() : (child.once('exit', r), child.kill('SIGTERM')))) };
}

async function watchRollups(kafka, topic, onUpdate) {
  const merger = new PartialMerger(1_000_000);
  const consumer = kafka.consumer({ groupId: `bench-${randomUUID()}`, readUncommitted: false });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  let total = 0;
  await consumer.run({
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) {
        const p = decodeRollup(m.value);
        const before = merger.get(p.series_id, p.window_start)?.count ?? 0;
        const after = merger.add(p).count;
        total += after - before;
      }
      onUpdate?.(total);
    },
  });
  return { total: () => total, stop: () => consumer.disconnect() };
}

/** kcat -P -l into a fresh topic (6 partitions, rf); lines/s and kcat's own CPU. */
async function kcatRun(kafka, cluster, b, rf, file, label, extra) {
  const topic = `kcat-${randomUUID()}`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 6, replicationFactor: rf }] });
  await admin.disconnect();
  const b0 = brokerCpu(cluster);
  const t0 = performance.now();
  // /usr/bin/time (Debian `time`) reports the kcat process's own user+sys CPU on stderr.
  const r = spawnSync('/usr/bin/time', ['-f', 'TWCPU %U %S', 'kcat', '-P', '-b', b, '-t', topic, '-l', ...extra, file]);
  const ms = performance.now() - t0;
  const m = /TWCPU ([\d.]+) ([\d.]+)/.exec(r.stderr?.toString() ?? '');
  const cpu = m ? { user: Number(m[1]), sys: Number(m[2]) } : undefined;
  const b1 = brokerCpu(cluster);
  const n = await topicCount(kafka, topic);
  out(`- ${label}: ${Math.round(LINES / (ms / 1000))} lines/s (${(ms / 1000).toFixed(2)} s, ${n} messages in topic, exit ${r.status}); ${cpuText(cpu)}; broker CPU ${(b1 - b0).toFixed(2)} s`);
  return r.status === 0 && n === LINES ? { rate: LINES / (ms / 1000) } : undefined;
}

/**
 * The agent alone (real CLI, defaults plus --sink), file → Kafka, fresh data dir and topic prefix.
 * Done when the agent's checkpoint holds the file's end: the file source advances it only over
 * lines Kafka acknowledged (acks=all), and writes it every 20 ms here (checkpoint_interval_ms;
 * 1 s by default). The checkpoint is polled every 10 ms, a file read: unlike a consumer reading
 * along (the method before 2026-11-26), it takes no CPU from the two cores kcat and the agent
 * share with the broker. After the clock stops, a consumer checks that the topic holds the last
 * line (one file is one stream, one key, one partition, in order).
 */
async function agentAlone(kafka, cluster, dir, file, sinkExtra, root = '') {
  const p2 = `a${randomUUID().slice(0, 8)}.`;
  // The agent's topics exist before it starts, as kcat's do (same partitions): topic creation is
  // not part of either side's figure.
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: ['logs', 'metrics', 'agents'].map((k) => ({
      topic: `${p2}${k}`,
      numPartitions: 6,
      replicationFactor: Math.min(3, cluster.bootstrap.length),
      configEntries: k === 'agents' ? [{ name: 'cleanup.policy', value: 'compact' }] : [],
    })),
  });
  await admin.disconnect();
  const logDir = path.join(dir, `in-${p2}`);
  mkdirSync(logDir);
  spawnSync('cp', [file, path.join(logDir, 'app.log')]);
  const lastOffset = lastLineOffset(file);
  const needle = Buffer.from(`"offset":${lastOffset},`);
  const extra = sinkExtra === '' ? '' : `, ${sinkExtra}`;
  const cfg = [
    `data_dir: ${path.join(dir, `d-${p2}`)}`,
    'sources:',
    `  app: { type: file, include: ["${logDir}/*.log"], start_at: beginning, checkpoint_interval_ms: 20${SOURCE_EXTRA === '' ? '' : `, ${SOURCE_EXTRA}`} }`,
    'sinks:',
    `  k: { type: kafka, brokers: ${JSON.stringify(cluster.bootstrap)}, topic_prefix: "${p2}"${extra} }`,
    'pipelines:',
    '  logs: { sources: [app], sinks: [k] }',
    '',
  ].join('\n');
  const nodeArgs = [...(AGENT_PROF === '' ? [] : ['--cpu-prof', '--cpu-prof-dir', AGENT_PROF]), ...AGENT_NODE_ARGS];
  const b0 = brokerCpu(cluster);
  const a0 = performance.now();
  const a2 = startRole('agent', cfg, dir, [], nodeArgs, root === '' ? BIN : path.join(root, 'bin', 'tidewatch.js'));
  let doneAt = 0;
  // The first checkpoint past offset 0: from there on, the rate the agent sustains (start-up
  // excluded; kcat has no such figure, its start takes milliseconds).
  let firstAt = 0;
  let firstOffset = 0;
  let agentCpu;
  let agentRss = NaN;
  let brokerUsed = NaN;
  const checkpoint = path.join(dir, `d-${p2}`, 'source', 'app', 'checkpoint');
  const fileEnd = `"offset":${statSync(file).size},`;
  for (let i = 0; i < 6000 && doneAt === 0; i++) {
    await sleep(10);
    let text = '';
    try {
      text = readFileSync(checkpoint, 'utf8');
    } catch {}
    const off = Number(/"offset":(\d+)/.exec(text)?.[1] ?? 0);
    if (firstAt === 0 && off > 0 && !text.includes(fileEnd)) {
      firstAt = performance.now();
      firstOffset = off;
    }
    if (text.includes(fileEnd)) {
      doneAt = performance.now();
      agentCpu = procCpu(a2.child.pid);
      agentRss = peakRssMb(a2.child.pid);
      brokerUsed = brokerCpu(cluster) - b0;
    }
  }
  const s = (doneAt - a0) / 1000;
  const fileBytes = statSync(file).size;
  const steadyRate = firstAt === 0 ? undefined : (LINES * (1 - firstOffset / fileBytes)) / ((doneAt - firstAt) / 1000);
  const steady = steadyRate === undefined ? '' : `; after its first acknowledgement (${((firstAt - a0) / 1000).toFixed(2)} s, ${((100 * firstOffset) / fileBytes).toFixed(0)} % of the file) ${Math.round(steadyRate)} lines/s`;
  let inTopic = false;
  const c = kafka.consumer({ groupId: `bench-${randomUUID()}` });
  await c.connect();
  await c.subscribe({ topics: [`${p2}logs`], fromBeginning: true });
  await c.run({
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) if (m.value?.includes(needle)) inTopic = true;
    },
  });
  for (let i = 0; i < 600 && doneAt !== 0 && !inTopic; i++) await sleep(50);
  out(
    `- ${root === '' ? 'tidewatch agent' : `baseline agent of ${root}`} (CLI, defaults${extra}${SOURCE_EXTRA === '' ? '' : `; source ${SOURCE_EXTRA}`}${AGENT_NODE_ARGS.length > 0 ? `; node ${AGENT_NODE_ARGS.join(' ')}` : ''}), file → Kafka acked: ${doneAt === 0 ? 'DID NOT FINISH' : `${Math.round(LINES / s)} lines/s (${s.toFixed(2)} s incl. process start; measured at its checkpoint${inTopic ? ', last line read back from the topic' : ', LAST LINE NOT FOUND IN THE TOPIC'})${steady}`}; ${cpuText(agentCpu)} (incl. Node start), peak RSS ${agentRss.toFixed(0)} MB; broker CPU ${brokerUsed.toFixed(2)} s${doneAt === 0 ? `\n${a2.stderr().slice(-2000)}` : ''}`,
  );
  await c.disconnect();
  await a2.stop();
  // The file's copy and the agent's data: a 5-run bench of 1M lines left gigabytes behind.
  rmSync(logDir, { recursive: true, force: true });
  rmSync(path.join(dir, `d-${p2}`), { recursive: true, force: true });
  if (doneAt === 0 || !inTopic) return undefined;
  return { rate: LINES / s, steady: steadyRate };
}

/**
 * Medians of the measured runs, lines/s: each side's total, the agent's rate after its first
 * acknowledgement, and the agent's ratios to kcat's message-per-line run (issue 5: beyond it) and
 * to its tuned run (issue 5: within 2x). A run that failed (kcat's count short, the agent not
 * finished) is left out and said so.
 */
function summarize(figures) {
  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length === 0 ? NaN : s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  const med = new Map();
  out(`### medians of ${RUNS} runs (lines/s)`);
  out('| side | runs | total | after the first acknowledgement |');
  out('|---|---|---|---|');
  for (const [label, fs] of figures) {
    const ok = fs.filter((f) => f !== undefined);
    const m = median(ok.map((f) => f.rate));
    med.set(label, m);
    const steady = ok.map((f) => f.steady).filter((x) => x !== undefined);
    out(`| ${label} | ${ok.length}${ok.length < fs.length ? ` (${fs.length - ok.length} failed)` : ''} | ${Math.round(m)} | ${steady.length === 0 ? '' : Math.round(median(steady))} |`);
  }
  const perLine = med.get(KCAT_RUNS[0][0]);
  const tuned = med.get(KCAT_RUNS[1][0]);
  for (const [label, m] of med) {
    if (!label.startsWith('agent') && !label.startsWith('baseline')) continue;
    out(`- ${label}: ${(m / perLine).toFixed(2)}x kcat's message-per-line median (aim: above 1), kcat tuned ${(tuned / m).toFixed(2)}x faster (aim: at most 2)`);
  }
}

const KCAT_RUNS = [
  ['kcat -P -l (defaults: a message per line)', []],
  ['kcat -P -l tuned as issue 5 asks (linger.ms=50, batch.num.messages=10000, lz4)', ['-X', 'linger.ms=50', '-X', 'batch.num.messages=10000', '-X', 'compression.codec=lz4']],
  ['kcat -P -l tuned like our sink (acks=all, idempotent, lz4, linger.ms=5, batch.size=1000000)', ['-X', 'acks=all', '-X', 'compression.codec=lz4', '-X', 'linger.ms=5', '-X', 'batch.size=1000000', '-X', 'enable.idempotence=true']],
];

for (const nb of BROKERS) {
  const cluster = await startKafka({ brokers: nb, quickStart: false });
  const kafka = new Kafka({ clientId: 'bench', brokers: cluster.bootstrap, logLevel: logLevel.NOTHING });
  const b = cluster.bootstrap.join(',');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tw-kbench-'));
  try {
    const file = makeFile(dir, LINES);
    out(`\n## ${nb} broker(s), Kafka ${cluster.version}`);

    // 1. kcat plain and tuned, then our agent, each to a fresh topic (rf = min(3, brokers)).
    const rf = Math.min(3, nb);
    // Each side's figures over the measured runs (warm-up rounds aside), for the medians.
    const figures = new Map();
    const keep = (run, label, f) => {
      if (run < 1) return;
      if (!figures.has(label)) figures.set(label, []);
      figures.get(label).push(f);
    };
    const warmup = ONLY === 'throughput' ? WARMUP : 0;
    for (let run = 1 - warmup; run <= (ONLY === 'throughput' ? RUNS : 1); run++) {
      if (ONLY === 'throughput') out(`### ${run < 1 ? `warm-up round ${run + warmup} (not counted)` : `run ${run}`}, load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
      for (const [label, extra] of KCAT_RUNS) keep(run, label, await kcatRun(kafka, cluster, b, rf, file, label, extra));
      // With a baseline, the two agents take turns going first: the agent right after kcat's
      // runs was measured about 7 % slower than the one after it, whichever build it was
      // (bench/RESULTS.md, 2026-11-26 11:05-11:12 UTC), so a fixed order biases every A/B.
      const sides = [['agent', '']];
      if (BASELINE_ROOT !== '') sides[run % 2 === 0 ? 'unshift' : 'push'](['baseline', BASELINE_ROOT]);
      for (const [side, root] of sides) {
        for (const v of SINK_VARIANTS) keep(run, `${side}${v.trim() === '' ? '' : `, ${v.trim()}`}`, await agentAlone(kafka, cluster, dir, file, v.trim(), root));
      }
    }
    if (ONLY === 'throughput') {
      if (RUNS > 1) summarize(figures);
      continue;
    }

    // Our agent: file → kafka sink (defaults: gzip, acks=all, idempotent, linger 5 ms), then the
    // collector's ingest stage (one process) to committed rollups.
    const prefix = `b${randomUUID().slice(0, 8)}.`;
    const logDir = path.join(dir, 'in');
    mkdirSync(logDir);
    const agentCfg = (data) =>
      [`data_dir: ${data}`, 'sources:', `  app: { type: file, include: ["${logDir}/*.log"], start_at: beginning }`, 'sinks:', `  k: { type: kafka, brokers: ${JSON.stringify(cluster.bootstrap)}, topic_prefix: "${prefix}" }`, 'pipelines:', '  logs: { sources: [app], sinks: [k] }', ''].join('\n');
    const collectorCfg = [
      `data_dir: ${path.join(dir, 'c')}`,
      'sources:',
      `  k: { type: kafka, brokers: ${JSON.stringify(cluster.bootstrap)}, topic_prefix: "${prefix}", group_id: bench, emit_events: false }`,
      'sinks:',
      `  out: { type: file, path: ${path.join(dir, 'c-out.jsonl')} }`,
      'pipelines:',
      '  p: { sources: [k], sinks: [out] }',
      '',
    ].join('\n');
    const collector = startRole('collector', collectorCfg, dir, ['--stage', 'ingest']);
    // Topics and group in place before timing.
    for (let i = 0; i < 600 && !(await kafka.admin().listTopics().catch(() => [])).includes(`${prefix}rollups`); i++) await sleep(100);
    let rollupsDoneAt = 0;
    const watcher = await watchRollups(kafka, `${prefix}rollups`, (t) => {
      if (t >= LINES && rollupsDoneAt === 0) rollupsDoneAt = performance.now();
    });
    await sleep(3000);
    spawnSync('cp', [file, path.join(logDir, 'app.log')]);
    const t0 = performance.now();
    const agent = startRole('agent', agentCfg(path.join(dir, 'a')), dir);
    // Agent throughput: until the logs topic holds every line (messages carry many lines: count
    // by the agent's confirmed checkpoint instead, i.e. the topic stops growing and rollups catch up).
    let agentDoneAt = 0;
    for (let i = 0; i < 3000 && rollupsDoneAt === 0; i++) {
      await sleep(50);
      if (agentDoneAt === 0 && watcher.total() >= LINES) agentDoneAt = performance.now();
    }
    const e2eMs = rollupsDoneAt - t0;
    out(`- tidewatch agent + collector ingest, file → committed rollups: ${Math.round(LINES / (e2eMs / 1000))} lines/s (${(e2eMs / 1000).toFixed(2)} s incl. agent start ~0.3 s; total counted ${watcher.total()})`);

    // 3. Freshness: a line every 20 ms appended to a live file; the time from appendFileSync
    //    returning to the rollups reader's total including it.
    const live = path.join(logDir, 'live.log');
    const writes = [];
    let k = 0;
    const fw = await watchRollups(kafka, `${prefix}rollups`);
    // Let the second watcher catch up with history before timing.
    for (let i = 0; i < 600 && fw.total() < watcher.total(); i++) await sleep(50);
    const fwBase = fw.total();
    const seenAt = [];
    const pollStart = performance.now();
    const samples = 300;
    const poll = setInterval(() => {
      const got = fw.total() - fwBase;
      while (seenAt.length < got && seenAt.length < writes.length) seenAt.push(performance.now());
    }, 2);
    for (; k < samples; k++) {
      appendFileSync(live, `fresh ${k} ${'y'.repeat(60)}\n`);
      writes.push(performance.now());
      await sleep(20);
    }
    for (let i = 0; i < 200 && seenAt.length < samples; i++) await sleep(50);
    clearInterval(poll);
    const fresh = seenAt.map((t, i) => t - writes[i]);
    out(`- freshness (write returned → count visible to a read_committed rollups reader), ${fresh.length}/${samples} lines: p50 ${pct(fresh, 50).toFixed(0)} ms, p99 ${pct(fresh, 99).toFixed(0)} ms (since ${((performance.now() - pollStart) / 1000).toFixed(0)} s)`);
    await fw.stop();
    await watcher.stop();
    await agent.stop();
    await collector.stop();
  } finally {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
