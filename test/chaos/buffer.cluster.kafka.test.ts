/**
 * Resource faults of the kafka sink's disk buffer (issue 11), on the real agent process: the
 * agent first ships to a port where no broker listens, so the buffer fills; then it restarts on
 * the same data_dir pointed at the 3-broker cluster, and the logs topic is read back.
 * - `when_full: block`: the buffer stays within max_bytes, the file source waits (unread bytes
 *   stay), nothing is dropped; every line arrives afterwards.
 * - `when_full: drop_oldest`: the source reads on; whole old segments are dropped and counted
 *   (`tidewatch_events_dropped_total{reason="buffer_full"}`); delivered + dropped = written,
 *   exactly, and what is delivered is the newest lines.
 * - a segment with flipped bytes and one truncated mid-record: detected and reported
 *   (TW_STATE_CORRUPT, `tidewatch_buffer_corrupt_bytes_total`), the rest delivered, no crash.
 */
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterBrokers, kafkaClient, uniqueTopic, waitFor, waitForTopics } from '../kafka/harness.js';
import { freePort, logBodies, sleep } from './support.js';
import { metricValue, scrapeMetrics, spawnAgent, writeConfig } from './agent-process.js';
import type { Agent } from './agent-process.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

const LINES = 3000;
const MAX_BYTES = 65_536;
const SEGMENT = 8192;
const BATCH_LINES = 20;
/**
 * Reads far smaller than the file (~160 KB): the lines of one read are handed on whole, so with
 * the default read size (256 KiB) the whole file would be read before the buffer blocks, and
 * "the source waits" would not show as bytes left unread.
 */
const READ_BYTES = 16_384;

interface Setup {
  dir: string;
  bufferDir: string;
  config(brokers: string[]): string;
  metricsPort: number;
  prefix: string;
}

async function setup(whenFull: 'block' | 'drop_oldest', maxBytes: number): Promise<Setup> {
  const dir = mkdtempSync(join(tmpdir(), 'tw-buffer-'));
  mkdirSync(join(dir, 'logs'));
  let s = '';
  for (let i = 0; i < LINES; i++) s += `line ${String(i).padStart(5, '0')} ${'b'.repeat(40)}\n`;
  appendFileSync(join(dir, 'logs', 'a.log'), s);
  const metricsPort = await freePort();
  const prefix = `${uniqueTopic('twbuf')}.`;
  return {
    dir,
    bufferDir: join(dir, 'data', 'sink', 'k', 'buffer'),
    metricsPort,
    prefix,
    config: (brokers) =>
      writeConfig(dir, [
        `data_dir: ${join(dir, 'data')}`,
        'sources:',
        `  app: { type: file, include: ["${dir}/logs/*.log"], start_at: beginning, max_batch_lines: ${BATCH_LINES}, read_buffer_bytes: ${READ_BYTES}, checkpoint_interval_ms: 100 }`,
        `  self: { type: internal_metrics, listen: "127.0.0.1:${metricsPort}", emit: false }`,
        'sinks:',
        `  k: { type: kafka, brokers: ${JSON.stringify(brokers)}, topic_prefix: "${prefix}", compression: none, request_timeout_ms: 3000, retry_backoff_max_ms: 1000, buffer: { type: disk, max_bytes: ${maxBytes}, segment_bytes: ${SEGMENT}, when_full: ${whenFull} } }`,
        'pipelines:',
        '  logs: { sources: [app], sinks: [k] }',
        '  self: { sources: [self], sinks: [k] }', // a source runs only in a pipeline; emit: false sends nothing
      ]),
  };
}

function bufferBytes(dir: string): number {
  let n = 0;
  for (const f of readdirSync(dir)) if (f.startsWith('seg-')) n += statSync(join(dir, f)).size;
  return n;
}

function track(a: Agent): Agent {
  cleanups.push(() => a.stop());
  return a;
}

/** Phase 1: Kafka unreachable until the agent settles; returns its last /metrics. */
async function fillWithoutKafka(s: Setup, settled: (metrics: string) => boolean): Promise<string> {
  const dead = await freePort();
  const agent = track(spawnAgent(s.config([`127.0.0.1:${dead}`])));
  await agent.logged('started', 60_000);
  let m = '';
  await waitFor(async () => {
    m = await scrapeMetrics(s.metricsPort);
    return settled(m) ? true : undefined;
  }, 'the buffer to fill', 60_000, 250);
  await sleep(1000);
  m = await scrapeMetrics(s.metricsPort);
  expect(await agent.stop(), agent.stderr().slice(-2000)).toBe(0);
  return m;
}

/** Phase 2: the same data_dir shipping to the cluster; the logs topic read back. */
async function drainToCluster(s: Setup, expected: (bodies: Map<string, number>) => boolean): Promise<{ bodies: Map<string, number>; agent: Agent; metrics: string }> {
  const brokers = clusterBrokers();
  const agent = track(spawnAgent(s.config(brokers)));
  await agent.logged('started', 60_000);
  const kafka = kafkaClient({ brokers });
  await waitForTopics(kafka, [`${s.prefix}logs`], 'logs topic', 60_000);
  const reader = await logBodies(kafka, `${s.prefix}logs`);
  cleanups.push(() => reader.stop());
  await waitFor(() => (expected(reader.bodies) ? true : undefined), 'the buffer drained into Kafka', 90_000, 250).catch(() => undefined);
  await sleep(1500);
  const metrics = await scrapeMetrics(s.metricsPort);
  return { bodies: reader.bodies, agent, metrics };
}

const lineNo = (body: string): number => Number(body.split(' ')[1]);

interface Filled {
  s: Setup;
  m: string;
}
let block: Filled;
let drop: Filled;
let damaged: Filled;

describe('disk buffer at its limit, and damaged', () => {
  // The three phases without Kafka run at once: each agent spends ~20 s at start trying to
  // reach the dead broker (kafkajs's connect retries) before its sources start.
  beforeAll(async () => {
    const run = async (whenFull: 'block' | 'drop_oldest', maxBytes: number, settled: (s: Setup, m: string) => boolean): Promise<Filled> => {
      const s = await setup(whenFull, maxBytes);
      return { s, m: await fillWithoutKafka(s, (m) => settled(s, m)) };
    };
    [block, drop, damaged] = await Promise.all([
      run('block', MAX_BYTES, (s, t) => metricValue(t, 'tidewatch_file_unread_bytes') > 0 && bufferBytes(s.bufferDir) > MAX_BYTES - 2 * SEGMENT),
      run('drop_oldest', MAX_BYTES, (_s, t) => metricValue(t, 'tidewatch_events_dropped_total', { reason: 'buffer_full' }) > 0 && metricValue(t, 'tidewatch_file_unread_bytes') === 0 && metricValue(t, 'tidewatch_file_unconfirmed_bytes') === 0),
      run('block', 4 * 1024 * 1024, (_s, t) => metricValue(t, 'tidewatch_file_unread_bytes') === 0 && metricValue(t, 'tidewatch_file_unconfirmed_bytes') === 0),
    ]);
  }, 150_000);

  it('block: the buffer stays within max_bytes, the source waits, nothing dropped; every line arrives later', async () => {
    const { s, m } = block;
    expect(bufferBytes(s.bufferDir)).toBeLessThanOrEqual(MAX_BYTES + SEGMENT);
    expect(metricValue(m, 'tidewatch_file_unread_bytes'), 'the source waits at the limit').toBeGreaterThan(0);
    expect(metricValue(m, 'tidewatch_events_dropped_total', { reason: 'buffer_full' })).toBe(0);
    const { bodies, agent } = await drainToCluster(s, (b) => b.size >= LINES);
    expect(await agent.stop()).toBe(0);
    expect(bodies.size, 'every line delivered').toBe(LINES);
  });

  it('drop_oldest: the source reads on, old segments dropped and counted; delivered + dropped = written, the newest kept', async () => {
    const { s, m } = drop;
    const dropped = metricValue(m, 'tidewatch_events_dropped_total', { reason: 'buffer_full' });
    expect(bufferBytes(s.bufferDir)).toBeLessThanOrEqual(MAX_BYTES + SEGMENT);
    const { bodies, agent } = await drainToCluster(s, (b) => b.size + dropped >= LINES);
    expect(await agent.stop()).toBe(0);
    expect(bodies.size + dropped, `delivered ${bodies.size} + dropped ${dropped}`).toBe(LINES);
    const got = [...bodies.keys()].map(lineNo).sort((a, b) => a - b);
    expect(got[0]).toBe(dropped); // the oldest went, in whole segments
    expect(got[got.length - 1]).toBe(LINES - 1);
  });

  it('flipped bytes in one segment and a segment truncated mid-record: detected, reported, the rest delivered', async () => {
    const { s } = damaged;
    const segs = readdirSync(s.bufferDir).filter((f) => f.startsWith('seg-')).sort();
    const full = segs.filter((f) => statSync(join(s.bufferDir, f)).size > SEGMENT / 2);
    expect(full.length).toBeGreaterThanOrEqual(3);
    const flipped = join(s.bufferDir, full[1]!);
    const b = readFileSync(flipped);
    for (let i = 2000; i < 2008; i++) b[i] = b[i]! ^ 0xff;
    writeFileSync(flipped, b);
    const cut = join(s.bufferDir, full[full.length - 1]!);
    truncateSync(cut, statSync(cut).size - 100);

    const { bodies, agent, metrics } = await drainToCluster(s, (got) => got.size >= LINES - 3 * BATCH_LINES && got.has(`line ${String(LINES - 1 - 3 * BATCH_LINES).padStart(5, '0')} ${'b'.repeat(40)}`));
    const line = await agent.logged('disk buffer record is corrupt; skipped to the next valid record');
    expect(line['code']).toBe('TW_STATE_CORRUPT');
    expect(metricValue(metrics, 'tidewatch_buffer_corrupt_bytes_total')).toBeGreaterThan(0);
    expect(metricValue(metrics, 'tidewatch_errors_total', { code: 'TW_STATE_CORRUPT' })).toBeGreaterThan(0);
    expect(agent.child.exitCode, 'still running').toBeNull();
    expect(await agent.stop()).toBe(0);
    // Lost: only the damaged records (at most two per damage, each at most BATCH_LINES lines).
    const lost = LINES - bodies.size;
    expect(lost).toBeGreaterThan(0);
    expect(lost).toBeLessThanOrEqual(3 * BATCH_LINES);
    expect([...bodies.values()].every((n) => n === 1)).toBe(true);
  });
});
