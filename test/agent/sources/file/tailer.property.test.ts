/**
 * Property test: the tailer against a simple model of files. Random appends (whole lines, lines
 * written in two parts), rename rotations, copytruncate rotations, plain truncations, deletions,
 * clean restarts, and a sink that acks late or rejects; on real files, real events, real
 * checkpoints. The model is the list of lines written. Whatever happened:
 * - every written line is delivered (confirmed) at least once;
 * - nothing is delivered that was not written;
 * - an identity (stream, generation, offset) always names the same line: duplicates are
 *   recognisable, and a new line never hides behind an old identity;
 * - without rejections, every line is delivered exactly once.
 * Plain truncation and deletion lose what the agent had not read (no tool can see it), so the
 * model lets the tailer catch up (read and confirmed) before those two; renames and copytruncate
 * get no help. Files are UTF-8 or UTF-16LE (framed on 2-byte units; a line written in two parts
 * is then cut in the middle of a unit). With remove_after_ms, the tailer also deletes files it
 * has read and confirmed to their end, racing the writer's appends (which create the file again).
 */
import { afterAll, expect, test } from 'vitest';
import fc from 'fast-check';
import { appendFile, copyFile, mkdir, rename, truncate, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { FakeSourceContext, until } from '../../../support/fake-source-context.js';
import { exists, makeSource, tempDir } from '../file-helpers.js';
import type { FileTailer } from '../../../../agent/sources/file/tailer.js';
import { scale } from '../../../support/scale.js';

type Op =
  | { k: 'append'; f: number; n: number }
  | { k: 'split'; f: number }
  | { k: 'rename'; f: number }
  | { k: 'copytruncate'; f: number }
  | { k: 'truncate'; f: number }
  | { k: 'delete'; f: number }
  | { k: 'sync' }
  | { k: 'sleep'; ms: number }
  | { k: 'restart' };

const f = fc.integer({ min: 0, max: 1 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ k: fc.constant('append' as const), f, n: fc.integer({ min: 1, max: 300 }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('split' as const), f }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('rename' as const), f }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('copytruncate' as const), f }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('truncate' as const), f }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('delete' as const), f }) },
  { weight: 1, arbitrary: fc.constant({ k: 'sync' as const }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('sleep' as const), ms: fc.integer({ min: 0, max: 40 }) }) },
  { weight: 1, arbitrary: fc.constant({ k: 'restart' as const }) },
);

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups) await c();
});

async function unlessGone(p: Promise<unknown>): Promise<void> {
  await p.catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}

/**
 * Counterexamples fast-check found, kept as regression cases (they run first, every time).
 * 1: a rejected batch after its file was truncated and rewritten: the rewind took the bytes before
 *    the checkpoint from the new content, so the rewrite went unseen and lines were skipped.
 */
type Encoding = 'utf-8' | 'utf-16le';

const REGRESSIONS: [Op[], boolean, number, Encoding, number][] = [
  // CI on Node 24 (fast-check seed 213025455; the last value is the sink's seed): two copytruncates
  // of one file 8 ms apart, then restarts. The fingerprint mixed old and new bytes (regression).
  [
    [
      { k: 'restart' },
      { k: 'append', f: 1, n: 8 },
      { k: 'copytruncate', f: 1 },
      { k: 'sleep', ms: 8 },
      { k: 'copytruncate', f: 1 },
      { k: 'truncate', f: 0 },
      { k: 'append', f: 1, n: 16 },
      { k: 'append', f: 1, n: 6 },
      { k: 'restart' },
    ],
    false,
    1073741809,
    'utf-8',
    0,
  ],
  // TW_SCALE=full, seed -1823220763 (the sink's seed is the third value): a batch rejected, then a
  // copytruncate, appends and a truncation while the retry waited. lag() said nothing was unread
  // while the file was shorter than where reading got, and again for the new generation until
  // its first read returned, so the model truncated lines never read. It failed about every
  // other run before the fixes.
  [
    [
      { k: 'append', f: 1, n: 237 },
      { k: 'split', f: 0 },
      { k: 'append', f: 0, n: 17 },
      { k: 'append', f: 0, n: 294 },
      { k: 'sync' },
      { k: 'append', f: 0, n: 8 },
      { k: 'copytruncate', f: 0 },
      { k: 'sync' },
      { k: 'append', f: 0, n: 112 },
      { k: 'append', f: 0, n: 6 },
      { k: 'truncate', f: 0 },
    ],
    true,
    472032368,
    'utf-16le',
    30,
  ],
  // TW_SCALE=full, seed -1080624190: a copytruncate, then the truncated file renamed (within the
  // selection). The rename was seen first, and the copy, found while the original drained, was
  // read from its start (60 lines twice; every run before the fix).
  [
    [
      { k: 'restart' },
      { k: 'append', f: 0, n: 60 },
      { k: 'sleep', ms: 28 },
      { k: 'append', f: 1, n: 298 },
      { k: 'append', f: 1, n: 293 },
      { k: 'append', f: 0, n: 203 },
      { k: 'copytruncate', f: 0 },
      { k: 'rename', f: 0 },
      { k: 'append', f: 1, n: 210 },
      { k: 'sync' },
      { k: 'split', f: 1 },
      { k: 'split', f: 1 },
    ],
    false,
    1073741797,
    'utf-16le',
    0,
  ],
  // TW_SCALE=full, seed 1853508523: a rename, a new file, its copytruncate. The new file, seen
  // after its copy, was taken for a possible copy of it and then emptied: it stayed one for good,
  // and the tailer never settled.
  [
    [
      { k: 'sleep', ms: 33 },
      { k: 'sleep', ms: 14 },
      { k: 'append', f: 1, n: 131 },
      { k: 'append', f: 0, n: 272 },
      { k: 'sleep', ms: 24 },
      { k: 'sleep', ms: 6 },
      { k: 'rename', f: 1 },
      { k: 'append', f: 1, n: 104 },
      { k: 'copytruncate', f: 1 },
      { k: 'sleep', ms: 0 },
    ],
    true,
    680634644,
    'utf-8',
    0,
  ],
  // 0: the basic copytruncate of a file already read: the copy must not be read again.
  [[{ k: 'append', f: 0, n: 100 }, { k: 'sync' }, { k: 'copytruncate', f: 0 }, { k: 'append', f: 0, n: 10 }], false, 1, 'utf-8', 0],
  [
    [
      { k: 'copytruncate', f: 0 },
      { k: 'copytruncate', f: 1 },
      { k: 'append', f: 0, n: 287 },
      { k: 'append', f: 1, n: 280 },
      { k: 'truncate', f: 1 },
      { k: 'rename', f: 0 },
      { k: 'append', f: 1, n: 224 },
      { k: 'append', f: 0, n: 247 },
      { k: 'delete', f: 1 },
      { k: 'append', f: 1, n: 209 },
      { k: 'append', f: 1, n: 36 },
    ],
    true,
    4,
    'utf-8',
    0,
  ],
];

async function runModel(ops: Op[], flaky: boolean, seed: number, encoding: Encoding, removeAfterMs: number): Promise<void> {
      const { dir, cleanup } = await tempDir();
      cleanups.push(cleanup);
      const logs = join(dir, 'logs');
      await mkdir(logs);
      const ctx = new FakeSourceContext({ dataDir: join(dir, 'data') });
      let rnd = seed;
      const next = (): number => (rnd = (rnd * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
      let rejected = 0;
      ctx.policy = () => {
        const x = next();
        if (flaky && x < 0.05) {
          rejected++;
          return 'reject';
        }
        return x < 0.3 ? Math.floor(x * 40) : 'ok';
      };
      const opts = {
        include: [join(logs, '*.log*')],
        start_at: 'beginning',
        rescan_interval_ms: 200,
        rotated_idle_ms: 100,
        copy_detect_ms: 500,
        retry_backoff_ms: 20,
        max_batch_lines: 64,
        read_buffer_bytes: 2048,
        partial_line_flush_ms: 60_000,
        encoding,
        remove_after_ms: removeAfterMs,
      };
      const bytes = (text: string): Buffer => Buffer.from(text, encoding === 'utf-8' ? 'utf8' : 'utf16le');
      let src: FileTailer = makeSource(ctx, opts);
      await src.start();
      const written: string[] = [];
      const seq = [0, 0];
      let rot = 0;
      const path = (i: number): string => join(logs, `app${i}.log`);
      const line = (i: number): string => {
        const n = (seq[i] ?? 0) + 1;
        seq[i] = n;
        return `f${i}-${n}-${'p'.repeat(n % 23)}`;
      };
      try {
        for (const op of ops) {
          switch (op.k) {
            case 'append': {
              let s = '';
              for (let j = 0; j < op.n; j++) {
                const l = line(op.f);
                written.push(l);
                s += `${l}\n`;
              }
              await appendFile(path(op.f), bytes(s));
              break;
            }
            case 'split': {
              const l = line(op.f);
              written.push(l);
              const b = bytes(`${l}\r\n`);
              await appendFile(path(op.f), b.subarray(0, 5));
              await new Promise((r) => setTimeout(r, 5));
              await appendFile(path(op.f), b.subarray(5));
              break;
            }
            // The file may be gone, or go between the check and the call (remove_after_ms).
            case 'rename':
              if (await exists(path(op.f))) await unlessGone(rename(path(op.f), `${path(op.f)}.${rot++}`));
              break;
            case 'copytruncate':
              if (await exists(path(op.f))) {
                await unlessGone(copyFile(path(op.f), `${path(op.f)}.c${rot++}`));
                await unlessGone(truncate(path(op.f), 0));
              }
              break;
            case 'truncate':
              await src.sync();
              await until(() => src.lag().every((l) => l.unreadBytes === 0 && l.unconfirmedBytes === 0), 20_000, 'caught up before truncate');
              if (await exists(path(op.f))) await unlessGone(truncate(path(op.f), 0));
              break;
            case 'delete':
              await src.sync();
              await until(() => src.lag().every((l) => l.unreadBytes === 0 && l.unconfirmedBytes === 0), 20_000, 'caught up before delete');
              if (await exists(path(op.f))) await unlessGone(unlink(path(op.f)));
              break;
            case 'sync':
              await src.sync();
              break;
            case 'sleep':
              await new Promise((r) => setTimeout(r, op.ms));
              break;
            case 'restart':
              await src.stop();
              src = makeSource(ctx, opts);
              await src.start();
              break;
          }
        }
        const want = new Set(written);
        const delivered = (): Set<string> => new Set(ctx.confirmed.map((r) => String(r.body)));
        await until(
          () => {
            void src.sync();
            const d = delivered();
            return written.every((w) => d.has(w));
          },
          20_000,
          'every line delivered',
        );
        // Let everything that may still come arrive: copies waiting, rotated files draining.
        await until(
          () => {
            void src.sync();
            return src.settled;
          },
          20_000,
          'tailer settled',
        );
        await src.sync();
        // Nothing that was not written.
        for (const d of delivered()) expect(want.has(d)).toBe(true);
        // An identity always names the same line.
        const byId = new Map<string, string>();
        for (const r of ctx.emitted()) {
          const id = `${r.sid}/${r.gen}/${r.offset}`;
          const prev = byId.get(id);
          if (prev !== undefined) expect(r.body, `identity ${id}`).toBe(prev);
          byId.set(id, r.body);
        }
        if (rejected === 0) {
          const counts = new Map<string, number>();
          for (const r of ctx.confirmed) counts.set(String(r.body), (counts.get(String(r.body)) ?? 0) + 1);
          const twice = [...counts].filter(([, n]) => n > 1).map(([b]) => b);
          expect(twice).toEqual([]);
        }
      } finally {
        if (process.env.TW_DEBUG) console.log(JSON.stringify(src.lag()), JSON.stringify(ctx.telemetry.snapshot()));
        await src.stop();
        await cleanup();
      }
}

test('tailer vs model: random appends, rotations, truncations, restarts and a flaky sink', async () => {
  await fc.assert(fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 25 }), fc.boolean(), fc.integer({ min: 1, max: 1 << 30 }), fc.constantFrom<Encoding>('utf-8', 'utf-16le'), fc.constantFrom(0, 0, 30), runModel), {
    numRuns: scale(12, 100),
    endOnFailure: true,
    examples: REGRESSIONS,
  });
}, 300_000);
