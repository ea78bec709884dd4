/**
 * Selected .gz files (exclude_gz: false): archives, read once through their uncompressed content,
 * with real files and real gzip.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { appendFile, mkdir, readdir, readFile, rename, truncate, unlink, utimes, writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { FakeSourceContext, until } from '../../../support/fake-source-context.js';
import { decodeCheckpoint } from '../../../../agent/sources/file/checkpoint.js';
import { exists, makeSource, tempDir } from '../file-helpers.js';
import { scale } from '../../../support/scale.js';
import type { FileTailer } from '../../../../agent/sources/file/tailer.js';

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

type Opts = Record<string, unknown>;
const base: Opts = { exclude_gz: false, rotated_idle_ms: 100, start_at: 'beginning' };

async function setup(opts: Opts = {}, dir?: string): Promise<{ dir: string; logs: string; ctx: FakeSourceContext; src: FileTailer }> {
  let d = dir;
  if (d === undefined) {
    const t = await tempDir();
    cleanups.push(t.cleanup);
    d = t.dir;
  }
  const logs = join(d, 'logs');
  await mkdir(logs, { recursive: true });
  const ctx = new FakeSourceContext({ dataDir: join(d, 'data') });
  const src = makeSource(ctx, { include: [join(logs, '*')], ...base, ...opts });
  cleanups.push(() => src.stop());
  return { dir: d, logs, ctx, src };
}

const lines = (prefix: string, n: number): string => Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(5, '0')} ${'p'.repeat(i % 29)}\n`).join('');
const split = (text: string): string[] => text.split('\n').filter((l) => l !== '');
const bodies = (ctx: FakeSourceContext): string[] => ctx.confirmedLines().map((d) => d.body);

/** A .gz written a while ago (not still being compressed): `text`, or bytes already compressed. */
async function writeGz(path: string, text: string | Buffer): Promise<void> {
  await writeFile(path, typeof text === 'string' ? gzipSync(Buffer.from(text)) : text);
  const past = new Date(Date.now() - 60_000);
  await utimes(path, past, past);
}

async function checkpointOf(dir: string): Promise<ReturnType<typeof decodeCheckpoint>> {
  return decodeCheckpoint(await readFile(join(dir, 'data', 'source', 'app', 'checkpoint')));
}

const tempsIn = async (dir: string): Promise<string[]> => (await readdir(join(dir, 'data', 'source', 'app'))).filter((n) => n.startsWith('gz-'));

describe('file source: .gz archives (exclude_gz: false)', () => {
  test('a selected .gz is read once, uncompressed, with offsets of its content; its copy is removed; a restart and a rename do not read it again', async () => {
    const s = await setup();
    const text = lines('old', 500);
    await writeGz(join(s.logs, 'app.log.2.gz'), text);
    await s.src.start();
    await until(() => s.ctx.confirmed.length === 500, 5000, 'the archive');
    await until(async () => (await exists(join(s.dir, 'data', 'source', 'app', 'checkpoint'))), 5000, 'a checkpoint');
    await s.src.sync();
    expect(bodies(s.ctx)).toEqual(split(text));
    const got = s.ctx.confirmedLines();
    expect(got[1]!.offset).toBe(Buffer.byteLength(split(text)[0]!) + 1);
    expect(got[0]!.path).toBe(join(s.logs, 'app.log.2.gz'));
    expect(await tempsIn(s.dir)).toEqual([]);
    await rename(join(s.logs, 'app.log.2.gz'), join(s.logs, 'app.log.3.gz'));
    await s.src.sync();
    await new Promise((r) => setTimeout(r, 300));
    await s.src.sync();
    expect(s.ctx.emitted().length).toBe(500);
    await s.src.stop();
    const ck = await checkpointOf(s.dir);
    if (!ck.ok) throw new Error(ck.reason);
    expect(ck.state.entries.map((e) => [e.path, e.archive, e.offset, e.fp, e.tail])).toEqual([[join(s.logs, 'app.log.3.gz'), 'done', Buffer.byteLength(text), '', '']]);

    const s2 = await setup({}, s.dir);
    await writeGz(join(s.logs, 'app.log.4.gz'), lines('new', 10));
    await s2.src.start();
    await until(() => s2.ctx.confirmed.length === 10, 5000, 'the new archive');
    await new Promise((r) => setTimeout(r, 300));
    await s2.src.sync();
    expect(bodies(s2.ctx)).toEqual(split(lines('new', 10)));
  });

  test('a restart in the middle of an archive resumes where the sink confirmed, under the same identity', async () => {
    const opts = { max_batch_lines: 10, stop_timeout_ms: 100 };
    const s = await setup(opts);
    const text = lines('a', 100);
    await writeGz(join(s.logs, 'app.log.1.gz'), text);
    s.ctx.policy = (_b, i) => (i < 3 ? 'ok' : 'hold');
    await s.src.start();
    await until(() => s.ctx.confirmed.length === 30 && s.ctx.emitted().length > 30, 5000, 'part of the archive');
    await s.src.stop();
    const s2 = await setup(opts, s.dir);
    await s2.src.start();
    await until(() => s2.ctx.confirmed.length === 70, 5000, 'the rest');
    await s2.src.sync();
    expect([...bodies(s.ctx), ...bodies(s2.ctx)]).toEqual(split(text));
    expect(s2.ctx.confirmedLines()[0]!.sid).toBe(s.ctx.confirmedLines()[0]!.sid);
    expect(s2.ctx.confirmedLines()[0]!.offset).toBe(Buffer.byteLength(split(text).slice(0, 30).join('\n')) + 1);
  });

  test('renamed within the selection while it is read (the next rotation): read on to its end once, not again from the start', async () => {
    const s = await setup({ max_batch_lines: 10 });
    const text = lines('r', 100);
    await writeGz(join(s.logs, 'app.log.1.gz'), text);
    s.ctx.policy = () => 'hold';
    await s.src.start();
    await until(() => s.ctx.emitted().length > 0, 5000, 'reading');
    await rename(join(s.logs, 'app.log.1.gz'), join(s.logs, 'app.log.2.gz'));
    await s.src.sync();
    s.ctx.policy = () => 'ok';
    s.ctx.release();
    await until(() => s.ctx.confirmed.length >= 100, 5000, 'the archive');
    // Past rotated_idle_ms twice: a tracker let go after draining would make the new name new.
    for (let i = 0; i < 2; i++) {
      await new Promise((r) => setTimeout(r, 300));
      await s.src.sync();
    }
    expect(s.ctx.emitted().length).toBe(100);
    expect(bodies(s.ctx)).toEqual(split(text));
    expect(new Set(s.ctx.confirmedLines().map((d) => d.sid)).size).toBe(1);
  });

  describe('the compressed rotation of a followed file (app.log* selected)', () => {
    const opts: Opts = { copy_detect_ms: 3000, max_batch_lines: 10 };
    const withLogs = (o: Opts, logs: string): Opts => ({ ...o, include: [join(logs, 'app.log*')] });
    /** app.log* followed, app.log's `n` lines of `a` read and confirmed. */
    const following = async (n: number, o: Opts = opts): Promise<{ s: Awaited<ReturnType<typeof setup>>; log: string; o: Opts }> => {
      const s0 = await setup();
      const all = withLogs(o, s0.logs);
      const s = await setup(all, s0.dir);
      const log = join(s.logs, 'app.log');
      await writeFile(log, lines('a', n));
      await s.src.start();
      await until(() => s.ctx.confirmed.length === n, 5000, 'the file');
      return { s, log, o: all };
    };
    const settle = async (src: FileTailer): Promise<void> => {
      for (let i = 0; i < 3; i++) {
        await new Promise((r) => setTimeout(r, 250));
        await src.sync();
      }
    };

    test('compressed right after the rename (logrotate compress): not read again', async () => {
      const { s, log } = await following(100);
      await rename(log, `${log}.1`);
      await writeFile(log, lines('b', 10));
      await writeFile(`${log}.1.gz`, gzipSync(await readFile(`${log}.1`)));
      await unlink(`${log}.1`);
      await until(() => s.ctx.confirmed.length >= 110, 5000, 'the new file');
      await settle(s.src);
      expect(s.ctx.emitted().length).toBe(110);
      expect(bodies(s.ctx).sort()).toEqual([...split(lines('a', 100)), ...split(lines('b', 10))].sort());
    });

    test('a compressed copy of a file still followed (gzip -k): the file reads on itself, the copy is not read', async () => {
      const { s, log } = await following(100);
      await writeGz(`${log}.gz`, await readFile(log, 'utf8'));
      await settle(s.src);
      await appendFile(log, lines('b', 10));
      await until(() => s.ctx.confirmed.length >= 110, 5000, 'more of the file');
      await settle(s.src);
      expect(s.ctx.emitted().length).toBe(110);
      expect(new Set(s.ctx.confirmedLines().map((d) => d.path))).toEqual(new Set([log]));
    });

    test('compressed after the file was let go (read to its end and released): not read again', async () => {
      const { s, log } = await following(100);
      await rename(log, join(s.logs, 'other.1'));
      await s.src.sync();
      // Renamed out of the selection: drained and let go after rotated_idle_ms.
      await until(() => s.src.lag().length === 0, 5000, 'the file let go');
      await writeGz(`${log}.1.gz`, await readFile(join(s.logs, 'other.1'), 'utf8'));
      await settle(s.src);
      expect(s.ctx.emitted().length).toBe(100);
      expect(s.ctx.telemetry.value('tidewatch_file_gz_recovered_files_total', { source: 'app' })).toBe(1);
    });

    /** *.log and *.gz selected; app.log's 100 lines read, then rotated to app.log.1 (not selected), drained and let go. */
    const rotatedAway = async (): Promise<{ s: Awaited<ReturnType<typeof setup>>; log: string; o: Opts }> => {
      const s0 = await setup();
      const o = { ...opts, include: [join(s0.logs, '*.log'), join(s0.logs, '*.gz')] };
      const s = await setup(o, s0.dir);
      const log = join(s.logs, 'app.log');
      await writeFile(log, lines('a', 100));
      await s.src.start();
      await until(() => s.ctx.confirmed.length === 100, 5000, 'the file');
      await rename(log, `${log}.1`);
      await s.src.sync();
      await until(() => s.src.lag().length === 0, 5000, 'the file let go');
      return { s, log, o };
    };

    test('delaycompress with *.log and *.gz selected: the rotation let go a day before its archive appears is not read again', async () => {
      const { s, log } = await rotatedAway();
      // The next day's rotation compresses it.
      s.ctx.setNow(() => Date.now() + 25 * 3600 * 1000);
      await writeFile(`${log}.1.gz`, gzipSync(await readFile(`${log}.1`)));
      await unlink(`${log}.1`);
      await settle(s.src);
      expect(s.ctx.emitted().length).toBe(100);
      expect(s.ctx.telemetry.value('tidewatch_file_gz_recovered_files_total', { source: 'app' })).toBe(1);
    });

    test('delaycompress with a restart in between: the file let go before it is remembered, its archive reads on from where the file was confirmed', async () => {
      const { s, log, o } = await rotatedAway();
      await s.src.stop();
      const ck = await checkpointOf(s.dir);
      if (!ck.ok) throw new Error(ck.reason);
      expect(ck.state.entries.length).toBe(1);
      const let_go = ck.state.entries[0];
      // Written as retired, so an agent that does not know released_until keeps it only briefly.
      expect(let_go).toMatchObject({ state: 'retired', offset: Buffer.byteLength(lines('a', 100)) });
      expect(let_go?.released_until).toBeGreaterThan(Date.now() + 25 * 3600 * 1000);
      // The application wrote a little more to app.log.1 after it was let go (why delaycompress
      // exists); the next day's rotation compresses it while the agent runs again.
      await appendFile(`${log}.1`, lines('late', 5));
      const s2 = await setup(o, s.dir);
      await s2.src.start();
      s2.ctx.setNow(() => Date.now() + 25 * 3600 * 1000);
      await writeFile(`${log}.1.gz`, gzipSync(await readFile(`${log}.1`)));
      await unlink(`${log}.1`);
      await until(() => s2.ctx.confirmed.length >= 5, 5000, 'the late lines');
      await settle(s2.src);
      expect(bodies(s2.ctx)).toEqual(split(lines('late', 5)));
      expect(new Set(s2.ctx.confirmedLines().map((d) => d.sid))).toEqual(new Set([s.ctx.confirmedLines()[0]!.sid]));
      expect(s2.ctx.telemetry.value('tidewatch_file_gz_recovered_files_total', { source: 'app' })).toBe(1);
    });

    test('a file let go more than a day before the restart is forgotten: its archive is read whole (the documented limit)', async () => {
      const { s, log, o } = await rotatedAway();
      await s.src.stop();
      const s2 = await setup(o, s.dir);
      s2.ctx.setNow(() => Date.now() + 27 * 3600 * 1000);
      await s2.src.start();
      await writeFile(`${log}.1.gz`, gzipSync(await readFile(`${log}.1`)));
      await unlink(`${log}.1`);
      await until(() => s2.ctx.confirmed.length >= 100, 5000, 'the archive, whole');
      await settle(s2.src);
      expect(bodies(s2.ctx)).toEqual(split(lines('a', 100)));
      expect(s2.ctx.telemetry.value('tidewatch_file_gz_recovered_files_total', { source: 'app' })).toBe(0);
    });

    /** app.log* followed, app.log's 64 MiB (scaled) read and confirmed; its gzip made ahead. */
    const followingLarge = async (o: Opts = {}): Promise<{ s: Awaited<ReturnType<typeof setup>>; log: string; n: number; gz: Buffer }> => {
      const s0 = await setup();
      const s = await setup({ ...withLogs(opts, s0.logs), ...o }, s0.dir);
      const log = join(s.logs, 'app.log');
      const n = scale(64, 256) * 1024;
      const text = Array.from({ length: n }, (_, i) => `a-${String(i).padStart(7, '0')} ${'k'.repeat(1000)}\n`).join('');
      await writeFile(log, text);
      await s.src.start();
      await until(() => s.ctx.confirmed.length === n, 60_000, 'the file');
      return { s, log, n, gz: gzipSync(Buffer.from(text)) };
    };

    test('a large rotation being checked against the followed file does not hold up the new file', async () => {
      // The rotated file is held (draining) while its archive is checked: rotated_idle_ms well
      // above the test's own pauses (the source runs in this process).
      const { s, log, n, gz } = await followingLarge({ rotated_idle_ms: 3000 });
      // logrotate compress: renamed, a new file, the rotation compressed and removed.
      await rename(log, `${log}.1`);
      await writeFile(log, '');
      await writeGz(`${log}.1.gz`, gz);
      await unlink(`${log}.1`);
      const checking = async (): Promise<boolean> => (await tempsIn(s.dir)).some((f) => f.includes('-archive'));
      await until(checking, 10_000, 'the archive being checked');
      await appendFile(log, 'new-line\n');
      await until(() => bodies(s.ctx).includes('new-line'), 20_000, 'the new line');
      expect(await checking()).toBe(true);
      await settle(s.src);
      // The rotation was the followed file's: not read again.
      expect(s.ctx.emitted().length).toBe(n + 1);
      expect(await tempsIn(s.dir)).toEqual([]);
    }, 120_000);

    test('a compressed copy (gzip -k) of a large file written to while the copy is checked: the file reads on, the copy is not read', async () => {
      const { s, log, n, gz } = await followingLarge();
      await writeGz(`${log}.gz`, gz);
      await until(async () => (await tempsIn(s.dir)).some((f) => f.includes('-archive')), 10_000, 'the copy being checked');
      // The file reads on while its copy is compared with where its reading was.
      await appendFile(log, lines('b', 10));
      await until(() => s.ctx.confirmed.length >= n + 10, 20_000, 'the new lines');
      await settle(s.src);
      expect(s.ctx.emitted().length).toBe(n + 10);
      expect(new Set(s.ctx.confirmedLines().map((d) => d.path))).toEqual(new Set([log]));
    }, 120_000);

    test('rotated and compressed while the agent was down: the archive goes on from the checkpoint, under the same identity', async () => {
      const { s, log, o } = await following(20, { ...opts, stop_timeout_ms: 100 });
      await s.src.stop();
      await appendFile(log, lines('c', 80));
      await writeGz(`${log}.1.gz`, await readFile(log, 'utf8'));
      await unlink(log);
      await writeFile(log, lines('b', 10));
      const s2 = await setup(o, s.dir);
      await s2.src.start();
      await until(() => s2.ctx.confirmed.length >= 90, 5000, 'the rest and the new file');
      await settle(s2.src);
      expect(s2.ctx.emitted().length).toBe(90);
      expect(bodies(s2.ctx).sort()).toEqual([...split(lines('c', 80)), ...split(lines('b', 10))].sort());
      const fromArchive = s2.ctx.confirmedLines().filter((d) => d.path.endsWith('.gz'));
      expect(new Set(fromArchive.map((d) => d.sid))).toEqual(new Set([s.ctx.confirmedLines()[0]!.sid]));
      expect(fromArchive[0]!.offset).toBe(Buffer.byteLength(lines('a', 20)));
    });
  });

  test('a .gz still being written waits until it is quiet; one cut short is counted, not read, and read once it is whole', async () => {
    const s = await setup({ rotated_idle_ms: 400 });
    const whole = gzipSync(Buffer.from(lines('z', 200)));
    const gz = join(s.logs, 'app.log.1.gz');
    // logrotate compressing: the first half is there, and fresh.
    await writeFile(gz, whole.subarray(0, whole.length >> 1));
    await s.src.start();
    await new Promise((r) => setTimeout(r, 150));
    await s.src.sync();
    expect(s.ctx.emitted()).toEqual([]);
    expect(s.ctx.telemetry.value('tidewatch_file_io_errors_total', { source: 'app', op: 'archive' })).toBe(0);
    // It stays cut short: once quiet, it is counted and nothing of it is sent.
    await until(() => s.ctx.telemetry.value('tidewatch_file_io_errors_total', { source: 'app', op: 'archive' }) === 1, 5000, 'the broken archive counted');
    await new Promise((r) => setTimeout(r, 300));
    await s.src.sync();
    expect(s.ctx.telemetry.value('tidewatch_file_io_errors_total', { source: 'app', op: 'archive' })).toBe(1);
    expect(s.ctx.confirmed.length).toBe(0);
    // Completed: read whole, once.
    await appendFile(gz, whole.subarray(whole.length >> 1));
    await until(() => s.ctx.confirmed.length === 200, 5000, 'the completed archive');
    await new Promise((r) => setTimeout(r, 300));
    await s.src.sync();
    expect(bodies(s.ctx)).toEqual(split(lines('z', 200)));
  });

  test('its last line without a newline and its last multiline event go out at once, not after partial_line_flush_ms or the multiline timeout', async () => {
    const s = await setup({ partial_line_flush_ms: 60_000, multiline: { preset: 'java', timeout_ms: 60_000 } });
    await writeGz(join(s.logs, 'a.gz'), 'ERROR boom\njava.lang.IllegalStateException: x\n\tat A.b(A.java:1)\nlast line');
    await s.src.start();
    await until(() => s.ctx.confirmed.length === 2, 3000, 'both events');
    expect(bodies(s.ctx)).toEqual(['ERROR boom\njava.lang.IllegalStateException: x\n\tat A.b(A.java:1)', 'last line']);
  });

  test('start_at: end skips the archives there at the first start, not the ones that come later; a .gz name on plain text is read as text', async () => {
    const s = await setup({ start_at: 'end' });
    await writeGz(join(s.logs, 'before.gz'), lines('before', 5));
    await s.src.start();
    await s.src.sync();
    await writeGz(join(s.logs, 'after.gz'), lines('after', 5));
    await writeFile(join(s.logs, 'plain.gz'), lines('plain', 3));
    await until(() => s.ctx.confirmed.length === 8, 5000, 'the later files');
    await s.src.sync();
    expect(bodies(s.ctx).sort()).toEqual([...split(lines('after', 5)), ...split(lines('plain', 3))].sort());
  });

  test('remove_after_ms deletes an archive once every line of it was confirmed', async () => {
    const s = await setup({ remove_after_ms: 200 });
    const gz = join(s.logs, 'spool-1.gz');
    await writeGz(gz, lines('s', 50));
    await s.src.start();
    await until(() => s.ctx.confirmed.length === 50, 5000, 'the archive');
    // The counter, not the file: the file is gone before the source's unlink call returns.
    await until(() => s.ctx.telemetry.value('tidewatch_file_removed_files_total', { source: 'app' }) === 1, 5000, 'the archive removed');
    expect(await exists(gz)).toBe(false);
    await s.src.sync();
    expect(s.src.lag()).toEqual([]);
  });

  describe('uncompressed off the work loop, two copies on disk at most', () => {
    /** `n` lines of about 1 KiB each. */
    const big = (prefix: string, n: number): string => Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(7, '0')} ${'k'.repeat(1000)}\n`).join('');

    test('a live file is read while a large archive is being uncompressed', async () => {
      const s = await setup();
      const live = join(s.logs, 'live.log');
      await writeFile(live, lines('live', 3));
      await s.src.start();
      await until(() => s.ctx.confirmed.length === 3, 5000, 'the live file');
      const n = scale(64, 256) * 1024;
      await writeGz(join(s.logs, 'backfill.gz'), big('old', n));
      // Once its copy is being written, a line comes to the live file ...
      await until(async () => (await tempsIn(s.dir)).length > 0, 10_000, 'the copy begun');
      await appendFile(live, 'live-now\n');
      // ... and goes out before the archive's first line: the loop did not wait for the copy.
      await until(() => bodies(s.ctx).includes('live-now'), 20_000, 'the live line');
      expect(bodies(s.ctx).filter((b) => b.startsWith('old-'))).toEqual([]);
      await until(() => s.ctx.confirmed.length === 4 + n, 60_000, 'the archive');
      await s.src.sync();
      expect(s.ctx.emitted().length).toBe(4 + n);
      expect(await tempsIn(s.dir)).toEqual([]);
    }, 120_000);

    test('a spool of archives: every line once, never more than two uncompressed copies on disk', async () => {
      const s = await setup();
      const per = 8 * 1024;
      const want: string[] = [];
      for (let k = 0; k < 5; k++) {
        const text = big(`spool${k}`, per);
        want.push(...split(text));
        await writeGz(join(s.logs, `spool-${k}.gz`), text);
      }
      let most = 0;
      let watching = true;
      const watch = (async () => {
        while (watching) {
          // The state directory is made at start.
          most = Math.max(most, (await tempsIn(s.dir).catch(() => [])).length);
          await new Promise((r) => setTimeout(r, 2));
        }
      })();
      await s.src.start();
      await until(() => s.ctx.confirmed.length === want.length, 60_000, 'the spool');
      watching = false;
      await watch;
      await s.src.sync();
      expect(most).toBeGreaterThan(0);
      expect(most).toBeLessThanOrEqual(2);
      expect(bodies(s.ctx).sort()).toEqual(want.sort());
    }, 120_000);

    test('stopped while a copy is being written: the copy is removed, and the restart reads the archive whole once', async () => {
      const s = await setup({ stop_timeout_ms: 100 });
      const n = scale(64, 256) * 1024;
      const text = big('old', n);
      await writeGz(join(s.logs, 'backfill.gz'), text);
      await s.src.start();
      await until(async () => (await tempsIn(s.dir)).length > 0, 10_000, 'the copy begun');
      await s.src.stop();
      expect(await tempsIn(s.dir)).toEqual([]);
      expect(s.ctx.telemetry.value('tidewatch_file_io_errors_total', { source: 'app', op: 'archive' }) ?? 0).toBe(0);
      const s2 = await setup({}, s.dir);
      await s2.src.start();
      await until(() => s2.ctx.confirmed.length === n, 60_000, 'the archive');
      await s2.src.sync();
      expect(s.ctx.emitted().length + s2.ctx.emitted().length).toBe(n);
    }, 120_000);
  });

  test('exclude_gz: true (the default) leaves selected .gz files alone', async () => {
    const s = await setup({ exclude_gz: true });
    await writeGz(join(s.logs, 'x.gz'), lines('x', 5));
    await writeFile(join(s.logs, 'x.log'), lines('y', 5));
    await s.src.start();
    await until(() => s.ctx.confirmed.length === 5, 5000, 'the plain file');
    await new Promise((r) => setTimeout(r, 300));
    await s.src.sync();
    expect(bodies(s.ctx)).toEqual(split(lines('y', 5)));
  });

  test('an archive truncated while it is read: its lines still come, from the uncompressed copy already made', async () => {
    const s = await setup({ max_batch_lines: 10 });
    const gz = join(s.logs, 'b.gz');
    await writeGz(gz, lines('b', 100));
    s.ctx.policy = () => 'hold';
    await s.src.start();
    await until(() => s.ctx.emitted().length > 0, 5000, 'reading');
    await truncate(gz, 0);
    await s.src.sync();
    s.ctx.policy = () => 'ok';
    s.ctx.release();
    await until(() => s.ctx.confirmed.length === 100, 5000, 'the lines read from its copy');
    await s.src.sync();
    expect(bodies(s.ctx)).toEqual(split(lines('b', 100)));
  });
});
