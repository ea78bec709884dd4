import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, TidewatchError } from '../../core/errors.js';

function readmeTable(): Map<string, { retriable: boolean; summary: string }> {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const start = readme.indexOf('<!-- error-table:start -->');
  const end = readme.indexOf('<!-- error-table:end -->');
  expect(start).toBeGreaterThan(-1);
  expect(end).toBeGreaterThan(start);
  const rows = new Map<string, { retriable: boolean; summary: string }>();
  for (const line of readme.slice(start, end).split('\n')) {
    const m = /^\| `(TW_[A-Z_]+)` \| (yes|no) \| (.*) \|$/.exec(line);
    if (m) rows.set(m[1]!, { retriable: m[2] === 'yes', summary: m[3]! });
  }
  return rows;
}

describe('error registry', () => {
  it('matches the README error table row for row', () => {
    const table = readmeTable();
    const registry = new Map(Object.entries(ERROR_CODES).map(([code, s]) => [code, { retriable: s.retriable, summary: s.summary }]));
    expect([...table.keys()].sort()).toEqual([...registry.keys()].sort());
    for (const [code, spec] of registry) expect(table.get(code), code).toEqual(spec);
  });

  it('gives every error its code and retriable flag from the registry', () => {
    const err = new TidewatchError('TW_SINK_WRITE', 'disk full', { path: '/x' });
    expect(err.code).toBe('TW_SINK_WRITE');
    expect(err.retriable).toBe(true);
    expect(new TidewatchError('TW_CONFIG_SCHEMA', 'bad').retriable).toBe(false);
  });
});
