#!/usr/bin/env node
// Writes docs/configuration.md from the schemas (run after `npm run build`; `npm run docs:config`
// does both). `--check` writes nothing and exits 1 when the file is out of date.
import { readFileSync, writeFileSync } from 'node:fs';

const { renderConfigReference } = await import(new URL('../dist/core/config/reference.js', import.meta.url));
const { PROGRAMS } = await import(new URL('../dist/cli/commands/validate.js', import.meta.url));
const path = new URL('../docs/configuration.md', import.meta.url);
const text = await renderConfigReference(PROGRAMS);
if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(path, 'utf8');
  } catch {}
  if (current !== text) {
    process.stderr.write('docs/configuration.md is out of date: run `npm run docs:config`\n');
    process.exit(1);
  }
} else {
  writeFileSync(path, text);
}
