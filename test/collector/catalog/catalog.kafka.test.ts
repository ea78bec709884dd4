/**
 * The pattern catalog on one broker: two collector instances (each its own pipeline with
 * mine_templates and a patterns sink on Kafka) mine the same kinds of lines in different orders,
 * so their miners learn and merge clusters at different moments. The catalog stage (kafka source,
 * stage catalog) is the one writer of each pattern's record: the compacted patterns topic holds
 * one live record per pattern, with the id every instance gives it, and counts that add up to the
 * lines written. Then the catalog stage stops, more lines come, and two new catalog instances
 * (sharing the partitions) resume from the compacted topic: the counts go on from where they were.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Value } from '@sinclair/typebox/value';
import { afterAll, describe, expect, it } from 'vitest';
import { components } from '../../../collector/components.js';
import { KafkaSource, KafkaSourceSchema } from '../../../collector/sources/kafka.js';
import type { KafkaSourceConfig } from '../../../collector/sources/kafka.js';
import { templateId } from '../../../collector/miner/miner.js';
import { CATALOG_SOURCE_HEADER } from '../../../collector/catalog/reader.js';
import { parseConfig } from '../../../core/config/load.js';
import type { LogRecord } from '../../../core/model.js';
import { PipelineRunner } from '../../../core/runner.js';
import { MemoryTelemetry } from '../../../core/telemetry.js';
import { decodePattern } from '../../../core/wire.js';
import type { PatternRecord } from '../../../core/wire.js';
import { FakeSourceContext } from '../../support/fake-source-context.js';
import { Harness, line } from '../../support/memory-components.js';
import { scale } from '../../support/scale.js';
import { kafkaBrokers, kafkaClient, uniqueTopic, waitFor } from '../../kafka/harness.js';

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

const dir = (): string => mkdtempSync(join(tmpdir(), 'tw-catalog-'));

/** The kinds of lines, and the template each ends up under once its miner has seen enough. */
const KINDS: { template: string; make: (i: number) => string }[] = [
  { template: 'GET <*> <*> in <*>', make: (i) => `GET /api/items/${i * 7} 200 in ${i % 90}ms` },
  { template: 'disk <*> is <*> full', make: (i) => `disk /dev/sd${'abcdef'[i % 6]} is ${50 + (i % 50)}% full` },
  // Names without digits: the miner learns one pattern per name first, then merges them.
  { template: 'session opened for user <*>', make: (i) => `session opened for user ${['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi'][i % 8]}` },
  { template: 'cache <*> evicted <*> entries', make: (i) => `cache ${['users', 'carts', 'prices', 'stock', 'tokens'][i % 5]} evicted ${i} entries` },
];

/** One collector instance: test source → mine_templates → patterns sink on Kafka. */
async function collectorInstance(name: string, sinkOpts: Record<string, unknown>): Promise<{ write(lines: LogRecord[]): Promise<void>; stop(): Promise<void> }> {
  const h = new Harness();
  const all = [...components, ...h.components()];
  const config = await parseConfig(
    JSON.stringify({
      data_dir: dir(),
      sources: { src: { type: 'test' } },
      transforms: { mine: { type: 'mine_templates', emit_metrics: false } },
      sinks: { patterns: { type: 'patterns', ...sinkOpts } },
      pipelines: { p: { sources: ['src'], transforms: ['mine'], sinks: ['patterns'] } },
    }),
    `${name}.yaml`,
    { env: {}, components: all },
  );
  const runner = new PipelineRunner({ config, components: all, agentId: name, hostName: name, telemetry: new MemoryTelemetry() });
  await runner.start();
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await runner.stop();
  };
  cleanups.push(stop);
  return { write: (lines) => h.sourceCtx.get('src')!.emit(lines), stop };
}

/** Reads the catalog topic (read_committed): the latest record per key, and the writers of each key. */
async function watchCatalog(topic: string): Promise<{ latest: Map<string, PatternRecord>; writers: Map<string, Set<string>>; stop(): Promise<void> }> {
  const latest = new Map<string, PatternRecord>();
  const writers = new Map<string, Set<string>>();
  const consumer = kafkaClient().consumer({ groupId: `watch-${randomUUID()}`, readUncommitted: false, sessionTimeout: 10_000, heartbeatInterval: 1000 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      if (message.value === null) return;
      const r = decodePattern(message.value);
      latest.set(r.pattern_id, r);
      const src = message.headers?.[CATALOG_SOURCE_HEADER]?.toString() ?? 'none';
      let w = writers.get(r.pattern_id);
      if (w === undefined) writers.set(r.pattern_id, (w = new Set()));
      w.add(`${partition}/${src}`);
    },
  });
  return { latest, writers, stop: () => consumer.disconnect() };
}

function live(latest: Map<string, PatternRecord>): PatternRecord[] {
  return [...latest.values()].filter((r) => r.alias_of === undefined && r.count > 0);
}

describe('pattern catalog on Kafka: one writer per pattern', () => {
  it('merges two instances into one record per pattern with identical ids and exact counts, and resumes after a restart', async () => {
    const prefix = `${uniqueTopic('tw')}.`;
    const brokers = kafkaBrokers();
    const group = `g-${prefix}`;
    const catalogCfg = (): KafkaSourceConfig =>
      Value.Default(KafkaSourceSchema, {
        brokers,
        topic_prefix: prefix,
        group_id: group,
        stage: 'catalog',
        catalog_commit_interval_ms: 200,
        session_timeout_ms: 6000,
        topics: { create: true, partitions: 3, replication_factor: 1, min_insync_replicas: 1, retention_ms: 3_600_000 },
      }) as KafkaSourceConfig;
    const startCatalog = async (name: string): Promise<KafkaSource> => {
      const s = new KafkaSource(catalogCfg(), new FakeSourceContext({ name, dataDir: dir() }));
      cleanups.push(() => s.stop());
      await s.start();
      return s;
    };

    // The catalog stage creates the topics (observations with 3 partitions).
    const catalogA = await startCatalog('catalogA');
    const watcher = await watchCatalog(`${prefix}patterns`);
    cleanups.push(() => watcher.stop());

    const sinkOpts = { brokers, topic: `${prefix}patterns`, observations_topic: `${prefix}pattern-observations`, tail_topic: `${prefix}tail`, publish_interval_ms: 100 };
    const a = await collectorInstance('collector-a', sinkOpts);
    const b = await collectorInstance('collector-b', sinkOpts);

    const perKind = scale(60, 2000);
    const written = new Map<string, number>(KINDS.map((k) => [k.template, 0]));
    const t0 = Date.parse('2026-11-25T10:00:00Z');
    /** Lines of every kind; instance B sees them in reverse order, in batches of 10. */
    const round = async (from: number): Promise<void> => {
      const make = (reverse: boolean): LogRecord[] => {
        const out: LogRecord[] = [];
        for (let i = from; i < from + perKind; i++) {
          const ix = reverse ? from + perKind - 1 - (i - from) : i;
          for (const k of KINDS) out.push(line(k.make(ix), { observed_time: t0 + ix * 100 }));
        }
        return out;
      };
      const send = async (inst: typeof a, lines: LogRecord[]): Promise<void> => {
        for (let i = 0; i < lines.length; i += 10) {
          await inst.write(lines.slice(i, i + 10));
          await new Promise((r) => setTimeout(r, 5));
        }
      };
      await Promise.all([send(a, make(false)), send(b, make(true))]);
      for (const k of KINDS) written.set(k.template, written.get(k.template)! + 2 * perKind);
    };
    const total = (): number => [...written.values()].reduce((s, n) => s + n, 0);
    const liveTotal = (): number => live(watcher.latest).reduce((s, r) => s + r.count, 0);

    await round(0);
    // Each instance's sink publishes what is left on its timer.
    await waitFor(() => (liveTotal() === total() ? true : undefined), `catalog total ${total()} (now ${liveTotal()})`, 60_000);

    const check = (): void => {
      const records = live(watcher.latest).sort((x, y) => x.template.localeCompare(y.template));
      // One live record per pattern, named by its template alone (so alike in every instance).
      expect(records.map((r) => [r.template, r.count])).toEqual([...written.entries()].sort((x, y) => x[0].localeCompare(y[0])));
      for (const r of records) expect(r.pattern_id).toBe(templateId(r.template));
      // Ids the miners merged away are aliases of the live ones.
      const aliases = [...watcher.latest.values()].filter((r) => r.alias_of !== undefined);
      expect(aliases.length).toBeGreaterThan(0);
      const liveIds = new Set(records.map((r) => r.pattern_id));
      for (const x of aliases) {
        let to = x.alias_of!;
        for (let i = 0; i < 8 && !liveIds.has(to); i++) to = watcher.latest.get(to)?.alias_of ?? to;
        expect(liveIds.has(to)).toBe(true);
      }
      // One writer per key: every record of a key came from one observations partition.
      for (const [id, w] of watcher.writers) expect([id, [...w].length]).toEqual([id, 1]);
    };
    check();

    // The catalog stage stops; lines keep coming; two new catalog instances share the
    // partitions and restore each key's record from the compacted topic.
    await catalogA.stop();
    await round(perKind);
    await a.stop();
    await b.stop();
    await Promise.all([startCatalog('catalogB'), startCatalog('catalogC')]);
    await waitFor(() => (liveTotal() === total() ? true : undefined), `catalog total after restart ${total()} (now ${liveTotal()})`, 60_000);
    // Stays exact: nothing is merged twice later.
    await new Promise((r) => setTimeout(r, 1500));
    check();
  });
});
