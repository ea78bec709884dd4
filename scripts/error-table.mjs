#!/usr/bin/env node
// Rewrites the README's error table from core/errors.ts (run after `npm run build`).
import { readFileSync, writeFileSync } from 'node:fs';
const { ERROR_CODES } = await import(new URL('../dist/core/errors.js', import.meta.url));
const path = new URL('../README.md', import.meta.url);
const readme = readFileSync(path, 'utf8');
const rows = Object.entries(ERROR_CODES).map(([code, s]) => `| \`${code}\` | ${s.retriable ? 'yes' : 'no'} | ${s.summary} |`);
const start = '<!-- error-table:start -->';
const end = '<!-- error-table:end -->';
const a = readme.indexOf(start);
const b = readme.indexOf(end);
if (a < 0 || b < a) throw new Error('README has no error-table markers');
const table = [start, '| code | retriable | meaning |', '|---|---|---|', ...rows, ''].join('\n');
writeFileSync(path, readme.slice(0, a) + table + readme.slice(b));
