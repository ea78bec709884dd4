#!/usr/bin/env node
// `npm run bench`: builds, then runs each benchmark in turn, each in its own process, printing its
// figures. Names select some (`npm run bench -- miner parse`); the Kafka benchmarks start real
// brokers and run only when named or with --kafka; the soak runs only when named. Figures belong in bench/RESULTS.md with the
// command, the machine (`nproc`, `uptime` load) and the versions printed here.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const IN_PROCESS = {
  wire: ['bench/wire.mjs'],
  'sniff-rollup': ['bench/sniff-rollup.mjs'],
  parse: ['bench/parse.mjs', '--all'],
  miner: ['--expose-gc', 'bench/miner.mjs'],
  detector: ['--expose-gc', 'bench/detector.mjs'],
  rules: ['--expose-gc', 'bench/rules.mjs'],
  'file-source': ['bench/file-source.mjs'],
  otlp: ['bench/otlp.mjs'],
  dashboard: ['bench/dashboard.mjs'],
};
const KAFKA = {
  'kafka-harness': ['bench/kafka-harness.mjs'],
  'kafka-e2e': ['bench/kafka-e2e.mjs', '--brokers', '1'],
};
// Long runs, only when named: `npm run bench -- soak` (10 minutes by default; SOAK_SECONDS,
// SOAK_MODE and the other knobs are in bench/soak.mjs; it starts a Kafka broker unless
// SOAK_MODE=embedded).
const ON_REQUEST = {
  soak: ['bench/soak.mjs'],
};
const args = process.argv.slice(2);
const all = { ...IN_PROCESS, ...KAFKA, ...ON_REQUEST };
const named = args.filter((a) => !a.startsWith('--'));
for (const n of named) {
  if (!(n in all)) {
    console.error(`bench: unknown benchmark ${n}; one of: ${Object.keys(all).join(', ')}`);
    process.exit(2);
  }
}
const chosen = named.length > 0 ? named : [...Object.keys(IN_PROCESS), ...(args.includes('--kafka') ? Object.keys(KAFKA) : [])];

const build = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
console.log(`node ${process.version}, ${(await import('node:os')).cpus().length} cores, load ${(await import('node:os')).loadavg().map((l) => l.toFixed(1)).join(' ')}`);
let failed = 0;
for (const name of chosen) {
  console.log(`\n== bench ${name}: node ${all[name].join(' ')}`);
  const r = spawnSync(process.execPath, all[name], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    console.log(`bench ${name}: exited ${r.status ?? r.signal}`);
  }
}
process.exit(failed === 0 ? 0 : 1);
