import { describe, expect, it } from 'vitest';
import { ShapeCache, shapeHash } from '../../../collector/miner/shapes.js';

const VAR = '<*>';

describe('ShapeCache', () => {
  it('finds a token sequence by its hash and full comparison, so entries sharing a hash stay apart', () => {
    const c = new ShapeCache<string>(10);
    // The same hash number forced on three different keys: a collision must never answer wrongly.
    c.add(7, ['a', 'b'], 'ab');
    c.add(7, ['a', VAR], 'a*');
    c.add(7, ['ab'], 'ab-joined');
    expect(c.find(7, ['a', 'b'])?.value).toBe('ab');
    expect(c.find(7, ['a', VAR])?.value).toBe('a*');
    expect(c.find(7, ['ab'])?.value).toBe('ab-joined');
    expect(c.find(7, ['a', 'c'])).toBeUndefined();
    expect(c.find(8, ['a', 'b'])).toBeUndefined();
    // Deleting from the middle of a chain keeps the others findable.
    c.delete(c.find(7, ['a', VAR])!);
    expect(c.find(7, ['a', VAR])).toBeUndefined();
    expect(c.find(7, ['a', 'b'])?.value).toBe('ab');
    expect(c.find(7, ['ab'])?.value).toBe('ab-joined');
    expect(c.size).toBe(2);
  });

  it('drops the oldest entry when full, in insertion order, deleted entries leaving the order', () => {
    const c = new ShapeCache<number>(3);
    const add = (t: string, v: number) => c.add(shapeHash([t], VAR), [t], v);
    const has = (t: string) => c.find(shapeHash([t], VAR), [t]) !== undefined;
    add('x', 1);
    add('y', 2);
    add('z', 3);
    c.delete(c.find(shapeHash(['y'], VAR), ['y'])!);
    add('w', 4); // room after the delete: nothing dropped
    expect(['x', 'y', 'z', 'w'].map(has)).toEqual([true, false, true, true]);
    add('v', 5); // full: x, the oldest, goes
    expect(['x', 'z', 'w', 'v'].map(has)).toEqual([false, true, true, true]);
    expect(c.size).toBe(3);
  });

  it('hashes token boundaries and the variable marker, not just the characters', () => {
    expect(shapeHash(['ab'], VAR)).not.toBe(shapeHash(['a', 'b'], VAR));
    expect(shapeHash([VAR, 'x'], VAR)).not.toBe(shapeHash(['x', VAR], VAR));
    expect(shapeHash(['a', 'b'], VAR)).toBe(shapeHash(['a', 'b'].map((s) => s.slice()), VAR));
  });
});
