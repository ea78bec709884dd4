/**
 * Resource faults of issue 11 that need no broker, on the real agent process (needs dist/):
 * - data_dir on a full filesystem (a small tmpfs made by the test): at start the agent refuses
 *   with TW_STATE_WRITE; filled while running, lines keep arriving, checkpoint failures are
 *   counted under TW_STATE_WRITE, and checkpoints resume once space is back;
 * - a corrupt or truncated checkpoint: detected, reported (TW_STATE_CORRUPT, log and counter),
 *   recovered from `.prev` or from the beginning: duplicates possible, no line lost, no crash;
 * - too many open files: `prlimit --nofile` far below the files to tail; max_open_files is
 *   lowered to fit, the cap holds (descriptors counted in /proc), every line arrives.
 * The disk buffer's limit and corrupt buffer segments need Kafka: test/chaos/buffer.cluster.kafka.test.ts.
 */
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, sleep } from './support.js';
import { makeTmpfs, metricValue, scrapeMetrics, spawnAgent, writeConfig } from './agent-process.js';
import type { Agent } from './agent-process.js';
import { completeJsonLines } from '../support/jsonl.js';

const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
});

function track(a: Agent): Agent {
  cleanups.push(() => a.stop());
  return a;
}

/** Lines of the file sink's output, by body (polled while the agent writes it: complete lines only). */
function sunk(path: string): string[] {
  if (!existsSync(path)) return [];
  return completeJsonLines(readFileSync(path, 'utf8')).map((r) => String((r as { body: unknown }).body));
}

async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

function writeLines(file: string, tag: string, from: number, n: number): void {
  let s = '';
  for (let i = from; i < from + n; i++) s += `${tag} ${i}\n`;
  appendFileSync(file, s);
}

describe('data_dir on a full filesystem', () => {
  it('refuses to start with TW_STATE_WRITE when data_dir has no room', async () => {
    const fs = makeTmpfs(64);
    cleanups.push(() => fs.release());
    const dir = mkdtempSync(join(tmpdir(), 'tw-full-'));
    mkdirSync(join(dir, 'logs'));
    writeLines(join(dir, 'logs', 'a.log'), 'line', 0, 10);
    const cfg = writeConfig(dir, [
      `data_dir: ${fs.dir}`,
      'sources:',
      `  app: { type: file, include: ["${dir}/logs/*.log"], start_at: beginning }`,
      'sinks:',
      `  out: { type: file, path: ${join(dir, 'out.jsonl')} }`,
      'pipelines:',
      '  logs: { sources: [app], sinks: [out] }',
    ]);
    // Filled before the agent starts: inside the namespace the filler goes in first.
    const fill = `dd if=/dev/zero of=${fs.dir}/filler bs=4k count=64 2>/dev/null; true`;
    const wrap = fs.wrap.length > 0 ? [...fs.wrap.slice(0, 4), `${fs.wrap[4]!.replace(' && exec', ` && ${fill} && exec`)}`, ...fs.wrap.slice(5)] : [];
    if (fs.wrap.length === 0) fs.sh(fill);
    const agent = track(spawnAgent(cfg, wrap));
    const code = await agent.exited;
    expect(code).not.toBe(0);
    expect(agent.stderr()).toContain('TW_STATE_WRITE');
    expect(agent.stderr()).toContain('no space left on device');
    expect(agent.stderr()).not.toContain('TW_INTERNAL');
  });

  it('filled while running: lines keep arriving, checkpoint failures counted, checkpoints resume when space returns', async () => {
    const fs = makeTmpfs(128);
    cleanups.push(() => fs.release());
    const dir = mkdtempSync(join(tmpdir(), 'tw-full-'));
    mkdirSync(join(dir, 'logs'));
    const log = join(dir, 'logs', 'a.log');
    const out = join(dir, 'out.jsonl');
    const port = await freePort();
    writeLines(log, 'before', 0, 50);
    const cfg = writeConfig(dir, [
      `data_dir: ${fs.dir}`,
      'sources:',
      `  app: { type: file, include: ["${dir}/logs/*.log"], start_at: beginning, checkpoint_interval_ms: 100 }`,
      `  self: { type: internal_metrics, listen: "127.0.0.1:${port}", emit: false }`,
      'sinks:',
      `  out: { type: file, path: ${out} }`,
      'pipelines:',
      '  logs: { sources: [app], sinks: [out] }',
      '  self: { sources: [self], sinks: [out] }', // a source runs only in a pipeline; emit: false sends nothing
    ]);
    const agent = track(spawnAgent(cfg, fs.wrap));
    await agent.logged('started');
    await until(() => sunk(out).length === 50, '50 lines before the disk fills');
    const pid = agent.child.pid!;
    fs.sh(`dd if=/dev/zero of=${fs.dir}/filler bs=4k count=64 2>/dev/null; true`, pid);
    writeLines(log, 'during', 0, 50);
    await until(() => sunk(out).length === 100, 'lines written while data_dir is full');
    let m = '';
    await until(async () => {
      m = await scrapeMetrics(port);
      return metricValue(m, 'tidewatch_errors_total', { code: 'TW_STATE_WRITE' }) > 0;
    }, 'checkpoint failures counted under TW_STATE_WRITE');
    expect(metricValue(m, 'tidewatch_file_io_errors_total', { op: 'checkpoint' })).toBeGreaterThan(0);
    const warn = await agent.logged('file source I/O error');
    expect(warn['code']).toBe('TW_STATE_WRITE');
    expect(JSON.stringify(warn)).toContain('ENOSPC');

    // Space returns: the next checkpoint is written, so a restart does not resend.
    const writesBefore = metricValue(m, 'tidewatch_file_checkpoint_writes_total');
    fs.sh(`rm -f ${fs.dir}/filler`, pid);
    writeLines(log, 'after', 0, 50);
    await until(() => sunk(out).length === 150, 'lines after space returned');
    await until(async () => {
      m = await scrapeMetrics(port);
      return metricValue(m, 'tidewatch_file_checkpoint_writes_total') > writesBefore;
    }, 'checkpoint writes resume');
    await sleep(500);
    expect(await agent.stop()).toBe(0);
    const lines = sunk(out);
    expect(new Set(lines).size).toBe(150);
    expect(lines.length).toBe(150);
  });
});

describe('corrupt or truncated checkpoint', () => {
  async function runOnce(dir: string, cfg: string, expectLines: number): Promise<Agent> {
    const agent = track(spawnAgent(cfg));
    await agent.logged('started');
    await until(() => sunk(join(dir, 'out.jsonl')).length >= expectLines, `${expectLines} lines at the sink`);
    await sleep(600); // a checkpoint after the last confirmation
    expect(await agent.stop()).toBe(0);
    return agent;
  }

  for (const damage of ['flipped bytes', 'truncated', 'both files flipped'] as const) {
    it(`${damage}: detected, reported with TW_STATE_CORRUPT, recovered without a crash and without loss`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'tw-ck-'));
      mkdirSync(join(dir, 'logs'));
      const log = join(dir, 'logs', 'a.log');
      const out = join(dir, 'out.jsonl');
      writeLines(log, 'one', 0, 100);
      const cfg = writeConfig(dir, [
        `data_dir: ${join(dir, 'data')}`,
        'sources:',
        `  app: { type: file, include: ["${dir}/logs/*.log"], start_at: beginning, checkpoint_interval_ms: 100 }`,
        'sinks:',
        `  out: { type: file, path: ${out} }`,
        'pipelines:',
        '  logs: { sources: [app], sinks: [out] }',
      ]);
      await runOnce(dir, cfg, 100);
      writeLines(log, 'two', 0, 100);
      await runOnce(dir, cfg, 200);
      expect(sunk(out).length).toBe(200); // clean restarts resend nothing

      const ck = join(dir, 'data', 'source', 'app', 'checkpoint');
      const flip = (f: string): void => {
        const b = readFileSync(f);
        for (let i = Math.floor(b.length / 2); i < Math.floor(b.length / 2) + 8 && i < b.length; i++) b[i] = b[i]! ^ 0xff;
        writeFileSync(f, b);
      };
      if (damage === 'truncated') truncateSync(ck, Math.floor(statSync(ck).size / 2));
      else flip(ck);
      if (damage === 'both files flipped') flip(`${ck}.prev`);

      writeLines(log, 'three', 0, 100);
      const agent = track(spawnAgent(cfg));
      const line = await agent.logged('file checkpoint is corrupt');
      expect(line['code']).toBe('TW_STATE_CORRUPT');
      expect(line['recovery']).toBe(damage === 'both files flipped' ? 'reading every file from its beginning' : 'using the previous checkpoint, under new stream ids');
      await until(() => new Set(sunk(out)).size === 300, 'every line after the recovery');
      await sleep(300);
      expect(agent.child.exitCode).toBeNull();
      expect(await agent.stop()).toBe(0);
      const lines = sunk(out);
      // Nothing lost; resent lines are the price (at-least-once), bounded by the file.
      expect(new Set(lines).size).toBe(300);
      if (damage === 'both files flipped') expect(lines.length).toBe(500); // read again from the beginning
      else expect(lines.length).toBeGreaterThanOrEqual(300);
      // The next start is clean: the recovered checkpoint was written.
      const again = track(spawnAgent(cfg));
      await again.logged('started');
      await sleep(1000);
      expect(again.stderr()).not.toContain('file checkpoint is corrupt');
      expect(await again.stop()).toBe(0);
      expect(sunk(out).length).toBe(lines.length);
    });
  }
});

describe('too many open files', () => {

  it('under prlimit --nofile 256 with 600 files: max_open_files lowered, the cap holds, every line arrives', async () => {
    expect(spawnSync('prlimit', ['--version']).status, 'prlimit (util-linux) is needed').toBe(0);
    const dir = mkdtempSync(join(tmpdir(), 'tw-nofile-'));
    const logs = join(dir, 'logs');
    mkdirSync(logs);
    const files = 600;
    for (let f = 0; f < files; f++) writeLines(join(logs, `f${f}.log`), `f${f}`, 0, 3);
    const out = join(dir, 'out.jsonl');
    const cfg = writeConfig(dir, [
      `data_dir: ${join(dir, 'data')}`,
      'sources:',
      `  app: { type: file, include: ["${logs}/*.log"], start_at: beginning, close_idle_ms: 1000 }`,
      'sinks:',
      `  out: { type: file, path: ${out} }`,
      'pipelines:',
      '  logs: { sources: [app], sinks: [out] }',
    ]);
    const agent = track(spawnAgent(cfg, ['prlimit', '--nofile=256:256']));
    const warn = await agent.logged('max_open_files lowered to fit the open files limit');
    expect(warn['limit']).toBe(256);
    expect(warn['max_open_files']).toBe(128);
    let maxFds = 0;
    const fdCount = (): number => {
      try {
        return readdirSync(`/proc/${agent.child.pid}/fd`).length;
      } catch {
        return 0;
      }
    };
    await until(() => {
      maxFds = Math.max(maxFds, fdCount());
      return sunk(out).length >= files * 3;
    }, `${files * 3} lines`, 60_000);
    // More lines to every file after the first pass: handles are reused under the cap.
    for (let f = 0; f < files; f += 3) writeLines(join(logs, `f${f}.log`), `f${f}`, 3, 2);
    await until(() => {
      maxFds = Math.max(maxFds, fdCount());
      return sunk(out).length >= files * 3 + (files / 3) * 2;
    }, 'the second pass', 60_000);
    expect(agent.stderr()).not.toContain('EMFILE');
    expect(maxFds).toBeLessThan(256);
    // Lines flow while the start is still going (the initial scan of 600 files under the cap); a
    // SIGTERM before "started" ends a role the default way (its handlers are installed once the
    // start succeeded, so that a failed start can exit).
    await agent.logged('started', 60_000);
    expect(await agent.stop()).toBe(0);
    const lines = sunk(out);
    expect(new Set(lines).size).toBe(files * 3 + (files / 3) * 2);
  });
});
