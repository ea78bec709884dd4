/**
 * Races the kill -9 process test found under load, each of which made a restart take a file for
 * rewritten and send it all again under the next generation. Made deterministic by running the
 * other side of the race inside the tailer's own file-system calls:
 * - a rotation between the restart's stat of a tracked file and its open (the path then names a
 *   new file, whose first bytes must not pass for a rewrite of the tracked one);
 * - an acknowledgement landing while a checkpoint save reads the tail of the confirmed offset (the
 *   tail must be saved with the offset it belongs to).
 */
import { afterEach, expect, test, vi } from 'vitest';
import { appendFile, rename, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { FakeSourceContext, until } from '../../../support/fake-source-context.js';
import { makeSource, tempDir } from '../file-helpers.js';
import { TAIL } from '../../../../agent/sources/file/tailer.js';

// One-shot hooks: `race.run` inside the tailer's next open() of `race.path`, before the real open;
// `onRead` inside a read of a handle, before the real read (a true return consumes it).
const race: { path?: string; run?: (() => Promise<void>) | undefined; onRead?: ((length: number, position: number) => boolean) | undefined } = {};
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  const open: typeof real.open = async (path, ...rest) => {
    if (race.run !== undefined && String(path) === race.path) {
      const run = race.run;
      race.run = undefined;
      await run();
    }
    const fh = await real.open(path, ...rest);
    const read = fh.read.bind(fh) as (...a: unknown[]) => Promise<unknown>;
    (fh as unknown as { read: unknown }).read = (...a: unknown[]) => {
      if (race.onRead !== undefined && typeof a[2] === 'number' && typeof a[3] === 'number' && race.onRead(a[2], a[3])) race.onRead = undefined;
      return read(...a);
    };
    return fh;
  };
  return { ...real, open, default: { ...real, open } };
});

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

const lines = (prefix: string, n: number): string => Array.from({ length: n }, (_, i) => `${prefix}-${i}\n`).join('');

test('restart: a rotation between the stat and the open re-sends nothing and loses nothing', async () => {
  const { dir, cleanup } = await tempDir();
  cleanups.push(cleanup);
  await mkdir(join(dir, 'logs'));
  const log = join(dir, 'logs', 'app.log');
  // Rotated names are selected too, as with `app.log*`.
  const opts = { include: [join(dir, 'logs', 'app.log*')], start_at: 'beginning', rotated_idle_ms: 100 };

  const ctx1 = new FakeSourceContext({ dataDir: join(dir, 'data') });
  const first = makeSource(ctx1, opts);
  await writeFile(log, lines('before', 100));
  await first.start();
  await until(() => ctx1.confirmed.length === 100);
  await first.stop();

  await appendFile(log, lines('late', 50));
  race.path = log;
  race.run = async () => {
    await rename(log, `${log}.1`);
    await writeFile(log, lines('fresh', 20));
  };
  const ctx2 = new FakeSourceContext({ dataDir: join(dir, 'data') });
  const second = makeSource(ctx2, opts);
  cleanups.push(() => second.stop());
  await second.start();
  await until(() => ctx2.confirmed.length >= 70, 5000);
  await second.sync();
  expect(race.run, 'the rename ran inside the restart').toBeUndefined();
  const got = ctx2.confirmedLines().map((d) => d.body);
  expect(got.filter((b) => b.startsWith('before'))).toEqual([]);
  expect(got.filter((b) => b.startsWith('late'))).toEqual(lines('late', 50).trim().split('\n'));
  expect(got.filter((b) => b.startsWith('fresh'))).toEqual(lines('fresh', 20).trim().split('\n'));
  // The rotated file kept its stream and generation: the late lines go on where `before` stopped.
  const late = ctx2.confirmedLines().find((d) => d.body === 'late-0');
  const before = ctx1.confirmedLines().find((d) => d.body === 'before-0');
  expect(late?.sid).toBe(before?.sid);
  expect(late?.gen).toBe(0);
  expect(late?.offset).toBe(Buffer.byteLength(lines('before', 100)));
});

test('an acknowledgement during a checkpoint save: the tail is saved with its own offset, a restart sends nothing again', async () => {
  const { dir, cleanup } = await tempDir();
  cleanups.push(cleanup);
  await mkdir(join(dir, 'logs'));
  const log = join(dir, 'logs', 'app.log');
  const opts = { include: [log], start_at: 'beginning', max_batch_lines: 10, batch_linger_ms: 0, checkpoint_interval_ms: 20, partial_line_flush_ms: 60_000 };
  const ctx1 = new FakeSourceContext({ dataDir: join(dir, 'data') });
  const first = makeSource(ctx1, opts);
  cleanups.push(() => first.stop());
  // Batch 0: lines 0-9, cut mid-read (its tail is known). Batch 1: lines 10-14, sent at the end
  // of the read with a partial line after it (its tail is not known: a save reads it from the file).
  const part1 = `${lines('a', 15)}partial`;
  await writeFile(log, part1);
  const end1 = Buffer.byteLength(lines('a', 15));
  await first.start();
  await until(() => ctx1.confirmed.length === 15, 5000, 'batches 0 and 1');
  // Batch 2 (the partial line completed, and 9 more) is held until the save reads batch 1's tail.
  ctx1.policy = () => 'hold';
  race.onRead = (length, position) => {
    const n = Math.min(TAIL, end1);
    if (length !== n || position !== end1 - n) return false;
    ctx1.release();
    return true;
  };
  await appendFile(log, `-done\n${lines('b', 9)}`);
  await until(() => race.onRead === undefined, 5000, 'a save reading the tail while batch 2 is confirmed');
  await until(() => ctx1.confirmed.length === 25, 5000, 'batch 2');
  await first.stop();

  const ctx2 = new FakeSourceContext({ dataDir: join(dir, 'data') });
  const second = makeSource(ctx2, opts);
  cleanups.push(() => second.stop());
  await appendFile(log, lines('c', 5));
  await second.start();
  await until(() => ctx2.confirmed.length >= 5, 5000, 'the new lines');
  await second.sync();
  expect(ctx2.confirmedLines().map((d) => d.body)).toEqual(lines('c', 5).trim().split('\n'));
  expect(ctx2.confirmedLines()[0]?.gen).toBe(0);
});
