#!/usr/bin/env node
// `npm run chaos`: runs the vitest `chaos` project (test/chaos/*.chaos.test.ts: real agents and
// collectors on a 3-broker cluster under kill -9 and pauses, and the disk buffer's faults), then
// sums what the tests recorded in .cache/chaos-results.json into the last line:
//   chaos: rounds R, faults F, written W, counted C, lost L, duplicated D
// (README "Guarantees" says what each input promises; the tests assert it). Needs dist/ (npm run
// build). Extra arguments go to vitest. Exit status: vitest's.
//   node scripts/chaos.mjs --summary-only   prints the line from the results file, runs nothing
//                                           (scripts/test.mjs uses it after its own chaos run)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const results = `${root}.cache/chaos-results.json`;

/** The summary line of a results file (all zeros when there is none: nothing ran). */
export function chaosLine(path = results) {
  const t = { rounds: 0, faults: 0, written: 0, counted: 0, lost: 0, duplicated: 0 };
  if (existsSync(path)) {
    for (const r of Object.values(JSON.parse(readFileSync(path, 'utf8')))) for (const k of Object.keys(t)) t[k] += r[k] ?? 0;
  }
  return `chaos: rounds ${t.rounds}, faults ${t.faults}, written ${t.written}, counted ${t.counted}, lost ${t.lost}, duplicated ${t.duplicated}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  if (args.includes('--summary-only')) {
    console.log(chaosLine());
  } else {
    mkdirSync(`${root}.cache`, { recursive: true });
    rmSync(results, { force: true });
    const t0 = Date.now();
    const r = spawnSync('npx', ['vitest', 'run', '--project', 'chaos', '--reporter=default', '--reporter=json', `--outputFile.json=${root}.cache/vitest-chaos.json`, ...args], { cwd: root, stdio: 'inherit' });
    console.log(`chaos project: vitest exit ${r.status} in ${Math.round((Date.now() - t0) / 1000)} s`);
    console.log(chaosLine());
    process.exitCode = r.status ?? 1;
  }
}
