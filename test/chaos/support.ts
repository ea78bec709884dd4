/**
 * Pieces of the chaos suite (test/chaos/): a seeded random source, real tidewatch processes that
 * can be killed with SIGKILL and started again on the same config, a Prometheus target that
 * numbers its answers, and the results file that `npm run chaos` sums into its last line.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Kafka } from 'kafkajs';
import { decodeLogBatch } from '../../core/wire.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = join(ROOT, 'bin/tidewatch.js');
/** Where each chaos test records its totals; scripts/chaos.mjs sums them into its last line. */
export const RESULTS = join(ROOT, '.cache/chaos-results.json');

/** mulberry32: small, seedable, good enough to pick fault kinds and times reproducibly. */
export function rng(seed: number): { next(): number; int(lo: number, hi: number): number; pick<T>(xs: readonly T[]): T } {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (xs) => xs[Math.floor(next() * xs.length)]!,
  };
}

/** The seed of this run: TW_CHAOS_SEED to replay one, else a fresh one. Printed by the caller. */
export function chaosSeed(): number {
  const env = process.env.TW_CHAOS_SEED;
  return env !== undefined && env !== '' ? Number(env) : Math.floor(Math.random() * 2 ** 31);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A loopback port free now (listen on 0, close): for a receiver that must keep its port across restarts. */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/**
 * One tidewatch role as a real process (`node bin/tidewatch.js <args>`), restartable on the same
 * config. kill9() is the fault; stop() is the orderly SIGTERM and returns the exit code.
 */
export class RoleProcess {
  child: ChildProcess | undefined;
  private err = '';
  /** Incarnations started, and when each ended by SIGKILL. */
  readonly kills: { startedAt: number; killedAt: number }[] = [];
  private startedAt = 0;
  private exited: Promise<number | null> = Promise.resolve(null);

  constructor(
    readonly name: string,
    private readonly args: string[],
    /** Every incarnation's stderr is appended here too (kept for diagnosis). */
    private readonly logFile?: string,
  ) {}

  start(): void {
    this.startedAt = Date.now();
    const child = spawn(process.execPath, [BIN, ...this.args], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    if (this.logFile !== undefined) appendFileSync(this.logFile, `--- start ${new Date().toISOString()}\n`);
    child.stderr!.on('data', (c: Buffer) => {
      if (this.logFile !== undefined) appendFileSync(this.logFile, c);
      this.err += c.toString();
      if (this.err.length > 400_000) this.err = this.err.slice(-200_000); // bounded: only the tail is ever shown
    });
    this.exited = new Promise((r) => child.once('exit', (code) => r(code)));
    child.once('exit', (code, sig) => {
      if (code !== 0 && sig !== 'SIGKILL' && sig !== 'SIGTERM') console.error(`[chaos] ${this.name} exited ${code} ${sig}\n${this.err.slice(-3000)}`);
    });
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  stderr(): string {
    return this.err;
  }

  /** Resolves once the process logged `msg` (a structured line) after `from` chars of stderr. */
  async logged(msg: string, from = 0, ms = 60_000): Promise<void> {
    const until = Date.now() + ms;
    while (!this.err.slice(from).includes(`"msg":"${msg}"`)) {
      if (!this.running) throw new Error(`${this.name} exited before logging "${msg}":\n${this.err.slice(-3000)}`);
      if (Date.now() > until) throw new Error(`${this.name}: no "${msg}" within ${ms} ms:\n${this.err.slice(-3000)}`);
      await sleep(50);
    }
  }

  async kill9(): Promise<void> {
    if (!this.running) return;
    this.child!.kill('SIGKILL');
    await this.exited;
    this.kills.push({ startedAt: this.startedAt, killedAt: Date.now() });
  }

  /** Starts it again and waits for its "started" line. */
  async restart(): Promise<void> {
    const from = this.err.length;
    this.start();
    await this.logged('started', from);
  }

  /** SIGTERM; a process still there after `graceMs` is killed and reported as exit code -1. */
  async stop(graceMs = 30_000): Promise<number | null> {
    if (!this.running) return this.child?.exitCode ?? null;
    this.child!.kill('SIGTERM');
    const late = await Promise.race([this.exited.then(() => false), sleep(graceMs).then(() => true)]);
    if (!late) return this.exited;
    console.error(`[chaos] ${this.name} still running ${graceMs} ms after SIGTERM; killed (stderr tail:\n${this.err.slice(-1500)})`);
    this.child!.kill('SIGKILL');
    await this.exited;
    return -1;
  }
}

/** A Prometheus target whose counter `chaos_scrapes_total` is the number of its answer: each sample is unique. */
export async function scrapeTarget(): Promise<{ port: number; served: { value: number; at: number }[]; freeze(): void; close(): Promise<void> }> {
  const served: { value: number; at: number }[] = [];
  let frozen = false;
  const server = http.createServer((req, res) => {
    if (frozen) {
      res.writeHead(503).end();
      return;
    }
    const value = served.length + 1;
    served.push({ value, at: Date.now() });
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(`# TYPE chaos_scrapes_total counter\nchaos_scrapes_total ${value}\n`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    served,
    freeze: () => void (frozen = true),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export interface InputTotals {
  /** Items written (file lines, OTLP records acknowledged, scrape samples served). */
  written: number;
  /** Items in the committed rollups (duplicates included). */
  counted: number;
  lost: number;
  duplicated: number;
}

export interface ChaosResult extends InputTotals {
  seed: number;
  rounds: number;
  faults: number;
  durationMs: number;
  inputs: Record<string, InputTotals & Record<string, number>>;
  faultLog: string[];
}

/** Records one chaos test's totals under its name (several tests may share the file). */
export function recordResult(test: string, result: ChaosResult): void {
  mkdirSync(join(ROOT, '.cache'), { recursive: true });
  const all = existsSync(RESULTS) ? (JSON.parse(readFileSync(RESULTS, 'utf8')) as Record<string, ChaosResult>) : {};
  all[test] = result;
  writeFileSync(RESULTS, `${JSON.stringify(all, null, 2)}\n`);
}

/** Copies per log body in a topic, read from the beginning (non-transactional writers: the agent's sink). */
export async function logBodies(kafka: Kafka, topic: string): Promise<{ bodies: Map<string, number>; stop(): Promise<void> }> {
  const bodies = new Map<string, number>();
  const consumer = kafka.consumer({ groupId: `bodies-${randomUUID()}`, sessionTimeout: 30_000, heartbeatInterval: 3000 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ message }) => {
      if (message.value === null) return;
      for (const r of decodeLogBatch(message.value)) {
        const b = String(r.body);
        bodies.set(b, (bodies.get(b) ?? 0) + 1);
      }
    },
  });
  return { bodies, stop: () => consumer.disconnect() };
}
