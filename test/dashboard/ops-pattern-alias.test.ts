/**
 * The Patterns page shows the catalog's live records only: a record with `alias_of` (a pattern a
 * miner merged into another, whose record counts its lines) removes the pattern from the list,
 * also when it arrives after the pattern's own live records.
 */
import { describe, expect, it } from 'vitest';
import { OpsState } from '../../dashboard/ops.js';
import { pattern } from './fixture.js';

const NOW = 1_764_064_800_000;

describe('dashboard patterns: aliases from the catalog', () => {
  it('drops a pattern once the catalog says it was merged into another', () => {
    const ops = new OpsState();
    ops.applyPattern(pattern({ pattern_id: 'x1', template: 'session opened for alice', count: 5, first_seen: NOW - 5000, last_seen: NOW - 4000 }));
    ops.applyPattern(pattern({ pattern_id: 'm', template: 'session opened for <*>', count: 9, first_seen: NOW - 5000, last_seen: NOW - 1000 }));
    expect(ops.listPatterns(NOW).map((p) => p.pattern_id)).toEqual(['m', 'x1']);
    // The alias record: applied (so a dashboard that persists it does not show x1 after a restart).
    expect(ops.applyPattern(pattern({ pattern_id: 'x1', template: 'session opened for alice', count: 5, first_seen: NOW - 5000, last_seen: NOW - 4000, alias_of: 'm' }))).toBe(true);
    expect(ops.listPatterns(NOW).map((p) => [p.pattern_id, p.count])).toEqual([['m', 9]]);
    expect(ops.listPatterns(NOW, 'new').map((p) => p.pattern_id)).toEqual(['m']);
  });
});
