import { afterEach, describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { readFile, writeFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CheckpointStore, decodeCheckpoint, encodeCheckpoint } from '../../../../agent/sources/file/checkpoint.js';
import type { CheckpointEntry } from '../../../../agent/sources/file/checkpoint.js';
import { tempDir } from '../file-helpers.js';

const entryArb: fc.Arbitrary<CheckpointEntry> = fc.record({
  sid: fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 16, maxLength: 16 }),
  gen: fc.nat(100),
  head: fc.boolean(),
  path: fc.string(),
  dev: fc.nat(),
  ino: fc.nat(),
  btime: fc.nat(),
  fp: fc.base64String(),
  offset: fc.nat(),
  tail: fc.base64String(),
  state: fc.constantFrom<'live' | 'retired'>('live', 'retired'),
  retired_at: fc.nat(),
  archive: fc.constantFrom<'reading' | 'done'>('reading', 'done'),
  released_until: fc.nat(),
}, { requiredKeys: ['sid', 'gen', 'head', 'path', 'dev', 'ino', 'btime', 'fp', 'offset', 'tail', 'state'] });

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups) await c();
  cleanups = [];
});

describe('checkpoint encoding', () => {
  test('round-trips any state', () => {
    fc.assert(
      fc.property(fc.array(entryArb, { maxLength: 5 }), (entries) => {
        const d = decodeCheckpoint(encodeCheckpoint({ entries }));
        expect(d).toEqual({ ok: true, state: { entries } });
      }),
    );
  });

  test('an optional field out of its range is a malformed entry, not state', () => {
    const e: CheckpointEntry = { sid: 'ab', gen: 1, head: false, path: '/a', dev: 1, ino: 2, btime: 3, fp: 'eA==', offset: 99, tail: 'eA==', state: 'retired', retired_at: 5, released_until: 6 };
    expect(decodeCheckpoint(encodeCheckpoint({ entries: [e] })).ok).toBe(true);
    for (const bad of [{ released_until: -1 }, { released_until: 'soon' }, { retired_at: Number.NaN }, { archive: 'maybe' }]) {
      expect(decodeCheckpoint(encodeCheckpoint({ entries: [{ ...e, ...bad } as unknown as CheckpointEntry] }))).toEqual({ ok: false, reason: 'malformed entry' });
    }
  });

  test('any flipped byte or truncation is detected, never decoded into other state', () => {
    const enc = encodeCheckpoint({ entries: [{ sid: 'ab', gen: 1, head: true, path: '/a', dev: 1, ino: 2, btime: 3, fp: 'eA==', offset: 99, tail: '', state: 'live' }] });
    fc.assert(
      fc.property(fc.nat(enc.length - 1), fc.integer({ min: 1, max: 255 }), fc.boolean(), (i, x, cut) => {
        const bad = Buffer.from(enc);
        if (cut) {
          expect(decodeCheckpoint(bad.subarray(0, i)).ok).toBe(false);
        } else {
          bad[i] = (bad[i] as number) ^ x;
          expect(decodeCheckpoint(bad).ok).toBe(false);
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('CheckpointStore', () => {
  const e: CheckpointEntry = { sid: 'ab', gen: 0, head: true, path: '/a', dev: 1, ino: 2, btime: 3, fp: '', offset: 10, tail: '', state: 'live' };

  test('missing, then saved, then loaded; the previous one is kept', async () => {
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const s = new CheckpointStore(join(dir, 'st'));
    expect((await s.load()).status).toBe('missing');
    await s.save({ entries: [e] });
    await s.save({ entries: [{ ...e, offset: 20 }] });
    const l = await s.load();
    expect(l.status).toBe('ok');
    expect(l.state.entries[0]?.offset).toBe(20);
    expect((await stat(join(dir, 'st', 'checkpoint.prev'))).isFile()).toBe(true);
  });

  test('a corrupt checkpoint is detected and the previous one used; both corrupt: reported, empty', async () => {
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const s = new CheckpointStore(join(dir, 'st'));
    await s.save({ entries: [e] });
    await s.save({ entries: [{ ...e, offset: 20 }] });
    const cur = await readFile(s.file);
    cur[cur.length - 3] = 0x30 ^ (cur[cur.length - 3] as number);
    await writeFile(s.file, cur);
    const l = await s.load();
    expect(l.status).toBe('recovered_from_prev');
    expect(l.reason).toBe('checksum mismatch');
    expect(l.state.entries[0]?.offset).toBe(10);
    await writeFile(join(dir, 'st', 'checkpoint.prev'), 'garbage');
    const l2 = await s.load();
    expect(l2.status).toBe('corrupt');
    expect(l2.state.entries).toEqual([]);
  });

  test('a torn temp file from a crash mid-write is ignored', async () => {
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const s = new CheckpointStore(join(dir, 'st'));
    await s.save({ entries: [e] });
    await writeFile(join(dir, 'st', 'checkpoint.tmp'), encodeCheckpoint({ entries: [{ ...e, offset: 30 }] }).subarray(0, 20));
    const l = await s.load();
    expect(l.status).toBe('ok');
    expect(l.state.entries[0]?.offset).toBe(10);
    await s.save({ entries: [{ ...e, offset: 40 }] });
    expect((await s.load()).state.entries[0]?.offset).toBe(40);
  });
});
