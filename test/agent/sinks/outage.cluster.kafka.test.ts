/**
 * Done-when test of issue 7: all three brokers stopped for 60 s while the agent (the real CLI,
 * file source → kafka sink with the disk buffer) keeps tailing growing files, and the agent
 * restarted once during the outage. After the brokers return, every line is in the logs topic,
 * and per file the lines arrive in order (first occurrences; a resend after a restart may repeat
 * a stretch, which the collector drops by offset). A collector ingest stage runs throughout: its
 * committed rollups count every line exactly once after the outage.
 */
import { appendFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { Value } from '@sinclair/typebox/value';
import { decodeLogBatch } from '../../../core/wire.js';
import { KafkaSource, KafkaSourceSchema } from '../../../collector/sources/kafka.js';
import type { KafkaSourceConfig } from '../../../collector/sources/kafka.js';
import { FakeSourceContext } from '../../support/fake-source-context.js';
import { watchRollups } from '../../collector/kafka-support.js';
import { startAgent } from '../agent-process.js';
import type { AgentProcess } from '../agent-process.js';
import { scale } from '../../support/scale.js';
import { clusterBrokers, clusterControl, kafkaClient, uniqueTopic, waitFor, waitForTopics } from '../../kafka/harness.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

const OUTAGE_MS = 60_000;

describe('agent kafka sink: all brokers down for 60 s', () => {
  it('delivers everything after the brokers return, in order per file, through an agent restart', async () => {
    const prefix = `${uniqueTopic('two')}.`;
    const brokers = clusterBrokers();
    const dir = mkdtempSync(join(tmpdir(), 'tw-outage-'));
    const logDir = join(dir, 'logs');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(logDir);
    const files = ['a.log', 'b.log', 'c.log'].map((f) => join(logDir, f));
    const config = [
      `data_dir: ${join(dir, 'data')}`,
      'sources:',
      `  app: { type: file, include: ["${logDir}/*.log"], start_at: beginning, rescan_interval_ms: 500 }`,
      'sinks:',
      `  k: { type: kafka, brokers: ${JSON.stringify(brokers)}, topic_prefix: "${prefix}", retry_backoff_max_ms: 1000, request_timeout_ms: 5000, buffer: { type: disk } }`,
      'pipelines:',
      '  logs: { sources: [app], sinks: [k] }',
      '',
    ].join('\n');

    let agent: AgentProcess = await startAgent(config, dir);
    cleanups.push(() => agent.stop());
    await agent.logLine('started', 30_000);

    // Writers: a line per file every few ms, numbered per file.
    const counts = files.map(() => 0);
    const perTick = scale(5, 50);
    let writing = true;
    const writerLoop = (async () => {
      while (writing) {
        files.forEach((f, i) => {
          let chunk = '';
          for (let k = 0; k < perTick; k++) chunk += `${i} seq=${counts[i]!++} ${'p'.repeat(40)}\n`;
          appendFileSync(f, chunk);
        });
        await new Promise((r) => setTimeout(r, 50));
      }
    })();

    // Consumer of the logs topic: per file, the seq numbers in arrival order.
    const seen = new Map<string, number[]>();
    const kafka = kafkaClient({ brokers });
    await waitForTopics(kafka, [`${prefix}logs`], 'logs topic created', 30_000);
    const consumer = kafka.consumer({ groupId: `check-${randomUUID()}`, sessionTimeout: 30_000, heartbeatInterval: 3000, retry: { retries: 100 } });
    await consumer.connect();
    await consumer.subscribe({ topics: [`${prefix}logs`], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        for (const r of decodeLogBatch(message.value!)) {
          const path = String(r.attributes['log.file.path']);
          const seq = Number(/seq=(\d+)/.exec(String(r.body))?.[1]);
          const l = seen.get(path) ?? [];
          l.push(seq);
          seen.set(path, l);
        }
      },
    });
    cleanups.push(() => consumer.disconnect());
    await waitFor(() => ((seen.get(files[0]!)?.length ?? 0) > 50 ? true : undefined), 'lines arriving before the outage', 30_000);

    // The collector's ingest stage, in this process, through the outage.
    const ingest = new KafkaSource(
      Value.Default(KafkaSourceSchema, { brokers, topic_prefix: prefix, group_id: `g-${prefix}`, stage: 'ingest', emit_events: false, session_timeout_ms: 10_000 }) as KafkaSourceConfig,
      new FakeSourceContext({ name: 'ingest', dataDir: dir }),
    );
    cleanups.push(() => ingest.stop());
    await ingest.start();
    const watcher = await watchRollups(kafka, `${prefix}rollups`);
    cleanups.push(() => watcher.stop());

    // All brokers stop.
    const control = clusterControl();
    await Promise.all([1, 2, 3].map((id) => control.kill(id, 'SIGKILL')));
    // If the test fails mid-outage, bring the cluster back for the next files (only brokers still down).
    cleanups.push(async () => Promise.all((await control.brokers()).filter((b) => !b.running).map((b) => control.restart(b.id))));
    const downAt = Date.now();

    // The agent restarts once during the outage (its disk buffer carries what it had read).
    await new Promise((r) => setTimeout(r, OUTAGE_MS / 3));
    const code = await agent.stop();
    expect(code, `agent stop during the outage; stderr:\n${agent.stderr().slice(-3000)}`).toBe(0);
    agent = await startAgent(config, dir);
    await agent.logLine('started', 30_000);
    await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_MS - (Date.now() - downAt))));

    await Promise.all([1, 2, 3].map((id) => control.restart(id)));
    // A little more after the return, then the writers stop.
    await new Promise((r) => setTimeout(r, 2000));
    writing = false;
    await writerLoop;

    await waitFor(
      () => (files.every((f, i) => new Set(seen.get(f) ?? []).size === counts[i]) ? true : undefined),
      `every line delivered (${files.map((f, i) => `${new Set(seen.get(f) ?? []).size}/${counts[i]}`).join(', ')})`,
      120_000,
      500,
    );
    for (const [i, f] of files.entries()) {
      const firsts: number[] = [];
      const s = new Set<number>();
      for (const q of seen.get(f)!) if (!s.has(q)) (s.add(q), firsts.push(q));
      expect(firsts).toEqual(Array.from({ length: counts[i]! }, (_, k) => k));
    }
    const written = counts.reduce((a, b) => a + b, 0);
    await waitFor(() => (watcher.total() === written ? true : undefined), `rollup total ${written} (now ${watcher.total()})`, 90_000, 500);
    expect(await agent.stop()).toBe(0);
  });
});
