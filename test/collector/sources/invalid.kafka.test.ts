/**
 * Messages the ingest stage cannot decode, on a real broker (README, "What can be dropped"):
 * something else writes to the logs topic (no wire headers, bytes that are no batch), a batch
 * whose JSON is cut, and a wire version this collector does not read. Each is counted once as
 * `tidewatch_events_dropped_total{reason="invalid"}` and skipped; the lines around them are
 * counted exactly once, and the committed position is past them, so a restarted collector
 * neither stalls on them nor counts them again.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { afterAll, describe, expect, it } from 'vitest';
import { KafkaSink, KafkaSinkSchema } from '../../../agent/sinks/kafka.js';
import type { KafkaSinkConfig } from '../../../agent/sinks/kafka.js';
import { KafkaSource, KafkaSourceSchema } from '../../../collector/sources/kafka.js';
import type { KafkaSourceConfig } from '../../../collector/sources/kafka.js';
import { FakeSourceContext } from '../../support/fake-source-context.js';
import { kafkaBrokers, kafkaClient, uniqueTopic, waitFor } from '../../kafka/harness.js';
import { lines, watchRollups } from '../kafka-support.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

const invalidOf = (ctx: FakeSourceContext): number =>
  ctx.telemetry
    .snapshot()
    .filter((s) => s.name === 'tidewatch_events_dropped_total' && s.labels['reason'] === 'invalid')
    .reduce((n, s) => n + s.value, 0);

describe('kafka source: messages that are not tidewatch batches', () => {
  it('counts each as invalid and drops it; the lines around them count exactly once, and a restart does not meet them again', async () => {
    const prefix = `${uniqueTopic('twi')}.`;
    const common = { brokers: kafkaBrokers(), topic_prefix: prefix, topics: { create: true, partitions: 1, replication_factor: 1, min_insync_replicas: 1, retention_ms: 3_600_000 } };
    const srcCfg = Value.Default(KafkaSourceSchema, { ...common, group_id: `g-${prefix}`, stage: 'ingest', session_timeout_ms: 6000, emit_events: false }) as KafkaSourceConfig;
    const ctx = new FakeSourceContext({ name: 'k', dataDir: mkdtempSync(join(tmpdir(), 'tw-invalid-')) });
    const src = new KafkaSource(srcCfg, ctx);
    cleanups.push(() => src.stop());
    await src.start();

    const sink = new KafkaSink(Value.Default(KafkaSinkSchema, common) as KafkaSinkConfig, new FakeSourceContext({ name: 'sink', dataDir: mkdtempSync(join(tmpdir(), 'tw-invalid-')) }));
    cleanups.push(() => sink.stop());
    await sink.start();
    const watcher = await watchRollups(kafkaClient(), `${prefix}rollups`);
    cleanups.push(() => watcher.stop());

    await sink.write(lines('agent-1', 's1', 0, 0, 50));
    const producer = kafkaClient().producer();
    await producer.connect();
    cleanups.push(() => producer.disconnect());
    await producer.send({
      topic: `${prefix}logs`,
      messages: [
        { value: Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00]) }, // no wire headers: someone else's bytes
        { value: '{"agent_id":"agent-1","host":"h","lines":[{"off', headers: { 'tw-wire': '1', 'tw-type': 'logs' } }, // cut
        { value: '{}', headers: { 'tw-wire': '99', 'tw-type': 'logs' } }, // a newer wire version
      ],
    });
    await sink.write(lines('agent-1', 's1', 0, 500, 50));

    await waitFor(() => (watcher.total() === 100 ? true : undefined), `rollup total 100 (now ${watcher.total()})`, 60_000);
    await waitFor(() => (invalidOf(ctx) === 3 ? true : undefined), `3 invalid (now ${invalidOf(ctx)})`, 30_000);
    await src.stop();

    // A new instance of the same group starts after the committed position: nothing invalid is
    // met again and nothing is counted twice.
    const ctx2 = new FakeSourceContext({ name: 'k', dataDir: mkdtempSync(join(tmpdir(), 'tw-invalid-')) });
    const src2 = new KafkaSource(srcCfg, ctx2);
    cleanups.push(() => src2.stop());
    await src2.start();
    await sink.write(lines('agent-1', 's1', 0, 1000, 10));
    await waitFor(() => (watcher.total() === 110 ? true : undefined), `rollup total 110 (now ${watcher.total()})`, 60_000);
    await new Promise((r) => setTimeout(r, 1000));
    expect(watcher.total()).toBe(110);
    expect(invalidOf(ctx2)).toBe(0);
  });
});
