/**
 * A rotation that lands between the restart's stat of a tracked file and its first open: the path
 * then names a new file. The restart must not take that new file's first bytes for a rewrite of the
 * tracked one (found by the kill -9 process test under load: a whole rotated file was sent again
 * under the next generation). The race is made deterministic by renaming inside `open`.
 */
import { afterEach, expect, test, vi } from 'vitest';
import { appendFile, rename, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { FakeSourceContext, until } from '../../../support/fake-source-context.js';
import { makeSource, tempDir } from '../file-helpers.js';

// One-shot hook run inside the tailer's next open() of a given path, before the real open.
const race: { path?: string; run?: () => Promise<void> } = {};
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  const open: typeof real.open = async (path, ...rest) => {
    if (race.run !== undefined && String(path) === race.path) {
      const run = race.run;
      race.run = undefined;
      await run();
    }
    return real.open(path, ...rest);
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
