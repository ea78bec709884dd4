#!/usr/bin/env node
// The `prepare` script (run by `npm install`/`npm ci`): compiles TypeScript to dist/, unless
// dist/ was built after the last change to any input. Why: on a fresh clone, the first
// `npx tidewatch ...` makes npm link the project into its npx cache and run `prepare` once more;
// a second full compile would delay the first `npx tidewatch up` by 10-15 s on a small machine.
// `npm run build` and `npm test` always compile.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { vendor } from './vendor.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const stamp = join(root, 'dist', '.build-stamp');
const dirs = ['core', 'agent', 'collector', 'dashboard', 'cli'];
const files = ['tsconfig.json', 'tsconfig.build.json', 'package.json'];

function newest(path) {
  let st;
  try {
    st = statSync(path);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.mtimeMs;
  let max = st.mtimeMs; // a deleted file shows as a newer directory
  for (const name of readdirSync(path)) max = Math.max(max, newest(join(path, name)));
  return max;
}

// An installed package (`npm install -g tidewatch-x.tgz`) carries dist/ and no TypeScript sources
// nor compiler: npm still runs `prepare` there, and it must do nothing, needing no compiler.
if (!existsSync(join(root, 'core')) || !existsSync(join(root, 'tsconfig.build.json'))) {
  process.stdout.write('tidewatch: installed package, dist/ is prebuilt\n');
  process.exit(0);
}
const inputs = Math.max(...dirs.map((d) => newest(join(root, d))), ...files.map((f) => newest(join(root, f))));
if (existsSync(stamp) && statSync(stamp).mtimeMs >= inputs) {
  process.stdout.write('tidewatch: dist/ is up to date\n');
  process.exit(0);
}
const started = new Date();
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (r.status === 0) {
  // TypeBox and yaml bundled into dist/vendor (scripts/vendor.mjs): a faster start.
  await vendor(root);
  // Stamped with the start time: an edit made while tsc ran still counts as newer.
  writeFileSync(stamp, `${started.toISOString()}\n`);
  utimesSync(stamp, started, started);
}
process.exit(r.status ?? 1);
