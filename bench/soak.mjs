// Soak: a steady load for a long time (10 minutes by default), sampling the RSS and CPU of every
// tidewatch process every few seconds, to catch leaks that short benchmarks and tests cannot see.
//
//   embedded: `tidewatch up --config` (agent + collector + dashboard in one process) tailing files
//             that this script appends to at a steady rate (rotating them at 8 MiB);
//   kafka:    `tidewatch agent` (file → kafka sink) and `tidewatch collector` (kafka source →
//             exactly-once rollups, template mining, patterns topic) on a one-broker harness cluster.
//
// Both run at the same time by default, each with its own files. At the end every process must have
// taken in every line written (its own counters, read from its /metrics), and the table gives RSS
// start/min/max/end, the RSS slope after warm-up (least squares, MB/min) and average CPU%.
// A leak shows as a slope that stays positive through the second half of the run.
//
// Run after `npm run build` (holding the heavy lock, it takes SOAK_SECONDS):
//   flock /tmp/heavy.lock node bench/soak.mjs [--write]
// Env: SOAK_SECONDS (600), SOAK_RATE lines/s per path (500), SOAK_SAMPLE_MS (5000),
//      SOAK_MODE embedded | kafka | both (both). --write replaces the `## Soak (MODE)` section of
//      bench/RESULTS.md with this run's table.
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.join(HERE, '..');
const BIN = path.join(ROOT, 'bin', 'tidewatch.js');
const SECONDS = Number(process.env.SOAK_SECONDS ?? 600);
const RATE = Number(process.env.SOAK_RATE ?? 500);
const SAMPLE_MS = Number(process.env.SOAK_SAMPLE_MS ?? 5000);
const MODE = process.env.SOAK_MODE ?? 'both';
const WRITE = process.argv.includes('--write');
const ROTATE_BYTES = 8 * 1024 * 1024;
// RSS grows while caches, JIT code and windows fill: judge the slope after this.
const WARMUP_S = Math.min(120, Math.max(10, SECONDS * 0.2));
if (!['embedded', 'kafka', 'both'].includes(MODE)) {
  console.error(`soak: SOAK_MODE must be embedded, kafka or both, not ${MODE}`);
  process.exit(2);
}
if (!existsSync(path.join(ROOT, 'dist', 'cli', 'main.js'))) {
  console.error('soak: dist/ is missing; run `npm run build` first');
  process.exit(2);
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim()) || 100;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (line) => console.log(`[soak ${new Date().toISOString().slice(11, 19)}] ${line}`);

/** RSS (MiB) and CPU seconds (user + sys) of a live process, from /proc. */
function procSample(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { rss: rssKb / 1024, cpu: (Number(f[11]) + Number(f[12])) / CLK_TCK };
  } catch {
    return undefined;
  }
}

/** Least-squares slope of y over x. */
function slope(points) {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((a, p) => a + p.x, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return den === 0 ? NaN : num / den;
}

/** A steady writer: RATE lines a second in ticks of 100 ms, rotating by rename at ROTATE_BYTES. */
class Writer {
  constructor(dir, name) {
    this.dir = dir;
    this.file = path.join(dir, `${name}.log`);
    this.written = 0;
    this.seq = 0;
    mkdirSync(dir, { recursive: true });
    writeFileSync(this.file, '');
  }

  line(now) {
    const i = this.seq++;
    const ts = new Date(now).toISOString();
    // A handful of templates with variable parts, as real services log; a few errors a second.
    switch (i % 10) {
      case 0:
        return `${ts} ERROR payment ${i} failed for user${i % 997}@example.com: card declined (code ${i % 50})`;
      case 1:
      case 2:
        return `${ts} WARN slow query took ${(i % 900) + 100} ms on table orders_${i % 16}`;
      case 3:
        return `${ts} INFO user ${i % 5000} logged in from 10.${i % 256}.${(i >> 8) % 256}.${i % 7}`;
      default:
        return `${ts} INFO GET /api/v1/items/${i % 10_000} 200 ${(i * 7) % 5000} bytes in ${i % 97} ms request_id=${(i * 2654435761) % 4294967296}`;
    }
  }

  tick(n) {
    const now = Date.now();
    let text = '';
    for (let k = 0; k < n; k++) text += `${this.line(now)}\n`;
    appendFileSync(this.file, text);
    this.written += n;
    if (statSync(this.file).size >= ROTATE_BYTES) {
      // logrotate's default: rename, then a new file (the tailer finishes the renamed one).
      renameSync(this.file, `${this.file}.1`);
      writeFileSync(this.file, '');
    }
  }
}

/** A tidewatch process: spawned, its stderr kept (last lines), its /metrics URL learned from its log. */
class Proc {
  constructor(label, args, env = {}) {
    this.label = label;
    this.samples = [];
    this.tail = [];
    this.metricsUrl = undefined;
    this.child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.exited = new Promise((r) => this.child.once('exit', (code, signal) => r({ code, signal })));
    const onText = (buf) => {
      for (const l of buf.toString().split('\n')) {
        if (l === '') continue;
        this.tail.push(l);
        if (this.tail.length > 40) this.tail.shift();
        const m = /"metrics":"(http:\/\/[^"]+)"/.exec(l) ?? /dashboard at (http:\/\/\S+)/.exec(l);
        if (m && this.metricsUrl === undefined) this.metricsUrl = m[1].endsWith('/') ? `${m[1]}metrics` : m[1];
      }
    };
    this.child.stdout.on('data', onText);
    this.child.stderr.on('data', onText);
  }

  get pid() {
    return this.child.pid;
  }

  async waitReady(ms = 60_000) {
    const until = Date.now() + ms;
    while (this.metricsUrl === undefined) {
      if (this.child.exitCode !== null || Date.now() > until) throw new Error(`${this.label} did not start:\n${this.tail.join('\n')}`);
      await sleep(100);
    }
  }

  async stop() {
    if (this.child.exitCode === null) this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 30_000);
    const r = await this.exited;
    clearTimeout(t);
    return r;
  }
}

const work = mkdtempSync(path.join(os.tmpdir(), 'tw-soak-'));
const procs = [];
const writers = [];
let cluster;
const cleanup = async () => {
  for (const p of procs) if (!p.context) await p.stop().catch(() => undefined);
  await cluster?.stop().catch(() => undefined);
  rmSync(work, { recursive: true, force: true });
};
process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));

const version = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version;
const cpuModel = os.cpus()[0]?.model ?? '?';
const header = `Node ${process.version}, tidewatch ${version}, ${os.cpus().length} cores (${cpuModel}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, load at start ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`;
log(`${header}; ${SECONDS} s at ${RATE} lines/s per path, sample every ${SAMPLE_MS} ms, mode ${MODE}`);

let kafkaVersion = '';
let startRetries = 0;
let ok = true;
try {
  if (MODE === 'embedded' || MODE === 'both') {
    const w = new Writer(path.join(work, 'up-logs'), 'app');
    writers.push({ path: 'embedded', w });
    const cfg = path.join(work, 'up.yaml');
    writeFileSync(cfg, `sources:\n  app: { type: file, include: [${JSON.stringify(path.join(w.dir, '*.log'))}], start_at: beginning }\n`);
    const up = new Proc('tidewatch up', ['up', '--config', cfg, '--port', '0', '--data-dir', path.join(work, 'up-data')]);
    procs.push(up);
    await up.waitReady();
    up.counterName = 'tidewatch_events_received_total';
    up.counterComponent = 'app';
  }
  if (MODE === 'kafka' || MODE === 'both') {
    const { startKafka, kafkaVersion: kv } = await import('../scripts/kafka/index.mjs');
    kafkaVersion = kv();
    cluster = await startKafka({ brokers: 1 });
    const brokers = JSON.stringify(cluster.bootstrap);
    const w = new Writer(path.join(work, 'agent-logs'), 'app');
    writers.push({ path: 'kafka', w });
    const agentCfg = path.join(work, 'agent.yaml');
    writeFileSync(
      agentCfg,
      [
        `data_dir: ${JSON.stringify(path.join(work, 'agent-data'))}`,
        'sources:',
        `  app: { type: file, include: [${JSON.stringify(path.join(w.dir, '*.log'))}], start_at: beginning }`,
        '  beat: { type: heartbeat }',
        '  self: { type: internal_metrics, listen: "127.0.0.1:0", emit: false }',
        'sinks:',
        `  k: { type: kafka, brokers: ${brokers}, topics: { partitions: 2 } }`,
        // Heartbeats through a sink of their own, so k's sent counter counts log lines only.
        `  kb: { type: kafka, brokers: ${brokers}, client_id: tidewatch-beat, topics: { partitions: 2 } }`,
        'pipelines:',
        '  logs: { sources: [app, self], sinks: [k] }',
        '  agents: { sources: [beat], sinks: [kb] }',
        '',
      ].join('\n'),
    );
    const collectorCfg = path.join(work, 'collector.yaml');
    writeFileSync(
      collectorCfg,
      [
        `data_dir: ${JSON.stringify(path.join(work, 'collector-data'))}`,
        'sources:',
        `  k: { type: kafka, brokers: ${brokers}, group_id: soak, topics: { partitions: 2 } }`,
        '  self: { type: internal_metrics, listen: "127.0.0.1:0", emit: false }',
        'transforms:',
        '  mine: { type: mine_templates, emit_metrics: false }',
        'sinks:',
        `  patterns: { type: patterns, topic: tidewatch.patterns, tail_topic: tidewatch.tail, brokers: ${brokers} }`,
        'pipelines:',
        '  p: { sources: [k, self], transforms: [mine], sinks: [patterns] }',
        '',
      ].join('\n'),
    );
    // The agent first: it creates the topics, and the collector then starts on a settled cluster.
    const agent = new Proc('agent', ['agent', '--config', agentCfg]);
    procs.push(agent);
    await agent.waitReady();
    await sleep(3000);
    // A collector that fails at start on a just-created topic (metadata not yet everywhere) is
    // started again, at most twice; the table notes it.
    let collector;
    for (let attempt = 1; ; attempt++) {
      collector = new Proc('collector', ['collector', '--config', collectorCfg]);
      try {
        await collector.waitReady();
        break;
      } catch (err) {
        await collector.stop();
        if (attempt === 3) throw err;
        log(`collector failed to start (attempt ${attempt}), starting it again: ${collector.tail.at(-1)?.slice(0, 200) ?? ''}`);
        startRetries++;
        await sleep(2000);
      }
    }
    procs.push(collector);
    agent.counterName = 'tidewatch_events_sent_total';
    agent.counterComponent = 'k';
    collector.counterName = 'tidewatch_events_received_total';
    collector.counterComponent = 'k';
    const broker = cluster.brokers[0];
    procs.push({ label: 'kafka broker (JVM, context only)', pid: broker.pid, samples: [], context: true });
  }

  // Load and sampling.
  const t0 = Date.now();
  const perTick = RATE / 10;
  let carry = 0;
  const load = setInterval(() => {
    carry += perTick;
    const n = Math.floor(carry);
    carry -= n;
    for (const { w } of writers) w.tick(n);
  }, 100);
  const sampleAll = () => {
    const t = (Date.now() - t0) / 1000;
    for (const p of procs) {
      const s = procSample(p.pid);
      if (s !== undefined) p.samples.push({ t, ...s });
    }
  };
  sampleAll();
  const sampler = setInterval(sampleAll, SAMPLE_MS);
  let nextReport = 60;
  while ((Date.now() - t0) / 1000 < SECONDS) {
    await sleep(1000);
    for (const p of procs) {
      if (!p.context && p.child.exitCode !== null) throw new Error(`${p.label} exited during the soak:\n${p.tail.join('\n')}`);
    }
    if ((Date.now() - t0) / 1000 >= nextReport) {
      nextReport += 60;
      log(procs.map((p) => `${p.label}: ${p.samples.at(-1)?.rss.toFixed(1) ?? '?'} MB`).join(', '));
    }
  }
  clearInterval(load);
  sampleAll();
  clearInterval(sampler);

  // Every line taken in: wait for the pipelines to drain (at most 60 s).
  const drained = {};
  for (const p of procs.filter((x) => x.counterName !== undefined)) {
    const w = writers.find((x) => (p.label === 'tidewatch up' ? x.path === 'embedded' : x.path === 'kafka')).w;
    const until = Date.now() + 60_000;
    let seen = 0;
    for (;;) {
      seen = await counterOf(p);
      if (seen >= w.written || Date.now() > until) break;
      await sleep(1000);
    }
    drained[p.label] = { seen, written: w.written };
    if (seen < w.written) ok = false;
  }

  const rows = procs.map((p) => summarize(p));
  const table = [
    '| process | RSS start MB | min | max | end | slope after warm-up MB/min | slope, 2nd half MB/min | CPU % (of one core) | counted / lines written |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.label} | ${r.start} | ${r.min} | ${r.max} | ${r.end} | ${r.slope} | ${r.slope2} | ${r.cpu} | ${drained[r.label] ? `${drained[r.label].seen} / ${drained[r.label].written}` : '–'} |`,
    ),
  ].join('\n');
  const verdicts = rows.filter((r) => !r.context).map((r) => `${r.label}: ${r.verdict}`);
  console.log(`\n${table}\n\n${verdicts.join('\n')}`);
  if (!ok) console.log('\nNOT every line written was taken in (see the last column).');
  for (const p of procs.filter((x) => !x.context)) {
    const r = await p.stop();
    if (r.code !== 0) {
      ok = false;
      console.log(`${p.label} exited ${r.code ?? r.signal} on SIGTERM:\n${p.tail.slice(-10).join('\n')}`);
    }
  }
  if (WRITE) writeResults(table, verdicts, drained);
} catch (err) {
  ok = false;
  console.error(`soak failed: ${err instanceof Error ? err.message : String(err)}`);
} finally {
  await cleanup();
}
process.exit(ok ? 0 : 1);

async function counterOf(p) {
  const res = await fetch(p.metricsUrl).catch(() => undefined);
  if (res === undefined) return 0;
  const text = await res.text();
  let sum = 0;
  for (const l of text.split('\n')) {
    if (!l.startsWith(`${p.counterName}{`)) continue;
    if (!l.includes(`component="${p.counterComponent}"`)) continue;
    sum += Number(l.slice(l.lastIndexOf(' ') + 1));
  }
  return sum;
}

function summarize(p) {
  const s = p.samples;
  const f = (x) => (Number.isFinite(x) ? x.toFixed(1) : '?');
  const rss = s.map((x) => x.rss);
  const after = s.filter((x) => x.t >= WARMUP_S).map((x) => ({ x: x.t / 60, y: x.rss }));
  const half = s.filter((x) => x.t >= SECONDS / 2).map((x) => ({ x: x.t / 60, y: x.rss }));
  const first = s[0];
  const last = s.at(-1);
  const cpu = first && last && last.t > first.t ? ((last.cpu - first.cpu) / (last.t - first.t)) * 100 : NaN;
  const sl = slope(after);
  const sl2 = slope(half);
  // A leak grows steadily: positive through the second half, beyond GC saw-tooth noise (±1 MB/min
  // on a 10-minute run), and the end is near the maximum.
  // Bounded stores (the dashboard's 3600 one-second points per series, the pattern catalog, the
  // tail) keep filling for up to an hour, so a small positive slope is not yet a verdict.
  const verdict =
    !Number.isFinite(sl2)
      ? 'too few samples to judge'
      : sl2 > 1 && sl > 1
        ? `LEAK SUSPECTED: RSS still growing ${f(sl2)} MB/min in the second half`
        : sl2 > 0.1
          ? `no leak above 1 MB/min; RSS still rising slowly (${f(sl)} MB/min after warm-up, ${f(sl2)} in the second half): bounded stores filling, or a slow leak that only a run of over an hour (SOAK_SECONDS=4000) can tell apart`
          : `no leak seen: RSS flat after warm-up (${f(sl)} MB/min, second half ${f(sl2)} MB/min)`;
  return {
    label: p.label,
    context: p.context === true,
    start: f(first?.rss),
    min: f(Math.min(...rss)),
    max: f(Math.max(...rss)),
    end: f(last?.rss),
    slope: f(sl),
    slope2: f(sl2),
    cpu: f(cpu),
    verdict,
  };
}

function writeResults(table, verdicts, drained) {
  const file = path.join(HERE, 'RESULTS.md');
  const text = readFileSync(file, 'utf8');
  const lines = Object.entries(drained).map(([k, v]) => `${k} ${v.seen}/${v.written}`);
  const section = [
    `## Soak (${MODE}): RSS and CPU over a long steady load (issue 11)`,
    '',
    `Command: \`flock /tmp/heavy.lock node bench/soak.mjs --write\` (SOAK_SECONDS=${SECONDS}, SOAK_RATE=${RATE} lines/s per path, SOAK_SAMPLE_MS=${SAMPLE_MS}, SOAK_MODE=${MODE}), run ${new Date().toISOString().slice(0, 16)}Z.`,
    `Machine: ${header}${kafkaVersion ? `; Kafka ${kafkaVersion} (one harness broker)` : ''}.`,
    '',
    'Load: this script appends lines of five templates (errors with e-mail addresses, slow queries, logins, access lines) at a steady rate to one file per path and rotates it by rename at 8 MiB.',
    ...(MODE !== 'kafka' ? ['*embedded*: `tidewatch up --config` tailing its file (agent, collector: severity sniff, rollups, template mining, rules, dashboard, in one process).'] : []),
    ...(MODE !== 'embedded' ? ['*kafka*: `tidewatch agent` (file source, internal_metrics → kafka sink, memory buffer; heartbeat → a second kafka sink) and `tidewatch collector` (kafka source, exactly-once ingest and rules stages → mine_templates → patterns sink on Kafka).'] : []),
    `RSS from /proc/PID/status (VmRSS) and CPU from /proc/PID/stat (utime + stime) every ${SAMPLE_MS / 1000} s; slopes are least-squares fits after a ${WARMUP_S} s warm-up and over the second half; the last column is each process's own counter (read from its /metrics) against the lines written (${lines.join(', ')}): \`up\` and the agent count exactly the lines (events its file source read; events its kafka sink had acknowledged), the collector counts records its kafka source consumed, which include the rollup partials its rules stage reads back, so at least the lines.`,
    '',
    table,
    '',
    ...verdicts.map((v) => `- ${v}`),
    ...(startRetries > 0 ? [`- The collector failed at start ${startRetries} time(s) on the fresh cluster and was started again before the load began.`] : []),
    '',
  ].join('\n');
  // One section per mode, so an embedded run and a Kafka run each keep their own table.
  const start = text.search(new RegExp(`^## Soak \\(${MODE}\\)`, 'm'));
  let out;
  if (start < 0) out = `${text.replace(/\n*$/, '\n\n')}${section}`;
  else {
    const rest = text.slice(start + 3);
    const next = rest.search(/^## /m);
    out = text.slice(0, start) + section + (next < 0 ? '' : `\n${rest.slice(next)}`);
  }
  writeFileSync(file, out);
  log(`bench/RESULTS.md: ## Soak (${MODE}) section written`);
}
