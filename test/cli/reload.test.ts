/**
 * Operating a real agent process: SIGHUP with a changed config (output moves to the new sink, no
 * line lost), SIGHUP with a broken config (keeps running on the old one, stderr names the code),
 * and SIGTERM while lines are being written (exit 0, every line read is out, the checkpoint lets
 * a restart carry on with nothing lost and nothing repeated).
 */
import { execFileSync, spawn } from 'node:child_process';
import { constants } from 'node:fs';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { appendFile, mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CheckpointStore } from '../../agent/sources/file/checkpoint.js';
import { scale } from '../support/scale.js';
import { until } from '../support/wait.js';
import { completeJsonLines } from '../support/jsonl.js';

const BIN = new URL('../../bin/tidewatch.js', import.meta.url).pathname;

interface Agent {
  child: ChildProcessWithoutNullStreams;
  stderr: () => string;
  exited: Promise<number | null>;
}

function startAgent(config: string, ...extra: string[]): Agent {
  return startAgentWith({}, config, ...extra);
}
function startAgentWith(env: Record<string, string>, config: string, ...extra: string[]): Agent {
  const child = spawn(process.execPath, [BIN, 'agent', '--config', config, ...extra], { stdio: 'pipe', env: { ...process.env, ...env } });
  children.push(child);
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, stderr: () => err, exited };
}

function agentConfig(dir: string, out: string, extra = ''): string {
  return [
    `data_dir: ${join(dir, 'data')}`,
    'sources:',
    `  app: { type: file, include: ["${join(dir, 'logs')}/*.log"], start_at: beginning }`,
    'sinks:',
    `  out: { type: file, path: ${out}${extra} }`,
    'pipelines:',
    '  logs: { sources: [app], sinks: [out] }',
    '',
  ].join('\n');
}

interface Rec {
  body: string;
  offset: number;
}
async function records(file: string): Promise<Rec[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  // Polled while the agent writes it: complete lines only.
  return completeJsonLines(text).map((l) => {
    const r = l as { body: string; attributes: Record<string, number> };
    return { body: r.body, offset: r.attributes['tidewatch.offset']! };
  });
}

interface StatusJson {
  running: boolean;
  snapshot: { reloads: { failed: number }; last_error: { code: string } };
  files: { source: string; path: string; offset: number; size: number | null; lag_bytes: number | null; state: string }[];
  events: { sent: number };
}
async function status(dataDir: string, ...extra: string[]): Promise<{ code: number | null; out: string }> {
  const p = spawn(process.execPath, [BIN, 'status', '--data-dir', dataDir, ...extra], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  p.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((r) => p.on('exit', r));
  return { code, out };
}

const line = (i: number): string => `2026-11-25T10:00:00Z INFO request ${i} done`;
const lines = (from: number, to: number): string => Array.from({ length: to - from }, (_, k) => `${line(from + k)}\n`).join('');

const dirs: string[] = [];
// A failed assertion must not leave an agent running.
const children: ChildProcessWithoutNullStreams[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'tw-reload-'));
  dirs.push(d);
  await mkdir(join(d, 'logs'));
  return d;
}
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('tidewatch agent: SIGHUP reload', () => {
  it('a changed config moves the output to the new sink; lines written during the reload are not lost', async () => {
    const dir = await tempDir();
    const log = join(dir, 'logs', 'a.log');
    const out1 = join(dir, 'out1.jsonl');
    const out2 = join(dir, 'out2.jsonl');
    const config = join(dir, 'agent.yaml');
    await writeFile(log, lines(0, 100));
    await writeFile(config, agentConfig(dir, out1));
    const a = startAgent(config);
    await until(async () => (await records(out1)).length === 100, '100 lines in out1', 20_000);

    await writeFile(config, agentConfig(dir, out2));
    a.child.kill('SIGHUP');
    // Lines keep coming while the runner is swapped.
    for (let i = 100; i < 300; i += 20) {
      await appendFile(log, lines(i, i + 20));
      await new Promise((r) => setTimeout(r, 10));
    }
    await until(() => a.stderr().includes('"msg":"reloaded"'), 'the reloaded log line', 20_000);
    await appendFile(log, lines(300, 400));
    await until(async () => (await records(out2)).some((r) => r.body === line(399)), 'line 399 in out2', 20_000);
    a.child.kill('SIGTERM');
    expect(await a.exited, a.stderr()).toBe(0);

    const r1 = await records(out1);
    const r2 = await records(out2);
    // Nothing after the reload goes to the old sink, and the new one carries on in order.
    expect(r2.length).toBeGreaterThanOrEqual(100);
    expect(r2.at(-1)!.body).toBe(line(399));
    // At least once: every line is out; a line in both files is a replay of the same bytes (same
    // offset), never a different line under a reused position.
    const seen = new Map<number, string>();
    for (const r of [...r1, ...r2]) {
      const prev = seen.get(r.offset);
      if (prev !== undefined) expect(prev).toBe(r.body);
      seen.set(r.offset, r.body);
    }
    expect([...seen.entries()].sort((x, y) => x[0] - y[0]).map(([, b]) => b)).toEqual(Array.from({ length: 400 }, (_, i) => line(i)));
    // A clean stop confirms what it sent, so in practice nothing is repeated.
    expect(r1.length + r2.length).toBe(400);
    expect(a.stderr()).toMatch(/"msg":"reloading"/);
  }, 90_000);

  it('a broken config is refused with its TW_ code and the old pipelines keep running', async () => {
    const dir = await tempDir();
    const log = join(dir, 'logs', 'a.log');
    const out1 = join(dir, 'out1.jsonl');
    const config = join(dir, 'agent.yaml');
    await writeFile(log, lines(0, 50));
    await writeFile(config, agentConfig(dir, out1));
    const a = startAgent(config);
    await until(async () => (await records(out1)).length === 50, '50 lines in out1', 20_000);

    // An option the file sink does not have: a schema error, found at reload like at start.
    await writeFile(config, agentConfig(dir, join(dir, 'out2.jsonl'), ', rotate_bytes: lots'));
    a.child.kill('SIGHUP');
    await until(() => a.stderr().includes('reload rejected'), 'the rejection in the log', 20_000);
    const rejected = a.stderr().split('\n').find((l) => l.includes('reload rejected'))!;
    const rec = JSON.parse(rejected) as Record<string, unknown>;
    expect(rec['level']).toBe('error');
    expect(rec['code']).toBe('TW_CONFIG_SCHEMA');
    expect(String(rec['reason'])).toContain('sinks.out');

    // Still running on the old config: new lines go to out1.
    await appendFile(log, lines(50, 80));
    await until(async () => (await records(out1)).length === 80, '80 lines in out1', 20_000);
    // `tidewatch status` against the running agent: the rejection as the last error, the file
    // with its confirmed offset (checkpointed within checkpoint_interval_ms) and no lag.
    const size = Buffer.byteLength(lines(0, 80));
    let report: StatusJson | undefined;
    await until(
      async () => {
        const r = await status(join(dir, 'data'), '--json');
        report = JSON.parse(r.out) as StatusJson;
        return r.code === 0 && report.files[0]?.offset === size;
      },
      'status to show the confirmed offset',
      20_000,
    );
    expect(report!.running).toBe(true);
    expect(report!.snapshot.reloads.failed).toBe(1);
    expect(report!.snapshot.last_error.code).toBe('TW_CONFIG_SCHEMA');
    expect(report!.files).toEqual([expect.objectContaining({ source: 'app', path: log, offset: size, size, lag_bytes: 0, state: 'live' })]);
    expect(report!.events.sent).toBe(80);
    // The same as a table.
    const table = await status(join(dir, 'data'));
    expect(table.code).toBe(0);
    expect(table.out).toMatch(/^tidewatch agent: running \(pid \d+/);
    expect(table.out).toMatch(new RegExp(`app\\s+\\S+\\s+0\\s+live\\s+${size}\\s+${size}\\s+0 B\\s+${log}`));

    a.child.kill('SIGTERM');
    expect(await a.exited, a.stderr()).toBe(0);
    // Stopped: exit 3, positions still shown.
    const after = await status(join(dir, 'data'), '--json');
    expect(after.code).toBe(3);
    expect((JSON.parse(after.out) as StatusJson).files[0]?.offset).toBe(size);
    expect((await records(out1)).map((r) => r.body)).toEqual(Array.from({ length: 80 }, (_, i) => line(i)));
  }, 90_000);
});

describe('tidewatch agent: SIGTERM under load', () => {
  it('exits 0 with every read line out and its position saved; a restart carries on exactly', async () => {
    const total = scale(20_000, 200_000);
    const dir = await tempDir();
    const log = join(dir, 'logs', 'a.log');
    const out = join(dir, 'out.jsonl');
    const config = join(dir, 'agent.yaml');
    await writeFile(log, '');
    await writeFile(config, agentConfig(dir, out));
    const a = startAgent(config);
    await until(() => a.stderr().includes('"msg":"started"'), 'the agent to start', 20_000);

    // Write in chunks; SIGTERM lands once `total / 2` lines are written and the agent is busy,
    // and the writer goes on until the agent has exited (at least `total` lines, at most 20x):
    // the agent stops while the file still grows, however long its shutdown takes on a loaded
    // machine.
    const chunk = 500;
    let written = 0;
    let signalled = false;
    let exited = false;
    void a.exited.then(() => (exited = true));
    while (written < total || (!exited && written < total * 20)) {
      await appendFile(log, lines(written, written + chunk));
      written += chunk;
      if (!signalled && written >= total / 2) {
        // Busy for sure: lines are coming out and half the file is still unread or in flight.
        await until(async () => (await records(out)).length > 0, 'first lines out', 20_000);
        a.child.kill('SIGTERM');
        signalled = true;
      }
    }
    expect(await a.exited, a.stderr()).toBe(0);
    expect(a.stderr()).toMatch(/"msg":"stopped"/);

    // What is out is a gap-free prefix of the file, each line once.
    const first = await records(out);
    expect(first.length).toBeGreaterThan(0);
    expect(first.length).toBeLessThan(written); // it stopped mid-stream, not after the end
    expect(first.map((r) => r.body)).toEqual(Array.from({ length: first.length }, (_, i) => line(i)));
    // The saved position is exactly the end of the last line out.
    const { state } = await new CheckpointStore(join(dir, 'data', 'source', 'app')).load();
    const bytesOut = first.reduce((n, r) => n + Buffer.byteLength(r.body) + 1, 0);
    expect(state.entries.map((e) => e.offset)).toEqual([bytesOut]);

    // A restart resumes from there: the whole file is out once, nothing repeated. (Run with
    // TW_LOG_LEVEL=warn, which wins over the config's level: a clean run logs nothing.)
    const b = startAgentWith({ TW_LOG_LEVEL: 'warn' }, config);
    await until(async () => (await records(out)).length >= written, `${written} lines`, 60_000);
    b.child.kill('SIGTERM');
    expect(await b.exited, b.stderr()).toBe(0);
    const all = await records(out);
    expect(all.length).toBe(written);
    expect(all.every((r, i) => r.body === line(i))).toBe(true);
    expect(b.stderr()).toBe('');
    expect(a.stderr()).toContain('"level":"info"');
  }, 120_000);

  it('a sink that never confirms: ends after --stop-timeout-ms, naming TW_STOP_TIMEOUT and what was unconfirmed', async () => {
    const dir = await tempDir();
    const log = join(dir, 'logs', 'a.log');
    // The sink writes into a pipe nobody reads: once the pipe's buffer (64 KiB) is full, its
    // writes never finish, like a sink whose far end hangs.
    const fifo = join(dir, 'stuck.jsonl');
    execFileSync('mkfifo', [fifo]);
    const reader = await open(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      await writeFile(log, lines(0, 5000));
      const config = join(dir, 'agent.yaml');
      await writeFile(config, agentConfig(dir, fifo));
      const a = startAgent(config, '--stop-timeout-ms', '1500');
      await until(() => a.stderr().includes('"msg":"started"'), 'the agent to start', 20_000);
      await new Promise((r) => setTimeout(r, 500));
      const killed = new Promise<NodeJS.Signals | null>((r) => a.child.on('exit', (_code, sig) => r(sig)));
      const t0 = Date.now();
      a.child.kill('SIGTERM');
      await a.exited;
      // The timeout, plus the 2 s after which a pending file system call counts as stuck (and slack).
      expect(Date.now() - t0).toBeLessThan(1500 + 2000 + 2500);
      // A write blocked in the kernel holds one of libuv's threads, which process.exit would wait
      // for forever: the process kills itself instead, and says so (a stuck network sink exits 1).
      expect(await killed, a.stderr()).toBe('SIGKILL');
      expect(a.stderr()).toContain('a file system call does not return; killing the process');
      const rec = JSON.parse(a.stderr().split('\n').find((l) => l.includes('TW_STOP_TIMEOUT'))!) as Record<string, number | string>;
      expect(rec['level']).toBe('error');
      expect(rec['stop_timeout_ms']).toBe(1500);
      expect(Number(rec['events_received'])).toBeGreaterThan(Number(rec['events_sent']));
      // Nothing unconfirmed was checkpointed: a restart reads those lines again.
      const { state } = await new CheckpointStore(join(dir, 'data', 'source', 'app')).load();
      expect(state.entries.every((e) => e.offset < Buffer.byteLength(lines(0, 5000)))).toBe(true);
    } finally {
      await reader.close();
    }
  }, 60_000);
});
