/**
 * The `file` source in a real agent process (`tidewatch agent --config`, DESIGN.md's smallest
 * config with a `file` sink), killed with SIGKILL at random points while a writer appends and
 * rotates, and restarted each time. Compared by content: every line arrives at least once, and
 * every duplicate carries the identity and offset it was first delivered with (so the collector
 * can drop it). Needs dist/ (npx tsc -p tsconfig.build.json).
 */
import { afterEach, describe, expect, test } from 'vitest';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import type { FileHandle } from 'node:fs/promises';
import { copyFile, open, readFile, readdir, readlink, rename, stat, truncate, unlink, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from './file-helpers.js';
import { scale } from '../../support/scale.js';
import { parseCri } from '../../../collector/parsers/container.js';

const BIN = process.env.TW_AGENT_BIN ?? fileURLToPath(new URL('../../../bin/tidewatch.js', import.meta.url));

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

interface Rec {
  body: string;
  id: string;
}

/** Reads the file sink's output. A record torn by SIGKILL mid-write is not a record (it was never confirmed). */
async function readOut(path: string): Promise<Rec[]> {
  const text = await readFile(path, 'utf8').catch(() => '');
  const out: Rec[] = [];
  for (const raw of text.split('\n')) {
    // A torn fragment may be followed, on the same line, by the next run's first whole record.
    const at = raw.lastIndexOf('{"kind":');
    if (at === -1) continue;
    let r: { body: string; attributes: Record<string, unknown> };
    try {
      r = JSON.parse(raw.slice(at)) as typeof r;
    } catch {
      continue;
    }
    const a = r.attributes;
    out.push({ body: r.body, id: `${String(a['tidewatch.stream_id'])}/${String(a['tidewatch.generation'])}/${String(a['tidewatch.offset'])}` });
  }
  return out;
}

function startAgent(config: string, dir: string): ChildProcess {
  const child = spawn(process.execPath, [BIN, 'agent', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'], cwd: dir });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
    if (err.length > 100_000) err = err.slice(-50_000);
  });
  (child as ChildProcess & { errText: () => string }).errText = () => err;
  return child;
}

/** Waits for the agent's `started` log line: a SIGTERM before it would find no handler installed. */
async function started(c: ChildProcess): Promise<void> {
  const errText = (c as ChildProcess & { errText: () => string }).errText;
  for (let i = 0; !errText().includes('"msg":"started"'); i++) {
    if (i > 600 || c.exitCode !== null) throw new Error(`agent did not start: ${errText().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const exited = (c: ChildProcess): Promise<number | null> =>
  c.exitCode !== null || c.signalCode !== null ? Promise.resolve(c.exitCode) : new Promise((r) => c.once('exit', (code) => r(code)));

async function setup(extra = ''): Promise<{ dir: string; config: string; log: string; out: string }> {
  const { dir, cleanup } = await tempDir();
  cleanups.push(cleanup);
  await mkdir(join(dir, 'logs'));
  const config = join(dir, 'agent.yaml');
  const log = join(dir, 'logs', 'app.log');
  const out = join(dir, 'out.jsonl');
  await writeFile(
    config,
    [
      `data_dir: ${join(dir, 'data')}`,
      'sources:',
      `  app: { type: file, include: ["${join(dir, 'logs', 'app.log*')}"], start_at: beginning, max_batch_lines: 200${extra} }`,
      'sinks:',
      `  out: { type: file, path: ${out} }`,
      'pipelines:',
      '  logs: { sources: [app], sinks: [out] }',
      '',
    ].join('\n'),
  );
  return { dir, config, log, out };
}

/**
 * Appends `total` lines to `log` in writes of `perWrite`, renaming it away (and reopening it)
 * every `rotateMs`, pausing `pauseMs` between writes; `line(n)` gives the bytes written for line n
 * and what a record must say for it. Returns what was written, in order, the file (still open)
 * and how many times it was renamed away.
 */
async function writeRotating(
  log: string,
  o: { total: number; perWrite: number; rotateMs: number; pauseMs: number; line: (n: number) => { raw: string; says: string }; encoding?: BufferEncoding | undefined },
): Promise<{ written: string[]; fh: FileHandle; rotations: number }> {
  const written: string[] = [];
  let fh = await open(log, 'a');
  let rot = 0;
  let lastRot = Date.now();
  for (let n = 0; n < o.total; ) {
    let s = '';
    for (let j = 0; j < o.perWrite && n < o.total; j++, n++) {
      const l = o.line(n);
      written.push(l.says);
      s += l.raw;
    }
    await fh.write(Buffer.from(s, o.encoding ?? 'utf8'));
    if (Date.now() - lastRot >= o.rotateMs) {
      await rename(log, `${log}.${rot++}`);
      await fh.close();
      fh = await open(log, 'a');
      lastRot = Date.now();
    }
    await new Promise((r) => setTimeout(r, o.pauseMs));
  }
  return { written, fh, rotations: rot };
}

/**
 * What a kill -9 test writes and how it reads the records back: `line(n)` gives the bytes written
 * for line n (one or several physical lines, newline-terminated) and what a record must say for
 * it; `said(body)` reads that from a record's body (undefined: not a line the writer wrote whole).
 */
interface Variant {
  extra: string;
  /** How the writer encodes its lines (utf8 unless given). */
  encoding?: BufferEncoding;
  line(n: number): { raw: string; says: string };
  said(body: string): string | undefined;
}

/**
 * Kills the agent with SIGKILL at random points while a writer appends and rotates, restarting it
 * each time; then every line must have arrived at least once, and every duplicate must carry the
 * identity and offset it was first delivered with (an identity never names two different lines).
 */
async function killNineWhileWriting(v: Variant): Promise<void> {
  const { dir, config, log, out } = await setup(v.extra);
  const total = scale(40_000, 400_000);
  const kills = scale(8, 40);
  let seed = 12345;
  const rnd = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  let written: string[] = [];
  let writing = true;
  // ~25k lines/s: the writer is still busy during most of the kills
  const writer = (async () => {
    const w = await writeRotating(log, { total, perWrite: 100, rotateMs: 250, pauseMs: 4, line: v.line, encoding: v.encoding });
    written = w.written;
    await w.fh.close();
    writing = false;
  })();
  let k = 0;
  while (writing || k < kills) {
    const agent = startAgent(config, dir);
    cleanups.push(async () => void agent.kill('SIGKILL'));
    await new Promise((r) => setTimeout(r, 150 + rnd() * 600));
    agent.kill('SIGKILL');
    await exited(agent);
    k++;
  }
  await writer;
  const agent = startAgent(config, dir);
  cleanups.push(async () => void agent.kill('SIGKILL'));
  await started(agent);
  const want = new Set(written);
  const deadline = Date.now() + 60_000;
  let recs: Rec[] = [];
  for (;;) {
    recs = await readOut(out);
    const got = new Set(recs.map((r) => v.said(r.body)));
    if ([...want].every((w) => got.has(w))) break;
    if (Date.now() > deadline) {
      const missing = [...want].filter((w) => !got.has(w));
      throw new Error(`${missing.length} lines never arrived, e.g. ${missing.slice(0, 3).join(' | ')}\n${(agent as ChildProcess & { errText: () => string }).errText().slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  agent.kill('SIGTERM');
  expect(await exited(agent)).toBe(0);
  recs = await readOut(out);
  // Nothing that was not written (for split lines: nothing but whole lines).
  expect(recs.filter((r) => !want.has(v.said(r.body) ?? '')).slice(0, 3)).toEqual([]);
  const idOf = new Map<string, string>();
  const bodyOf = new Map<string, string>();
  let dups = 0;
  for (const r of recs) {
    const first = idOf.get(r.body);
    if (first !== undefined) {
      dups++;
      expect(r.id, `duplicate of "${r.body.slice(0, 20)}"`).toBe(first);
    } else idOf.set(r.body, r.id);
    const b = bodyOf.get(r.id);
    if (b !== undefined) expect(r.body, `identity ${r.id}`).toBe(b);
    else bodyOf.set(r.id, r.body);
  }
  // The test really killed the agent mid-way: some lines were sent again after a restart.
  expect(k).toBeGreaterThanOrEqual(kills);
  if (process.env.TW_DEBUG) console.log({ kills: k, lines: written.length, records: recs.length, dups });
}

describe('file source in a real agent process', () => {
  test('kill -9 at random points while writing and rotating: every line at least once, every duplicate with the identity it had', async () => {
    await killNineWhileWriting({
      extra: '',
      line: (n) => {
        const l = `line-${String(n).padStart(8, '0')} ${'z'.repeat(n % 61)}`;
        return { raw: `${l}\n`, says: l };
      },
      said: (body) => body,
    });
  }, 300_000);

  test('kill -9 with utf-16le files: every line at least once, decoded, every duplicate with the identity it had', async () => {
    await killNineWhileWriting({
      extra: ', encoding: utf-16le',
      encoding: 'utf16le',
      line: (n) => {
        // U+0A0D: a 0x0A byte inside a character, which must not end the line.
        const l = `línea-${String(n).padStart(8, '0')} 中\u0a0d ${'z'.repeat(n % 61)}`;
        return { raw: `${l}\r\n`, says: l };
      },
      said: (body) => body,
    });
  }, 300_000);

  test('kill -9 with multiline cri: every line a container runtime split arrives whole at least once, never in pieces', async () => {
    const T = '2026-11-26T10:00:00.000000001Z';
    await killNineWhileWriting({
      // A long timeout: pieces are sent only once their line ends (or after a restart re-reads them).
      extra: ', multiline: { preset: cri, timeout_ms: 600000 }',
      line: (n) => {
        const msg = `line-${String(n).padStart(8, '0')} ${'z'.repeat(n % 61)}`;
        if (n % 7 !== 0) return { raw: `${T} stdout F ${msg}\n`, says: msg };
        // Every seventh line in three pieces, as containerd writes a line longer than its buffer.
        const a = msg.slice(0, 5);
        const b = msg.slice(5, 12);
        return { raw: `${T} stdout P ${a}\n${T} stdout P ${b}\n${T} stdout F ${msg.slice(12)}\n`, says: msg };
      },
      said: (body) => {
        const r = parseCri(body);
        return r.ok && r.fields['tidewatch.partial'] === undefined ? String(r.fields['message']) : undefined;
      },
    });
  }, 300_000);

  test('SIGTERM flushes and exits 0; the restart resumes exactly, nothing twice', async () => {
    const { dir, config, log, out } = await setup();
    await writeFile(log, Array.from({ length: 5000 }, (_, i) => `first-${i}\n`).join(''));
    const a1 = startAgent(config, dir);
    cleanups.push(async () => void a1.kill('SIGKILL'));
    for (let i = 0; (await readOut(out)).length < 5000; i++) {
      if (i > 200) throw new Error('first run did not deliver');
      await new Promise((r) => setTimeout(r, 50));
    }
    await started(a1);
    a1.kill('SIGTERM');
    expect(await exited(a1)).toBe(0);
    const more = Array.from({ length: 3000 }, (_, i) => `second-${i}\n`).join('');
    const fh = await open(log, 'a');
    await fh.write(more);
    await fh.close();
    const a2 = startAgent(config, dir);
    cleanups.push(async () => void a2.kill('SIGKILL'));
    for (let i = 0; (await readOut(out)).length < 8000; i++) {
      if (i > 200) throw new Error('second run did not deliver');
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 200));
    await started(a2);
    a2.kill('SIGTERM');
    expect(await exited(a2)).toBe(0);
    const recs = await readOut(out);
    expect(recs.length).toBe(8000);
    expect(new Set(recs.map((r) => r.body)).size).toBe(8000);
    // The same file keeps its stream across the restart.
    expect(new Set(recs.map((r) => r.id.split('/')[0])).size).toBe(1);
  }, 60_000);

  test('rename rotation every 100 ms during a large write, then copytruncate: every line once', async () => {
    const { dir, config, log, out } = await setup();
    const agent = startAgent(config, dir);
    cleanups.push(async () => void agent.kill('SIGKILL'));
    await started(agent);
    const total = scale(60_000, 600_000);
    const { written, fh, rotations } = await writeRotating(log, {
      total,
      perWrite: 200,
      rotateMs: 100,
      pauseMs: 2,
      line: (n) => {
        const l = `rot-${String(n).padStart(8, '0')} ${'q'.repeat(n % 53)}`;
        return { raw: `${l}\n`, says: l };
      },
    });
    // copytruncate, no write between copy and truncate, then more lines
    await fh.close();
    await copyFile(log, `${log}.copy`);
    await truncate(log, 0);
    const tailLines = Array.from({ length: 500 }, (_, i) => `after-copytruncate-${i}`);
    await writeFile(log, `${tailLines.join('\n')}\n`);
    written.push(...tailLines);
    expect(rotations).toBeGreaterThan(5);
    const want = new Set(written);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const got = new Set((await readOut(out)).map((r) => r.body));
      if ([...want].every((w) => got.has(w))) break;
      if (Date.now() > deadline) throw new Error(`lines missing: ${[...want].filter((w) => !got.has(w)).length}`);
      await new Promise((r) => setTimeout(r, 300));
    }
    // Give a wrongly re-read copy the time to show up before counting.
    await new Promise((r) => setTimeout(r, 1500));
    agent.kill('SIGTERM');
    expect(await exited(agent)).toBe(0);
    const recs = await readOut(out);
    const seen = new Map<string, number>();
    for (const r of recs) seen.set(r.body, (seen.get(r.body) ?? 0) + 1);
    expect([...seen].filter(([, c]) => c > 1).slice(0, 3)).toEqual([]);
    expect(recs.length).toBe(written.length);
  }, 180_000);

  test('truncation with an identical first line, delete-and-recreate, inode reuse: every line once', async () => {
    // Deleted files let go quickly, so their inodes can be handed out again while the agent runs.
    const { dir, config, log, out } = await setup(', rotated_idle_ms: 50, close_idle_ms: 0, rescan_interval_ms: 200');
    const agent = startAgent(config, dir);
    cleanups.push(async () => void agent.kill('SIGKILL'));
    await started(agent);
    const written: string[] = [];
    const arrived = async (l: string): Promise<void> => {
      for (let i = 0; !(await readOut(out)).some((r) => r.body === l); i++) {
        if (i > 400) throw new Error(`"${l}" never arrived`);
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    const put = async (path: string, tag: string, n: number, head = 'HEADER same first line'): Promise<void> => {
      const ls = [head, ...Array.from({ length: n }, (_, i) => `${tag}-${i}`)];
      await writeFile(path, `${ls.join('\n')}\n`);
      written.push(...ls);
      await arrived(ls[ls.length - 1] as string);
    };
    // truncation and rewrite of an identical first line (longer than before, so size alone cannot tell)
    await put(log, 'gen0', 20);
    await put(log, 'gen1-with-longer-lines-than-before', 40);
    // delete and recreate, several times; ext4 hands freed inodes out again (inode reuse)
    let reused = 0;
    let rounds = 0;
    const holdsDeleted = async (): Promise<boolean> => {
      const fds = await readdir(`/proc/${agent.pid}/fd`).catch(() => [] as string[]);
      for (const fd of fds) {
        const target = await readlink(`/proc/${agent.pid}/fd/${fd}`).catch(() => '');
        if (target.startsWith(log) && target.endsWith('(deleted)')) return true;
      }
      return false;
    };
    // At least 10 rounds, and on until a freed inode was handed out again (the case under test).
    for (; rounds < 10 || (reused === 0 && rounds < 40); rounds++) {
      const before = (await stat(log)).ino;
      await unlink(log);
      // The agent reads the deleted file to its end and lets it go; only then is the inode free.
      for (let i = 0; (await holdsDeleted()) && i < 200; i++) await new Promise((res) => setTimeout(res, 25));
      await put(log, `re${rounds}`, 10);
      if ((await stat(log)).ino === before) reused++;
    }
    agent.kill('SIGTERM');
    expect(await exited(agent)).toBe(0);
    const recs = await readOut(out);
    // The header line was written 2 + rounds times: it arrives that often, each time under its own identity.
    const heads = recs.filter((r) => r.body === 'HEADER same first line');
    expect(heads.length).toBe(2 + rounds);
    expect(new Set(heads.map((r) => r.id)).size).toBe(2 + rounds);
    const rest = recs.filter((r) => r.body !== 'HEADER same first line').map((r) => r.body);
    expect(rest.length).toBe(new Set(rest).size);
    expect(new Set(rest)).toEqual(new Set(written.filter((w) => w !== 'HEADER same first line')));
    // The inode-reuse case was really exercised (ext4 reuses a freed inode at once).
    expect(reused).toBeGreaterThan(0);
  }, 120_000);
});
