/**
 * The ingest stage's self-telemetry on one broker: committed transactions by outcome, lines the
 * agent sent again counted as deduplicated, and the consumer lag per input partition falling to 0
 * once everything is committed.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { afterAll, describe, expect, it } from 'vitest';
import { KafkaSink, KafkaSinkSchema } from '../../agent/sinks/kafka.js';
import type { KafkaSinkConfig } from '../../agent/sinks/kafka.js';
import { KafkaSource, KafkaSourceSchema } from '../../collector/sources/kafka.js';
import type { KafkaSourceConfig } from '../../collector/sources/kafka.js';
import type { TelemetrySample } from '../../core/telemetry.js';
import { FakeSourceContext } from '../support/fake-source-context.js';
import { kafkaBrokers, uniqueTopic, waitFor } from '../kafka/harness.js';
import { lines } from './kafka-support.js';

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

const total = (samples: TelemetrySample[], name: string, pred: (s: TelemetrySample) => boolean = () => true): number =>
  samples.filter((s) => s.name === name && pred(s)).reduce((n, s) => n + s.value, 0);

describe('collector ingest self-telemetry (one broker)', () => {
  it('counts commits, deduplicated lines and a per-partition consumer lag that reaches 0', async () => {
    const prefix = `${uniqueTopic('tw-self')}.`;
    const common = { brokers: kafkaBrokers(), topic_prefix: prefix, topics: { create: true, partitions: 2, replication_factor: 1, min_insync_replicas: 1, retention_ms: 3_600_000 } };
    const ctx = new FakeSourceContext({ name: 'kafka_in', dataDir: mkdtempSync(join(tmpdir(), 'tw-self-')) });
    const src = new KafkaSource(Value.Default(KafkaSourceSchema, { ...common, group_id: `g-${prefix}`, stage: 'ingest', emit_events: false }) as KafkaSourceConfig, ctx);
    cleanups.push(() => src.stop());
    await src.start();
    const sink = new KafkaSink(Value.Default(KafkaSinkSchema, { ...common }) as KafkaSinkConfig, new FakeSourceContext({ name: 'k', dataDir: mkdtempSync(join(tmpdir(), 'tw-self-')) }));
    cleanups.push(() => sink.stop());
    await sink.start();

    await sink.write(lines('agent-1', 's1', 0, 0, 100));
    await sink.write(lines('agent-1', 's2', 0, 0, 100));
    // The agent sends 40 lines of s1 again (as after a crash before its checkpoint).
    await sink.write(lines('agent-1', 's1', 0, 300, 40));

    const labels = { component: 'kafka_in' };
    await waitFor(() => (ctx.telemetry.value('tidewatch_ingest_lines_total', labels) === 200 ? true : undefined), 'all 200 distinct lines counted', 30_000);
    expect(ctx.telemetry.value('tidewatch_ingest_deduplicated_lines_total', labels)).toBe(40);

    // Everything committed: every partition that got data reports lag 0 (at most 1 s later).
    await waitFor(() => {
      const lags = ctx.telemetry.snapshot().filter((s) => s.name === 'tidewatch_kafka_consumer_lag');
      return lags.length > 0 && lags.every((s) => s.value === 0) ? lags : undefined;
    }, 'consumer lag 0 on every partition', 15_000);
    const snap = ctx.telemetry.snapshot();
    for (const s of snap.filter((x) => x.name === 'tidewatch_kafka_consumer_lag')) {
      expect(s.kind).toBe('gauge');
      expect(s.labels).toMatchObject({ component: 'kafka_in', topic: `${prefix}logs` });
      expect(['0', '1']).toContain(s.labels['partition']);
    }
    expect(total(snap, 'tidewatch_ingest_transactions_total', (s) => s.labels['outcome'] === 'commit')).toBeGreaterThan(0);
    expect(total(snap, 'tidewatch_ingest_transactions_total', (s) => s.labels['outcome'] === 'abort')).toBe(0);
    expect(total(snap, 'tidewatch_ingest_transactions_total', (s) => s.labels['outcome'] === undefined)).toBe(0);
  });
});
