#!/usr/bin/env node
// Runs every test, one vitest project after another: unit, browser, kafka (1 broker),
// kafka-cluster (3 brokers). One after another because each Kafka project starts its own JVMs
// and two of them at once overload a 2-core machine into timeouts. Each project writes a JSON
// report (.cache/vitest-<project>.json); the last line is `N passed, N failed`. The tests' temp
// files (data dirs, logs, brokers' logs) go to one directory per run (TMPDIR), removed at the end:
// thousands of test directories no longer pile up in /tmp.
// Usage: node scripts/test.mjs [--project NAME ...] [extra vitest args]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { summarize } from './test-summary.mjs';
import { chaosLine } from './chaos.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
// chaos (issue 11): kill -9 and pauses on the 3-broker cluster; its summary line is printed
// just before the last line (scripts/chaos.mjs).
const ALL = ['unit', 'browser', 'kafka', 'kafka-cluster', 'chaos'];
const args = process.argv.slice(2);
const projects = [];
const extra = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--project') projects.push(args[++i]);
  else extra.push(args[i]);
}
const run = projects.length > 0 ? projects : ALL;
mkdirSync(`${root}/.cache`, { recursive: true });
const runTmp = mkdtempSync(join(tmpdir(), 'tidewatch-test-'));

let passed = 0;
let failed = 0;
let skipped = 0;
let status = 0;
const failures = [];
for (const project of run) {
  const report = `${root}/.cache/vitest-${project}.json`;
  rmSync(report, { force: true });
  if (project === 'chaos') rmSync(`${root}/.cache/chaos-results.json`, { force: true });
  const t0 = Date.now();
  console.log(`== vitest project ${project}`);
  const r = spawnSync('npx', ['vitest', 'run', '--project', project, '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...extra], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, TMPDIR: runTmp },
  });
  if (r.status !== 0) status = 1;
  if (!existsSync(report)) {
    console.log(`${project}: no report (vitest did not run), counted as 1 failure`);
    failed += 1;
    status = 1;
    continue;
  }
  const { passed: p, failed: f, skipped: s, failures: list } = summarize(JSON.parse(readFileSync(report, 'utf8')));
  failures.push(...list.map((line) => `FAILED ${line}`));
  console.log(`${project}: ${p} passed, ${f} failed${s ? `, ${s} skipped` : ''} in ${Math.round((Date.now() - t0) / 1000)} s`);
  passed += p;
  failed += f;
  skipped += s;
}
try {
  rmSync(runTmp, { recursive: true, force: true });
} catch (err) {
  console.log(`could not remove ${runTmp}: ${err.message}`); // a mount a failed test left behind, say
}
for (const line of failures) console.log(line);
if (run.includes('chaos')) console.log(chaosLine());
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(status === 0 && failed === 0 ? 0 : 1);
