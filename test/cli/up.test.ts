/**
 * `tidewatch up`, the real CLI in a child process (build first: npx tsc -p tsconfig.build.json).
 */
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultDataDir } from '../../cli/commands/up.js';
import { main } from '../../cli/main.js';
import type { CommandIO } from '../../cli/io.js';
import { logRecordTotals, spawnUp, total, type UpProcess } from '../support/spawn-up.js';

const procs: UpProcess[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const p of procs.splice(0)) p.kill();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'tw-up-'));
  dirs.push(d);
  return d;
}

function start(args: string[]): UpProcess {
  const p = spawnUp(args);
  procs.push(p);
  return p;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, get: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < until) {
    last = await get();
    if (ok(last)) return last;
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
}

function lines(from: number, n: number): string {
  let s = '';
  for (let i = from; i < from + n; i++) {
    const level = i % 10 === 0 ? 'ERROR' : i % 5 === 0 ? 'WARN' : 'INFO';
    s += `2026-11-25T10:00:00.000Z ${level} [test] line ${i}\n`;
  }
  return s;
}

function fakeIO(env: Record<string, string | undefined> = {}): CommandIO & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    env,
    stdout: (t: string) => void (io.out += t),
    stderr: (t: string) => void (io.err += t),
    waitForStop: () => new Promise<NodeJS.Signals>(() => {}),
  };
  return io;
}

describe('tidewatch up', () => {
  it('prints the dashboard URL within 15 s, serves the page and live demo rollups, and exits 0 on SIGTERM', async () => {
    const data = await tempDir();
    const t0 = Date.now();
    const up = start(['--port', '0', '--data-dir', data]);
    const url = await up.url;
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('id="chart"');
    // The demo logs flow: file source → bus → sniff → rollup → bus → dashboard, with several severities.
    const totals = await waitFor('demo rollups', () => logRecordTotals(url), (t) => total(t) > 50 && (t['warn'] ?? 0) > 0 && (t['info'] ?? 0) > 0);
    expect(Object.keys(totals).every((s) => ['info', 'warn', 'error', 'debug', 'fatal'].includes(s))).toBe(true);
    // The agent's heartbeat reaches the Agents page: this host, seen within the last seconds.
    const agents = await waitFor(
      'the agent heartbeat',
      async () => ((await (await fetch(new URL('api/v1/agents', url))).json()) as { agents: { host: string }[] }).agents,
      (a) => a.length > 0,
    );
    expect(agents.map((a) => a.host)).toEqual([hostname()]);
    expect(await up.stop()).toBe(0);
    expect(up.stderr()).not.toMatch(/"level":"error"/);
  });

  it('resumes files where it left off: a restart counts exactly the lines appended in between', async () => {
    const dir = await tempDir();
    const log = join(dir, 'app.log');
    const config = join(dir, 'up.yaml');
    const data = join(dir, 'data');
    // Only sources, as configs/up.yaml: data_dir comes from --data-dir.
    await writeFile(config, `sources:\n  app:\n    type: file\n    include: ["${log}"]\n    start_at: beginning\n`);
    await writeFile(log, lines(0, 500));

    const first = start(['--config', config, '--port', '0', '--data-dir', data]);
    const url1 = await first.url;
    await waitFor('first run to count 500 lines', () => logRecordTotals(url1), (t) => total(t) >= 500);
    await sleep(1500);
    expect(await logRecordTotals(url1)).toEqual({ info: 400, warn: 50, error: 50 });
    expect(await first.stop()).toBe(0);

    await appendFile(log, lines(500, 120));
    const second = start(['--config', config, '--port', '0', '--data-dir', data]);
    const url2 = await second.url;
    await waitFor('second run to count the 120 new lines', () => logRecordTotals(url2), (t) => total(t) >= 120);
    // Give a re-read of old lines every chance to show up before judging.
    await sleep(2500);
    expect(await logRecordTotals(url2)).toEqual({ info: 96, warn: 12, error: 12 });
    expect(await second.stop()).toBe(0);
  });

  it('refuses a port in use with TW_LISTEN and exits 1 instead of hanging (regression: a failed start held the loop open)', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const up = start(['--port', String(port), '--data-dir', await tempDir()]);
      const code = await Promise.race([up.exit, sleep(15_000).then(() => 'hung')]);
      expect(code).toBe(1);
      expect(up.stderr()).toContain('[TW_LISTEN]');
      expect(up.stderr()).toContain(String(port));
    } finally {
      blocker.close();
    }
  });

  it.each([
    [['--port', 'http'], 'TW_USAGE', 2],
    [['--port', '70000'], 'TW_USAGE', 2],
    [['--colour'], 'TW_USAGE', 2],
    [['--config', '/nonexistent/up.yaml'], 'TW_CONFIG_READ', 1],
  ])('up %j fails with %s', async (args, code, exit) => {
    const io = fakeIO();
    expect(await main(['up', ...args], io)).toBe(exit);
    expect(io.err).toContain(`[${code}]`);
  });

  it('names the default data directory in --help', async () => {
    const io = fakeIO({ HOME: '/home/u' });
    expect(await main(['up', '--help'], io)).toBe(0);
    expect(io.out).toContain('~/.local/state/tidewatch');
    expect(io.out).toContain('XDG_STATE_HOME');
    expect(io.out).toContain('9470');
    expect(defaultDataDir({ HOME: '/home/u' })).toBe('/home/u/.local/state/tidewatch');
    expect(defaultDataDir({ HOME: '/home/u', XDG_STATE_HOME: '/var/state' })).toBe('/var/state/tidewatch');
    expect(defaultDataDir({ HOME: '/home/u', XDG_STATE_HOME: 'relative' })).toBe('/home/u/.local/state/tidewatch');
  });
});
