import { describe, expect, it } from 'vitest';
import { CountRollup } from '../../collector/transforms/rollup.js';
import { encodeEvents } from '../../core/codec.js';
import type { LogRecord } from '../../core/model.js';
import { MemoryTelemetry } from '../../core/telemetry.js';
import { createBus } from '../../core/transports/bus.js';
import { feedStore } from '../../dashboard/feed.js';
import { encodeRollup, type RollupPartial } from '../../core/wire.js';
import { SeriesStore } from '../../dashboard/store.js';

const log = (t: number, sev: number): LogRecord => ({ kind: 'log', observed_time: t, severity_number: sev, severity_text: '', body: 'x', attributes: {}, resource: {} });

describe('dashboard feed', () => {
  it('takes rollup points off a bus topic through the wire codec into the store', async () => {
    const bus = createBus();
    await bus.start();
    const store = new SeriesStore();
    const telemetry = new MemoryTelemetry();
    const sub = await feedStore({ transport: bus, store, topic: 'tidewatch.rollups', telemetry });
    const rollup = new CountRollup(0);
    rollup.add([log(1_000, 9), log(1_100, 9), log(1_200, 17), log(2_000, 9)]);
    await bus.publish('tidewatch.rollups', encodeEvents(rollup.flush(1_500, false))); // early values
    await bus.publish('tidewatch.rollups', encodeEvents(rollup.flush(5_000, false))); // finals
    const q = store.query('log.records', 0, 10_000);
    expect(q.map((s) => [s.series.labels, s.series.type, s.series.temporality, s.points])).toEqual([
      [{ severity: 'info' }, 'sum', 'delta', [[2_000, 2], [3_000, 1]]],
      [{ severity: 'error' }, 'sum', 'delta', [[2_000, 1]]],
    ]);
    expect(store.totals().map((t) => t.total)).toEqual([3, 1]);
    await sub.close();
    await bus.stop();
  });

  it('merges rollup partials of many collector instances (Kafka mode): early values replaced, instances added', async () => {
    const bus = createBus();
    await bus.start();
    const store = new SeriesStore();
    const sub = await feedStore({ transport: bus, store, topic: 'tidewatch.rollups' });
    const part = (instance: string, n: number, final: boolean): RollupPartial => ({
      series_id: 'log.records{severity="info"}', name: 'log.records', labels: { severity: 'info' }, window_start: 1_000, window_ms: 1000,
      count: n, sum: n, min: n, max: n, last: n, final, source_instance: instance,
    });
    await bus.publish('tidewatch.rollups', [encodeRollup(part('a', 3, false))]);
    await bus.publish('tidewatch.rollups', [encodeRollup(part('b', 4, false))]);
    await bus.publish('tidewatch.rollups', [encodeRollup(part('a', 5, true))]); // a's final replaces its early 3
    await bus.publish('tidewatch.rollups', [encodeRollup(part('b', 4, true))]);
    expect(store.query('log.records', 0, 10_000).map((s) => [s.series.labels, s.points])).toEqual([[{ severity: 'info' }, [[2_000, 9]]]]);
    await sub.close();
    await bus.stop();
  });

  it('counts and skips messages that are not tidewatch wire format, without blocking the topic', async () => {
    const bus = createBus();
    await bus.start();
    const store = new SeriesStore();
    const telemetry = new MemoryTelemetry();
    const sub = await feedStore({ transport: bus, store, topic: 't', telemetry });
    await bus.publish('t', [{ value: Buffer.from('not wire format') }]);
    await bus.publish('t', encodeEvents([log(1_000, 9)]));
    await bus.publish('t', encodeEvents([{ kind: 'metric', type: 'gauge', name: 'g', time: 1_000, value: 4, attributes: {}, resource: {} }]));
    expect(store.list().map((s) => [s.name, s.total])).toEqual([['g', 4]]);
    const dropped = telemetry.snapshot().filter((s) => s.name === 'tidewatch_dashboard_dropped_total');
    const reasons = dropped.map((s) => s.labels['reason'] ?? '');
    expect(reasons).toHaveLength(2);
    expect(reasons).toContain('not_metric');
    expect(reasons.some((r) => /^TW_WIRE_/.test(r))).toBe(true);
    await sub.close();
    await bus.stop();
  });
});
