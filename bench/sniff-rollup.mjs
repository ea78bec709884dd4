// Throughput of the embedded collector's thin stages (collector/transforms/sniff-severity.ts and
// rollup.ts) on the demo generator's lines, against a naive severity guess (upper-case the whole
// line and look for each level word). Run after a build:
//   npx tsc -p tsconfig.build.json && node bench/sniff-rollup.mjs
import { DemoLogGenerator } from '../dist/agent/demo-logs.js';
import { SniffSeverity } from '../dist/collector/transforms/sniff-severity.js';
import { Rollup } from '../dist/collector/transforms/rollup.js';
import { MemoryTelemetry } from '../dist/core/telemetry.js';
import { silentLogger } from '../dist/core/log.js';

const N = Number(process.env.BENCH_LINES ?? 100_000);
const BATCH = 500;
const gen = new DemoLogGenerator({ seed: 1 });
const t0 = Date.UTC(2026, 10, 25);
const bodies = [];
for (let t = t0; bodies.length < N; t += 1000) {
  const { access, app } = gen.lines(t, t + 1000);
  bodies.push(...access, ...app);
}
bodies.length = N;
const records = bodies.map((body, i) => ({ kind: 'log', observed_time: t0 + i, severity_number: 0, severity_text: '', body, attributes: {}, resource: {} }));
const batches = [];
for (let i = 0; i < records.length; i += BATCH) batches.push(records.slice(i, i + BATCH));
const ctx = { name: 'bench', dataDir: '/tmp', telemetry: new MemoryTelemetry(), log: silentLogger, now: () => 0, agentId: 'a', hostName: 'h', bus: undefined };

function naive(events) {
  return events.map((e) => {
    const s = String(e.body).toUpperCase();
    const n = s.includes('FATAL') ? 21 : s.includes('ERROR') ? 17 : s.includes('WARN') ? 13 : s.includes('INFO') ? 9 : s.includes('DEBUG') ? 5 : 0;
    return n === 0 ? e : { ...e, severity_number: n, severity_text: '' };
  });
}

function rate(label, fn) {
  // Warm up, then repeat for ~1 s.
  fn();
  let lines = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < 1e9) {
    lines += fn();
    elapsed = Number(process.hrtime.bigint() - start);
  }
  const perSec = lines / (elapsed / 1e9);
  console.log(`${label.padEnd(34)} ${(perSec / 1e6).toFixed(2)} M lines/s`);
  return perSec;
}

const sniff = new SniffSeverity({}, ctx);
rate('sniff_severity', () => {
  for (const b of batches) sniff.process(b, 0);
  return N;
});
rate('naive (toUpperCase + includes)', () => {
  for (const b of batches) naive(b);
  return N;
});
const sniffed = batches.map((b) => sniff.process(b, 0));
rate('rollup (count by second, severity)', () => {
  const r = new Rollup({ lateness_ms: 1000 }, ctx);
  for (const b of sniffed) r.process(b, 0);
  r.flush(t0 + N + 10_000, true);
  return N;
});
rate('sniff_severity + rollup', () => {
  const r = new Rollup({ lateness_ms: 1000 }, ctx);
  for (const b of batches) r.process(sniff.process(b, 0), 0);
  r.flush(t0 + N + 10_000, true);
  return N;
});
console.log(`(${N} demo lines, batches of ${BATCH}, Node ${process.version}, load average ${(await import('node:os')).loadavg()[0].toFixed(1)})`);
