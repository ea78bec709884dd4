import { describe, expect, it } from 'vitest';
import { CountRollup, Rollup, rollupFactory, severityLabel } from '../../../collector/transforms/rollup.js';
import type { ComponentContext } from '../../../core/component.js';
import { silentLogger } from '../../../core/log.js';
import type { LogRecord, SumPoint } from '../../../core/model.js';
import { MemoryTelemetry } from '../../../core/telemetry.js';

function log(observed_time: number, severity_number: number, service?: string): LogRecord {
  return {
    kind: 'log',
    observed_time,
    severity_number,
    severity_text: '',
    body: 'x',
    attributes: {},
    resource: service === undefined ? {} : { 'service.name': service },
  };
}

const view = (ps: SumPoint[]) => ps.map((p) => [p.start_time, p.time, p.attributes['severity'], p.attributes['service.name'] ?? null, p.value]);

describe('CountRollup', () => {
  it('counts per second by severity, publishes early values, then the final one', () => {
    const r = new CountRollup(1000);
    r.add([log(10_100, 9), log(10_200, 9), log(10_300, 17)]);
    expect(view(r.flush(10_400, false))).toEqual([
      [10_000, 11_000, 'info', null, 2],
      [10_000, 11_000, 'error', null, 1],
    ]);
    // Nothing new: no early value again.
    expect(r.flush(10_600, false)).toEqual([]);
    r.add([log(10_900, 9)]);
    expect(view(r.flush(11_100, false))).toEqual([[10_000, 11_000, 'info', null, 3]]);
    // Past the end plus lateness: the final values, once.
    expect(view(r.flush(12_000, false))).toEqual([
      [10_000, 11_000, 'info', null, 3],
      [10_000, 11_000, 'error', null, 1],
    ]);
    expect(r.flush(13_000, false)).toEqual([]);
    expect(r.openWindows).toBe(0);
  });

  it('emits the points as OpenTelemetry delta sums named log.records', () => {
    const r = new CountRollup(0);
    r.add([log(5_500, 13)]);
    const [p] = r.flush(7_000, false);
    expect(p).toEqual({
      kind: 'metric',
      type: 'sum',
      name: 'log.records',
      unit: '{record}',
      temporality: 'delta',
      monotonic: true,
      start_time: 5_000,
      time: 6_000,
      value: 1,
      attributes: { severity: 'warn' },
      resource: {},
    });
  });

  it('splits by service.name from the resource or the attributes', () => {
    const r = new CountRollup(0);
    const fromAttr: LogRecord = { ...log(1_000, 9), attributes: { 'service.name': 'b' } };
    r.add([log(1_000, 9, 'a'), log(1_001, 9, 'a'), fromAttr, log(1_002, 9)]);
    expect(view(r.flush(5_000, false)).sort()).toEqual(
      [
        [1_000, 2_000, 'info', 'a', 2],
        [1_000, 2_000, 'info', 'b', 1],
        [1_000, 2_000, 'info', null, 1],
      ].sort(),
    );
  });

  it('counts records for closed seconds as late instead of adding them', () => {
    const r = new CountRollup(1000);
    r.add([log(1_500, 9)]);
    r.flush(3_000, false); // closes [1000, 2000)
    const passed = r.add([log(1_999, 9), log(2_100, 9)]);
    expect(passed).toEqual([]);
    expect(r.counters.late).toBe(1);
    expect(view(r.flush(3_100, false))).toEqual([[2_000, 3_000, 'info', null, 1]]);
  });

  it('counts a straggler for a second that closed empty as late', () => {
    const r = new CountRollup(1000);
    r.flush(10_000, false);
    r.add([log(5_000, 9)]);
    expect(r.counters.late).toBe(1);
    expect(r.openWindows).toBe(0);
  });

  it('closes every window on the final flush', () => {
    const r = new CountRollup(60_000);
    r.add([log(1_000, 9), log(2_000, 17)]);
    r.flush(2_100, false);
    expect(view(r.flush(2_200, true))).toEqual([
      [1_000, 2_000, 'info', null, 1],
      [2_000, 3_000, 'error', null, 1],
    ]);
    expect(r.openWindows).toBe(0);
  });

  it('is bounded: windows beyond max_windows are dropped and counted', () => {
    const r = new CountRollup(1000, 2);
    r.add([log(1_000, 9), log(2_000, 9), log(3_000, 9), log(3_100, 9)]);
    expect(r.openWindows).toBe(2);
    expect(r.counters.overflow).toBe(2);
    expect(r.counters.absorbed).toBe(2);
  });

  it('passes metric events through and absorbs logs', () => {
    const r = new CountRollup();
    const g = { kind: 'metric' as const, type: 'gauge' as const, name: 'g', time: 1, value: 1, attributes: {}, resource: {} };
    expect(r.add([log(1, 9), g])).toEqual([g]);
  });

  it('counts every record exactly once across early and final values (model check)', () => {
    // A simple model: the final values of all windows sum to the records added in time.
    const r = new CountRollup(500);
    let now = 0;
    let added = 0;
    let finals = 0;
    const last = new Map<string, number>();
    for (let step = 0; step < 400; step++) {
      now += 37 + (step % 5) * 11;
      const batch: LogRecord[] = [];
      for (let i = 0; i < step % 7; i++) batch.push(log(now - (i % 3) * 10, [5, 9, 13, 17][i % 4] ?? 9));
      r.add(batch);
      added += batch.length;
      for (const p of r.flush(now, false)) last.set(`${p.start_time}|${String(p.attributes['severity'])}`, p.value);
    }
    for (const p of r.flush(now, true)) last.set(`${p.start_time}|${String(p.attributes['severity'])}`, p.value);
    for (const v of last.values()) finals += v;
    expect(finals + r.counters.late).toBe(added);
    expect(r.counters.late).toBe(0);
  });
});

describe('rollup transform', () => {
  it('reports late records and open windows in telemetry', () => {
    const telemetry = new MemoryTelemetry();
    const ctx: ComponentContext = { name: 'r', dataDir: '/x', telemetry, log: silentLogger, now: () => 0, agentId: 'a', hostName: 'h', bus: undefined };
    const t = new Rollup({ lateness_ms: 0 }, ctx);
    t.process([log(1_000, 9)], 0);
    expect(t.flush(1_500, false)).toHaveLength(1);
    expect(telemetry.value('tidewatch_rollup_open_windows', { component: 'r' })).toBe(1);
    t.flush(2_000, false);
    t.process([log(1_000, 9)], 0);
    t.flush(2_100, false);
    expect(telemetry.value('tidewatch_rollup_late_total', { component: 'r' })).toBe(1);
    expect(rollupFactory.type).toBe('rollup');
  });

  it('labels severity numbers by their OpenTelemetry range', () => {
    expect([0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24].map(severityLabel)).toEqual([
      'unspecified', 'trace', 'trace', 'debug', 'debug', 'info', 'info', 'warn', 'warn', 'error', 'error', 'fatal', 'fatal',
    ]);
  });
});
