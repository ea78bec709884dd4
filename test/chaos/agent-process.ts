/**
 * Resource-fault helpers: the real agent under a wrapper command (prlimit, a tmpfs mount
 * namespace), its /metrics read back, and a tmpfs the test can fill and empty.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, sleep } from './support.js';

export interface Agent {
  child: ChildProcess;
  stderr(): string;
  /** Resolves once a structured line with this msg appeared (after `from` chars). */
  logged(msg: string, ms?: number, from?: number): Promise<Record<string, unknown>>;
  stop(): Promise<number | null>;
  exited: Promise<number | null>;
}

/** Spawns `[...wrapper, node, bin/tidewatch.js, agent, --config, file]`. */
export function spawnAgent(configFile: string, wrapper: string[] = [], stdin: 'ignore' | 'pipe' = 'ignore'): Agent {
  const argv = [...wrapper, process.execPath, BIN, 'agent', '--config', configFile];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: [stdin, 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return {
    child,
    stderr: () => err,
    exited,
    async logged(msg, ms = 30_000, from = 0) {
      const until = Date.now() + ms;
      for (;;) {
        for (const l of err.slice(from).split('\n')) {
          if (!l.startsWith('{')) continue;
          const rec = JSON.parse(l) as Record<string, unknown>;
          if (rec['msg'] === msg) return rec;
        }
        if (child.exitCode !== null || Date.now() > until) throw new Error(`no "${msg}" log line; stderr:\n${err.slice(-4000)}`);
        await sleep(50);
      }
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Sum of a metric's samples in Prometheus text whose labels include every `labels` pair. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

export async function scrapeMetrics(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  return res.text();
}

/**
 * A small tmpfs at `dir`, made in the way this machine allows: a private mount namespace
 * (`unshare -rm`, then the agent must run inside it: see `wrap`), else a plain `mount -t tmpfs`
 * (root). Neither: a clear error, never a skip.
 */
export interface Tmpfs {
  dir: string;
  /** Prefix of the agent's command line (namespace mode) or [] (plain mount). */
  wrap: string[];
  /** Runs a shell command where the tmpfs is visible (inside the namespace through the agent's pid). */
  sh(cmd: string, agentPid?: number): void;
  release(): void;
}

export function makeTmpfs(sizeKb: number): Tmpfs {
  const dir = mkdtempSync(join(tmpdir(), 'tw-tmpfs-'));
  const probe = join(dir, 'probe');
  mkdirSync(probe);
  const ns = spawnSync('unshare', ['-rm', 'sh', '-c', `mount -t tmpfs -o size=16k tmpfs ${probe} && echo ok`], { encoding: 'utf8' });
  rmSync(probe, { recursive: true, force: true });
  if (ns.status === 0 && ns.stdout.includes('ok')) {
    // The mount exists only inside the agent's namespace: mount, then exec the agent there.
    const script = `mount -t tmpfs -o size=${sizeKb}k tmpfs ${dir} && exec "$@"`;
    return {
      dir,
      wrap: ['unshare', '-rm', 'sh', '-c', script, 'sh'],
      sh(cmd, agentPid) {
        if (agentPid === undefined) throw new Error('namespace tmpfs: commands need the agent pid');
        const r = spawnSync('nsenter', ['-t', String(agentPid), '-U', '-m', '--preserve-credentials', 'sh', '-c', cmd], { encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`nsenter ${cmd}: ${r.status} ${r.stderr}`);
      },
      release: () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const plain = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKb}k`, 'tmpfs', dir], { encoding: 'utf8' });
  if (plain.status === 0) {
    return {
      dir,
      wrap: [],
      sh(cmd) {
        const r = spawnSync('sh', ['-c', cmd], { encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`${cmd}: ${r.status} ${r.stderr}`);
      },
      release() {
        spawnSync('umount', ['-l', dir]);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  rmSync(dir, { recursive: true, force: true });
  throw new Error(
    `cannot make a ${sizeKb} KiB tmpfs for the full-disk test: 'unshare -rm' failed (${(ns.stderr || String(ns.error)).trim()}) and 'mount -t tmpfs' failed (${(plain.stderr || String(plain.error)).trim()}). ` +
      'Run the tests as root, or enable unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1).',
  );
}

export function writeConfig(dir: string, lines: string[]): string {
  const file = join(dir, 'agent.yaml');
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}
