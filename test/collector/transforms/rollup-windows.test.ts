import { describe, expect, it } from 'vitest';
import { Rollup, RollupCore, LATE_METRIC } from '../../../collector/transforms/rollup.js';
import { partialsFrom, partialFrom, mergePartials } from '../../../collector/aggregates/partial.js';
import type { ComponentContext } from '../../../core/component.js';
import { silentLogger } from '../../../core/log.js';
import type { GaugePoint, LogRecord, MetricPoint } from '../../../core/model.js';
import { MemoryTelemetry } from '../../../core/telemetry.js';

const g = (time: number, value: number, host = 'a'): GaugePoint => ({ kind: 'metric', type: 'gauge', name: 'lat', time, value, attributes: { route: '/x' }, resource: { 'host.name': host } });
const log = (time: number | undefined, observed: number): LogRecord => ({ kind: 'log', observed_time: observed, ...(time === undefined ? {} : { time }), severity_number: 9, severity_text: '', body: 'x', attributes: {}, resource: {} });
const view = (ps: MetricPoint[]) => ps.map((p) => `${p.name}${JSON.stringify(p.attributes)}@${p.start_time ?? ''}-${p.time}=${p.type === 'gauge' || p.type === 'sum' ? p.value : '?'}`);

describe('rollup over windows and aggregates', () => {
  it('aggregates metric points per series: count, sum, min, max, last, rate and quantiles', () => {
    const r = new RollupCore({ metrics: true, aggregates: ['count', 'sum', 'min', 'max', 'last', 'rate', 'p50', 'p99'], latenessMs: 0 });
    expect(r.add([1, 2, 3, 4, 100].map((v, i) => g(5_000 + i * 100, v)), 0)).toEqual([]);
    const out = view(r.flush(10_000, false));
    expect(out).toEqual([
      'lat.count{"route":"/x","host.name":"a"}@5000-6000=5',
      'lat.sum{"route":"/x","host.name":"a"}@5000-6000=110',
      'lat.min{"route":"/x","host.name":"a"}@5000-6000=1',
      'lat.max{"route":"/x","host.name":"a"}@5000-6000=100',
      'lat.last{"route":"/x","host.name":"a"}@5000-6000=100',
      'lat.rate{"route":"/x","host.name":"a"}@5000-6000=110',
      expect.stringMatching(/^lat\.p50\{.*\}@5000-6000=(2\.9|3\.0)\d*$/),
      // DDSketch ranks by q * (n - 1): of 5 values, p99 is the 4th (4, within 1 %).
      expect.stringMatching(/^lat\.p99\{.*\}@5000-6000=(3\.9[6-9]|4\.0[0-4])\d*$/),
    ]);
  });

  it('places log records by event time, not arrival, and emits the tiers asked for', () => {
    const r = new RollupCore({ tiersMs: [1000, 10_000], latenessMs: 0 });
    r.add([log(3_500, 9_000), log(undefined, 9_100)], 0);
    expect(view(r.flush(20_000, false))).toEqual([
      'log.records{"severity":"info"}@3000-4000=1',
      'log.records{"severity":"info"}@9000-10000=1',
      'log.records{"severity":"info","tidewatch.window":"10s"}@0-10000=2',
    ]);
  });

  it('makes late data visible as a tidewatch.window.late series and marks finals when asked', () => {
    const r = new RollupCore({ latenessMs: 0, markFinal: true });
    r.add([log(1_000, 1_000)], 0);
    expect(view(r.flush(5_000, false))).toEqual(['log.records{"severity":"info","tidewatch.final":true}@1000-2000=1']);
    r.add([log(1_500, 6_000), log(1_600, 6_000)], 0);
    const late = r.flush(7_000, false).filter((p) => p.name === LATE_METRIC);
    expect(view(late)).toEqual(['tidewatch.window.late{"metric":"log.records"}@5000-7000=2']);
  });

  it('waits for the slowest active stream with an idle timeout (event time across agents)', () => {
    const r = new RollupCore({ latenessMs: 0, idleTimeoutMs: 10_000 });
    const from = (agent: string, t: number): LogRecord => ({ ...log(t, t), resource: { 'tidewatch.agent.id': agent } });
    r.add([from('fast', 60_000), from('slow', 30_000)], 100);
    const finals = (now: number) => r.flushWindows(now, false).windows.filter((w) => w.final).map((w) => w.start);
    expect(finals(200)).toEqual([]); // slow holds the watermark at 30 s: the window [30 s, 31 s) is not over
    r.add([from('slow', 31_000)], 5_000);
    expect(finals(5_000)).toEqual([30_000]);
    // slow goes quiet for the idle timeout: fast alone moves the watermark on.
    r.add([from('fast', 61_000)], 16_000);
    expect(finals(16_000)).toEqual([31_000, 60_000]);
  });

  it('hands out window values that become RollupPartial records and merge across instances', () => {
    const a = new RollupCore({ metrics: true, latenessMs: 0 });
    const b = new RollupCore({ metrics: true, latenessMs: 0 });
    a.add([g(1_100, 5), g(1_200, 7)], 0);
    b.add([g(1_300, 1)], 0);
    const pa = partialsFrom(a.flushWindows(5_000, false).windows, 'c1');
    const pb = b.flushWindows(5_000, false).windows.map((w) => partialFrom(w, 'c2'));
    const m = mergePartials([...pa, ...pb]);
    expect([m.agg.count, m.agg.sum, m.agg.min, m.agg.max, m.agg.last, m.final]).toEqual([3, 13, 1, 7, 1, true]);
  });

  it('reports the overflow series of a metric in telemetry', () => {
    const telemetry = new MemoryTelemetry();
    const ctx: ComponentContext = { name: 'r', dataDir: '/x', telemetry, log: silentLogger, now: () => 0, agentId: 'a', hostName: 'h', bus: undefined };
    const t = new Rollup({ metrics: true, max_series_per_metric: 1, aggregates: ['count'] }, ctx);
    t.process([g(1_000, 1, 'a'), g(1_000, 1, 'b'), g(1_000, 1, 'c')], 0);
    const out = t.flush(10_000, false);
    expect(view(out as MetricPoint[]).sort()).toEqual(['lat.count{"__overflow__":"true"}@1000-2000=2', 'lat.count{"route":"/x","host.name":"a"}@1000-2000=1']);
    expect(telemetry.value('tidewatch_series_overflow', { component: 'r', metric: 'lat' })).toBe(2);
  });
});
