/**
 * The rules stage's reader (DESIGN.md): consumer group `<group_id>.rules` over the rollups
 * topic with read_committed (only partials whose ingest transaction committed), merging partials
 * into one value per (series, window) (merge.ts) and handing each updated window on.
 *
 * A new owner of a rollups partition (start, rebalance, takeover) first rebuilds: it reads the
 * partition from `rebuild_ms` ago (by timestamp) up to the group's committed offset, merging
 * without handing anything on, so it judges with the same window state the previous owner had.
 * Merging is idempotent, so reading a stretch twice changes nothing.
 */
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { Event, MetricPoint } from '../../core/model.js';
import type { Logger } from '../../core/log.js';
import type { Telemetry } from '../../core/telemetry.js';
import { errorCodeOf } from '../../core/errors.js';
import { decodeRollup, wireTypeOf } from '../../core/wire.js';
import { readCommittedConsumer } from '../txn/consumer.js';
import { PartialMerger } from './merge.js';
import type { MergedWindow } from './merge.js';

export interface RulesReaderOptions {
  kafka: Kafka;
  groupId: string;
  rollupsTopic: string;
  rebuildMs: number;
  maxWindows: number;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  emit: ((events: Event[]) => Promise<void>) | undefined;
  /** Called for each merged window update handed on (tests, bench). */
  onMerged?: (w: MergedWindow, appendTime: number) => void;
  component: string;
  telemetry: Telemetry;
  log: Logger;
  now: () => number;
}

interface PartitionState {
  /** Messages below this offset are history: merged, not handed on. */
  liveFrom: bigint;
}

export class RulesReader {
  private consumer: Consumer | undefined;
  private readonly merger: PartialMerger;
  private readonly partitions = new Map<number, PartitionState>();
  private readonly group: string;
  private pruneTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: RulesReaderOptions) {
    this.group = `${opts.groupId}.rules`;
    this.merger = new PartialMerger(opts.maxWindows);
  }

  get merged(): PartialMerger {
    return this.merger;
  }

  async start(): Promise<void> {
    const o = this.opts;
    const c = readCommittedConsumer(o.kafka, { groupId: this.group, sessionTimeoutMs: o.sessionTimeoutMs, heartbeatIntervalMs: o.heartbeatIntervalMs });
    this.consumer = c;
    c.on(c.events.GROUP_JOIN, (e) => {
      const mine = new Set(e.payload.memberAssignment[o.rollupsTopic] ?? []);
      for (const p of this.partitions.keys()) if (!mine.has(p)) this.partitions.delete(p);
    });
    await c.connect();
    await c.subscribe({ topics: [o.rollupsTopic], fromBeginning: true });
    await c.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: (p) => this.eachBatch(p) });
    this.pruneTimer = setInterval(() => this.merger.prune(o.now() - 2 * o.rebuildMs), Math.max(1000, o.rebuildMs / 4));
    this.pruneTimer.unref();
  }

  private async eachBatch({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary }: EachBatchPayload): Promise<void> {
    if (batch.messages.length === 0) return;
    const o = this.opts;
    let st = this.partitions.get(batch.partition);
    if (st === undefined) {
      const { from, live } = await this.rebuildRange(batch.partition);
      st = { liveFrom: live };
      this.partitions.set(batch.partition, st);
      o.telemetry.add('tidewatch_rules_rebuilds_total', { component: o.component });
      if (BigInt(batch.messages[0]!.offset) !== from) {
        this.consumer!.seek({ topic: batch.topic, partition: batch.partition, offset: from.toString() });
        return;
      }
    }
    const updated = new Map<string, { w: MergedWindow; ts: number }>();
    for (const m of batch.messages) {
      let p;
      try {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(m.headers ?? {})) if (v !== undefined) headers[k] = String(Array.isArray(v) ? v[v.length - 1] : v);
        if (wireTypeOf(headers) !== 'rollups') continue;
        p = decodeRollup(m.value ?? Buffer.alloc(0));
      } catch (err) {
        o.telemetry.add('tidewatch_events_dropped_total', { component: o.component, reason: errorCodeOf(err) });
        continue;
      }
      const w = this.merger.add(p);
      if (BigInt(m.offset) >= st.liveFrom) updated.set(`${w.series_id}|${w.window_start}`, { w, ts: Number(m.timestamp) });
    }
    if (updated.size > 0) {
      for (const { w, ts } of updated.values()) o.onMerged?.(w, ts);
      if (o.emit !== undefined) {
        try {
          await o.emit([...updated.values()].map(({ w }) => toPoint(w)));
        } catch (err) {
          o.telemetry.add('tidewatch_errors_total', { component: o.component, code: errorCodeOf(err) });
        }
      }
    }
    const last = batch.messages[batch.messages.length - 1]!.offset;
    resolveOffset(last);
    await commitOffsetsIfNecessary({ topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: (BigInt(last) + 1n).toString() }] }] }).catch(() => undefined);
    await heartbeat().catch(() => undefined);
  }

  /** Where a new owner starts reading (rebuild_ms ago) and where handing on starts (the commit). */
  private async rebuildRange(partition: number): Promise<{ from: bigint; live: bigint }> {
    const o = this.opts;
    const admin = o.kafka.admin();
    try {
      await admin.connect();
      const committed = (await admin.fetchOffsets({ groupId: this.group, topics: [o.rollupsTopic] }))[0]?.partitions.find((p) => p.partition === partition)?.offset;
      const byTime = (await admin.fetchTopicOffsetsByTimestamp(o.rollupsTopic, o.now() - o.rebuildMs)).find((p) => p.partition === partition)?.offset;
      const ends = (await admin.fetchTopicOffsets(o.rollupsTopic)).find((p) => p.partition === partition);
      const low = BigInt(ends?.low ?? '0');
      const high = BigInt(ends?.high ?? '0');
      let from = byTime === undefined || byTime === '-1' ? high : BigInt(byTime);
      if (from < low) from = low;
      const live = committed === undefined || committed === '-1' ? from : BigInt(committed);
      return { from: live < from ? live : from, live };
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  async stop(): Promise<void> {
    if (this.pruneTimer !== undefined) clearInterval(this.pruneTimer);
    await this.consumer?.disconnect().catch(() => undefined);
    this.consumer = undefined;
  }
}

/** A merged window as a metric event: counts of log records as a delta sum, other series as a summary (count, sum, min, max). */
export function toPoint(w: MergedWindow): MetricPoint {
  const base = { kind: 'metric' as const, name: w.name, start_time: w.window_start, time: w.window_start + w.window_ms, attributes: { ...w.labels }, resource: {} };
  if (w.name === 'log.records') return { ...base, type: 'sum', temporality: 'delta', monotonic: true, value: w.count };
  return {
    ...base,
    type: 'summary',
    count: w.count,
    sum: w.sum,
    quantiles: [
      { quantile: 0, value: w.min },
      { quantile: 1, value: w.max },
    ],
  };
}
