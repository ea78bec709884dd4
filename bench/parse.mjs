// Throughput of the parse chain (collector/transforms/parse.ts) feeding the count rollup
// (collector/transforms/rollup.ts), one core, on generated logs: JSON lines (pino-shaped),
// logfmt lines and an nginx access log in the combined format with a trailing request time.
// Baselines measured in the same run: JSON.parse alone on the same lines, and the usual
// grok-style regular expression for the combined format (what a regex-per-line parser does).
// Run after a build:
//   npx tsc -p tsconfig.build.json && node bench/parse.mjs
// BENCH_LINES (default 100000) sets the lines per corpus; BENCH_SECONDS (default 1) each run.
import { Parse } from '../dist/collector/transforms/parse.js';
import { Redact } from '../dist/collector/transforms/redact.js';
import { LogToMetric } from '../dist/collector/transforms/log-to-metric.js';
import { Rollup } from '../dist/collector/transforms/rollup.js';
import { MemoryTelemetry } from '../dist/core/telemetry.js';
import { silentLogger } from '../dist/core/log.js';
import { loadavg } from 'node:os';

const N = Number(process.env.BENCH_LINES ?? 100_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 1);
const BATCH = 500;
const t0 = Date.UTC(2026, 10, 25, 10);
const ctx = { name: 'bench', dataDir: '/tmp', telemetry: new MemoryTelemetry(), log: silentLogger, now: () => t0, agentId: 'a', hostName: 'h', bus: undefined };

// A small deterministic PRNG, so every run parses the same corpus.
let seed = 42;
function rnd() {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed / 0x1_0000_0000;
}
const pick = (xs) => xs[Math.floor(rnd() * xs.length)];
const PATHS = ['/', '/index.html', '/api/v1/cart', '/api/v1/orders/991', '/static/app.js', '/healthz', '/api/v1/search?q=shoes&page=2', '/login'];
const UAS = ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36', 'curl/8.5.0', 'kube-probe/1.31', 'okhttp/4.12.0'];
const STATUS = [200, 200, 200, 200, 200, 201, 204, 301, 304, 404, 500, 502];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
function apacheTime(ms) {
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}
const LEVELS = ['info', 'info', 'info', 'debug', 'warn', 'error'];

const nginx = [];
const json = [];
const logfmt = [];
for (let i = 0; i < N; i++) {
  const ms = t0 + i * 5;
  const ip = `10.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}`;
  const status = pick(STATUS);
  const rt = (rnd() * 0.5).toFixed(3);
  nginx.push(`${ip} - - [${apacheTime(ms)}] "${pick(['GET', 'GET', 'POST'])} ${pick(PATHS)} HTTP/1.1" ${status} ${Math.floor(rnd() * 20000)} "-" "${pick(UAS)}" "-" ${rt}`);
  const level = pick(LEVELS);
  json.push(`{"level":"${level}","time":"${new Date(ms).toISOString()}","msg":"request completed","reqId":"req-${i}","res":{"statusCode":${status}},"responseTime":${rt}}`);
  logfmt.push(`ts=${new Date(ms).toISOString()} level=${level} msg="request completed" req_id=req-${i} status=${status} duration=${rt}s`);
}
const records = (lines) => lines.map((body, i) => ({ kind: 'log', observed_time: t0 + i * 5, severity_number: 0, severity_text: '', body, attributes: { 'log.file.path': '/var/log/app.log' }, resource: { 'service.name': 'shop' } }));
const batchesOf = (recs) => {
  const out = [];
  for (let i = 0; i < recs.length; i += BATCH) out.push(recs.slice(i, i + BATCH));
  return out;
};
const corpora = { nginx: batchesOf(records(nginx)), json: batchesOf(records(json)), logfmt: batchesOf(records(logfmt)) };
const bytes = (lines) => Math.round(lines.reduce((n, l) => n + l.length, 0) / lines.length);

// Lines per CPU-second of this process (user + system), which is what "lines/s per core"
// means, and is far less disturbed than wall time on a shared, loaded machine: time spent
// waiting for a core is not counted. Wall-clock lines/s is printed beside it.
function rate(label, fn) {
  fn(); // warm-up
  let lines = 0;
  const cpu0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < SECONDS * 1e9) {
    lines += fn();
    elapsed = Number(process.hrtime.bigint() - start);
  }
  const cpu = process.cpuUsage(cpu0);
  const perCpuSec = lines / ((cpu.user + cpu.system) / 1e6);
  const perWallSec = lines / (elapsed / 1e9);
  console.log(`${label.padEnd(52)} ${(perCpuSec / 1e6).toFixed(2)} M lines/CPU-s   (wall ${(perWallSec / 1e6).toFixed(2)} M lines/s)`);
  return perCpuSec;
}

const chains = {
  json: [{ json: {} }, { timestamp: { field: 'time', formats: ['rfc3339'] } }, { severity: { field: 'level' } }],
  logfmt: [{ logfmt: {} }, { timestamp: { field: 'ts', formats: ['rfc3339'] } }, { severity: { field: 'level' } }],
  nginx: [{ preset: 'nginx_combined' }],
};
const parser = (steps) => new Parse({ routes: [{ steps }] }, ctx);

function parseOnly(name) {
  const p = parser(chains[name]);
  return () => {
    for (const b of corpora[name]) p.process(b, t0);
    return N;
  };
}

function parseRollup(name) {
  const p = parser(chains[name]);
  return () => {
    const r = new Rollup({ lateness_ms: 1000 }, ctx);
    for (const b of corpora[name]) r.process(p.process(b, t0), t0);
    r.flush(t0 + N * 5 + 10_000, true);
    return N;
  };
}

// The common grok-style pattern for the combined format (as in Logstash's COMBINEDAPACHELOG,
// written as one JavaScript regular expression).
const COMBINED = /^(?<client>\S+) \S+ (?<user>\S+) \[(?<time>[^\]]+)\] "(?<method>\S+) (?<path>\S+) (?<proto>[^"]+)" (?<status>\d{3}) (?<size>\d+|-) "(?<referer>[^"]*)" "(?<agent>[^"]*)"/;
function regexRollup() {
  return () => {
    const r = new Rollup({ lateness_ms: 1000 }, ctx);
    for (const b of corpora.nginx) {
      const out = b.map((e) => {
        const m = COMBINED.exec(e.body);
        if (m === null) return e;
        const status = Number(m.groups.status);
        const attributes = Object.assign({}, e.attributes, m.groups);
        attributes.status = status;
        // A literal, not a spread: see copyRecord in collector/transforms/parse.ts.
        return { kind: 'log', time: Date.parse(m.groups.time.replace(':', ' ')), observed_time: e.observed_time, severity_number: status >= 500 ? 17 : status >= 400 ? 13 : 9, severity_text: '', body: e.body, attributes, resource: e.resource };
      });
      r.process(out, t0);
    }
    r.flush(t0 + N * 5 + 10_000, true);
    return N;
  };
}

console.log(`corpora: ${N} lines each; mean line length nginx ${bytes(nginx)}, json ${bytes(json)}, logfmt ${bytes(logfmt)} chars; batches of ${BATCH}`);
rate('baseline: JSON.parse alone (json lines)', () => {
  for (const l of json) JSON.parse(l);
  return N;
});
rate('rollup alone (unparsed records)', () => {
  const r = new Rollup({ lateness_ms: 1000 }, ctx);
  for (const b of corpora.json) r.process(b, t0);
  r.flush(t0 + N * 5 + 10_000, true);
  return N;
});
for (const name of ['json', 'logfmt', 'nginx']) {
  rate(`parse ${name}`, parseOnly(name));
  rate(`parse ${name} + rollup`, parseRollup(name));
}
rate('rival: grok-style regex (nginx) + rollup', regexRollup());
if (process.argv.includes('--all')) {
  const red = new Redact({}, ctx);
  rate('redact, all rules (nginx lines, body only)', () => {
    for (const b of corpora.nginx) red.process(b, t0);
    return N;
  });
  const parsedNginx = corpora.nginx.map((b) => parser(chains.nginx).process(b, t0));
  rate('redact, all rules (parsed nginx: body + attributes)', () => {
    for (const b of parsedNginx) red.process(b, t0);
    return N;
  });
  rate('log_to_metric: count + request_time histogram', () => {
    const l = new LogToMetric({ metrics: [{ name: 'req', type: 'counter', labels: ['http.response.status_class'] }, { name: 'rt', type: 'histogram', field: 'request_time', labels: ['http.response.status_class'] }] }, ctx);
    for (const b of parsedNginx) l.process(b, t0);
    l.flush(t0 + N * 5 + 10_000, true);
    return N;
  });
}
console.log(`(Node ${process.version}, load average ${loadavg()[0].toFixed(1)})`);
