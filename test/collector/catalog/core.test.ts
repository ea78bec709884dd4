/**
 * The catalog's merge logic (collector/catalog/core.ts): observations from several collector
 * instances merge into one record per pattern; aliases forward counts to the merged pattern and
 * stay aliases; a catalog restored from its records continues exactly; bounds are counted.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CatalogCore } from '../../../collector/catalog/core.js';
import { decodeObservation, encodeObservation, type PatternObservation } from '../../../collector/catalog/observation.js';
import type { PatternRecord } from '../../../core/wire.js';
import { decodePattern, encodePattern } from '../../../core/wire.js';

const MIN = 60_000;
const T0 = Date.parse('2026-11-25T10:00:00Z');

function obs(id: string, count: number, first: number, last: number, extra: Partial<PatternObservation> = {}): PatternObservation {
  return { pattern_id: id, template: `tpl ${id} <*>`, count, first_seen: first, last_seen: last, labels: {}, windows: count > 0 ? [[Math.floor(first / MIN) * MIN, count]] : [], hops: 0, ...extra };
}

/** Delivers forwards to the catalog that owns their key, until none is left (as the observations topic does). */
function settle(cores: Map<string, CatalogCore>, owner: (id: string) => string): PatternRecord[] {
  const latest = new Map<string, PatternRecord>();
  for (let round = 0; round < 20; round++) {
    let forwarded = 0;
    for (const core of cores.values()) {
      const { records, forwards } = core.drain();
      for (const r of records) latest.set(r.pattern_id, r);
      for (const f of forwards) {
        cores.get(owner(f.pattern_id))!.apply(f);
        forwarded++;
      }
    }
    if (forwarded === 0) return [...latest.values()];
  }
  throw new Error('forwards did not settle');
}

describe('catalog merge', () => {
  it('merges two instances\' observations of a pattern: counts add up, earliest first_seen, latest last_seen, first sample', () => {
    const c = new CatalogCore();
    c.apply(obs('p1', 10, T0 + 5000, T0 + 70_000, { sample: 'from A', labels: { severity: 'info' }, windows: [[T0, 6], [T0 + MIN, 4]] }));
    c.apply(obs('p1', 7, T0 + 1000, T0 + 30_000, { sample: 'from B', labels: { severity: 'warn', 'service.name': 'shop' }, windows: [[T0, 7]] }));
    const { records, forwards } = c.drain();
    expect(forwards).toEqual([]);
    expect(records).toEqual([
      {
        pattern_id: 'p1',
        template: 'tpl p1 <*>',
        count: 17,
        first_seen: T0 + 1000,
        last_seen: T0 + 70_000,
        sample: 'from A',
        labels: { severity: 'info', 'service.name': 'shop' },
        windows: [
          [T0, 13],
          [T0 + MIN, 4],
        ],
      },
    ]);
    // Nothing changed since: nothing to write.
    expect(c.drain().records).toEqual([]);
  });

  it('gives the same count, times and windows whatever the order observations arrive in', () => {
    const o = fc.record({ n: fc.integer({ min: 0, max: 50 }), first: fc.integer({ min: 0, max: 600_000 }), span: fc.integer({ min: 0, max: 600_000 }), id: fc.constantFrom('a', 'b', 'c') });
    fc.assert(
      fc.property(fc.array(o, { minLength: 1, maxLength: 30 }), (list) => {
        const all = list.map((x) => obs(x.id, x.n, T0 + x.first, T0 + x.first + x.span));
        const forward = new CatalogCore();
        for (const x of all) forward.apply(x);
        const backward = new CatalogCore();
        for (const x of [...all].reverse()) backward.apply(x);
        for (const id of ['a', 'b', 'c']) {
          const f = forward.get(id);
          const b = backward.get(id);
          expect(b?.count).toBe(f?.count);
          expect(b?.first_seen).toBe(f?.first_seen);
          expect(b?.last_seen).toBe(f?.last_seen);
          expect(b?.windows).toEqual(f?.windows);
          expect(f?.count ?? 0).toBe(all.filter((x) => x.pattern_id === id).reduce((s, x) => s + x.count, 0));
        }
      }),
      // Found by CI: observations without lines once fixed the times by their arrival order.
      { examples: [[[{ n: 0, first: 0, span: 1, id: 'a' }, { n: 0, first: 0, span: 0, id: 'a' }]]] },
    );
  });

  it('turns a merged-away id into an alias: its count moves to the merged pattern, and so do later lines under the old id', () => {
    // Two partitions: ids starting with "x" on one catalog, the rest on another.
    const cores = new Map([
      ['x', new CatalogCore()],
      ['m', new CatalogCore()],
    ]);
    const owner = (id: string): string => (id.startsWith('x') ? 'x' : 'm');
    const at = (id: string): CatalogCore => cores.get(owner(id))!;
    // Instance A counts 5 lines as x1 and 3 as x2, then its miner merges both into m.
    at('x1').apply(obs('x1', 5, T0, T0 + 10, { sample: 'user alice logged in' }));
    at('x2').apply(obs('x2', 3, T0 + 1, T0 + 11));
    at('m').apply(obs('m', 4, T0 + 20, T0 + 30));
    at('x1').apply(obs('x1', 0, T0 + 30, T0 + 30, { alias_of: 'm' }));
    at('x2').apply(obs('x2', 0, T0 + 30, T0 + 30, { alias_of: 'm' }));
    // Instance B has not merged yet (or restarted and learns x1 again): 2 more lines as x1.
    at('x1').apply(obs('x1', 2, T0 + 40, T0 + 41));
    const latest = new Map(settle(cores, owner).map((r) => [r.pattern_id, r]));
    expect(latest.get('m')).toMatchObject({ count: 14, first_seen: T0, last_seen: T0 + 41, sample: 'user alice logged in' });
    expect(latest.get('m')!.alias_of).toBeUndefined();
    expect(latest.get('x1')).toMatchObject({ alias_of: 'm', count: 7 });
    expect(latest.get('x2')).toMatchObject({ alias_of: 'm', count: 3 });
    // Live records count every line exactly once.
    const live = [...latest.values()].filter((r) => r.alias_of === undefined);
    expect(live.reduce((s, r) => s + r.count, 0)).toBe(5 + 3 + 4 + 2);
  });

  it('follows a chain of merges (x → m → n) to the live pattern', () => {
    const c = new CatalogCore();
    const cores = new Map([['all', c]]);
    c.apply(obs('x', 2, T0, T0));
    c.apply(obs('m', 3, T0, T0));
    c.apply(obs('x', 0, T0, T0, { alias_of: 'm' }));
    c.apply(obs('m', 0, T0, T0, { alias_of: 'n' }));
    c.apply(obs('x', 1, T0, T0));
    const latest = new Map(settle(cores, () => 'all').map((r) => [r.pattern_id, r]));
    expect(latest.get('n')?.count).toBe(6);
    expect(latest.get('n')?.alias_of).toBeUndefined();
  });

  it('keeps the first alias: a later, different one is counted and ignored', () => {
    const c = new CatalogCore();
    c.apply(obs('x', 2, T0, T0, { alias_of: 'm1' }));
    c.apply(obs('x', 3, T0, T0, { alias_of: 'm2' }));
    expect(c.get('x')?.alias_of).toBe('m1');
    expect(c.counters.aliasConflicts).toBe(1);
    const { forwards } = c.drain();
    expect(forwards.map((f) => [f.pattern_id, f.count, f.hops])).toEqual([
      ['m1', 2, 1],
      ['m1', 3, 1],
    ]);
  });

  it('stops forwarding after maxHops (an alias cycle cannot loop forever)', () => {
    const c = new CatalogCore({ maxHops: 3 });
    c.apply(obs('a', 0, T0, T0, { alias_of: 'b' }));
    c.apply(obs('b', 0, T0, T0, { alias_of: 'a' }));
    c.apply(obs('a', 5, T0, T0));
    let rounds = 0;
    for (let f = c.drain().forwards; f.length > 0; f = c.drain().forwards) {
      for (const x of f) c.apply(x);
      rounds++;
    }
    expect(rounds).toBe(3);
    expect(c.counters.loops).toBe(1);
  });

  it('restored from its records, continues as if never stopped (aliases included)', () => {
    const a = new CatalogCore();
    a.apply(obs('p', 4, T0, T0 + 5, { sample: 's', labels: { severity: 'error' } }));
    a.apply(obs('x', 1, T0, T0, { alias_of: 'p' }));
    // What the compacted topic keeps: the latest record per key, through the wire codec.
    const kept = new Map<string, PatternRecord>();
    const first = a.drain();
    for (const f of first.forwards) a.apply(f);
    for (const r of [...first.records, ...a.drain().records]) kept.set(r.pattern_id, decodePattern(encodePattern(r).value));
    const b = new CatalogCore();
    for (const r of kept.values()) b.restore(r);
    expect(b.drain().records).toEqual([]);
    b.apply(obs('p', 2, T0 + MIN, T0 + MIN));
    b.apply(obs('x', 3, T0 + MIN, T0 + MIN));
    for (const f of b.drain().forwards) b.apply(f);
    expect(b.get('p')).toMatchObject({ count: 10, first_seen: T0, last_seen: T0 + MIN, sample: 's', labels: { severity: 'error' } });
    expect(b.get('p')?.windows).toEqual([
      [T0, 5],
      [T0 + MIN, 5],
    ]);
    expect(b.get('x')?.alias_of).toBe('p');
  });

  it('bounds patterns and windows, counting what it drops', () => {
    const c = new CatalogCore({ maxPatterns: 2, maxWindows: 3 });
    c.apply(obs('a', 1, T0, T0));
    c.apply(obs('b', 1, T0, T0));
    c.apply(obs('c', 1, T0, T0));
    expect(c.size).toBe(2);
    expect(c.counters.overflow).toBe(1);
    for (let i = 1; i <= 4; i++) c.apply(obs('a', 1, T0 + i * MIN, T0 + i * MIN));
    expect(c.get('a')?.windows?.map(([s]) => (s - T0) / MIN)).toEqual([2, 3, 4]);
    expect(c.get('a')?.count).toBe(5);
    expect(c.counters.windowsDropped).toBe(2);
  });
});

describe('pattern observation codec', () => {
  it('round-trips an observation and rejects what is not one', () => {
    const o = obs('p', 3, T0, T0 + 1, { sample: 'x', alias_of: 'q', labels: { severity: 'info' } });
    const m = encodeObservation(o);
    expect(m.key).toBe('p');
    expect(decodeObservation({ headers: m.headers!, value: m.value })).toEqual(o);
    expect(() => decodeObservation({ headers: {}, value: m.value })).toThrow(/tw-wire/);
    expect(() => decodeObservation({ headers: { 'tw-wire': '1', 'tw-type': 'patterns' }, value: m.value })).toThrow(/pattern_observation/);
    expect(() => decodeObservation({ headers: m.headers!, value: Buffer.from('{"pattern_id":"p"}') })).toThrow(/template/);
    expect(() => decodeObservation({ headers: m.headers!, value: Buffer.from(JSON.stringify({ ...o, count: -1 })) })).toThrow(/count/);
  });
});
