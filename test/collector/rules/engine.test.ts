import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { RuleEngine } from '../../../collector/rules/engine.js';
import { RuleSchema, type RuleSpec } from '../../../collector/rules/schema.js';
import type { Attributes, GaugePoint, LogRecord, SumPoint } from '../../../core/model.js';

/** A rule as the config loader gives it: the YAML's fields with the schema's defaults applied. */
function rule(r: Record<string, unknown>): RuleSpec {
  return Value.Default(RuleSchema, structuredClone(r)) as RuleSpec;
}

const gauge = (name: string, attributes: Attributes, time: number, value: number, resource: Attributes = {}): GaugePoint => ({ kind: 'metric', type: 'gauge', name, time, value, attributes, resource });
const delta = (name: string, attributes: Attributes, time: number, value: number): SumPoint => ({ kind: 'metric', type: 'sum', temporality: 'delta', monotonic: true, name, time, value, attributes, resource: {} });
const cumul = (name: string, attributes: Attributes, time: number, value: number): SumPoint => ({ ...delta(name, attributes, time, value), temporality: 'cumulative' });
const log = (time: number, severity_number: number, pid: string, body: string): LogRecord => ({
  kind: 'log', time, observed_time: time, severity_number, severity_text: '', body,
  attributes: { 'tidewatch.pattern.id': pid, 'tidewatch.pattern.template': `tpl ${pid} <*>` }, resource: {},
});

/** Runs the engine over a recorded timeline, evaluating every `every` ms; returns the transitions as text. */
function timeline(e: RuleEngine, from: number, to: number, every: number, feed: (t: number) => (GaugePoint | SumPoint | LogRecord)[]): string[] {
  const out: string[] = [];
  for (let t = from; t <= to; t += every) {
    e.ingest(feed(t));
    for (const { alert, transition } of e.evaluate(t).transitions) out.push(`${t} ${alert.fingerprint} ${transition.from}->${transition.to}`);
  }
  return out;
}

describe('threshold', () => {
  it('judges each series by label matchers, with `for` and `keep_firing_for`', () => {
    const e = new RuleEngine([rule({ name: 'cpu_high', kind: 'threshold', metric: 'cpu', matchers: ['env="prod"'], threshold: 90, for_ms: 20_000, keep_firing_for_ms: 20_000 })]);
    const cpuA = (t: number) => (t >= 30_000 && t < 80_000 ? 95 : 50);
    const tr = timeline(e, 0, 120_000, 10_000, (t) => [gauge('cpu', { host: 'a', env: 'prod' }, t, cpuA(t)), gauge('cpu', { host: 'b', env: 'dev' }, t, 99)]);
    expect(tr).toEqual([
      '30000 cpu_high{env="prod",host="a"} inactive->pending',
      '50000 cpu_high{env="prod",host="a"} pending->firing',
      // Last true at 70 s; keep_firing_for 20 s holds it until 90 s, not 80 s.
      '90000 cpu_high{env="prod",host="a"} firing->resolved',
    ]);
  });

  it('aggregates over a range and groups by labels (max by host of the 1 min average)', () => {
    const e = new RuleEngine([rule({ name: 'lat', kind: 'threshold', metric: 'latency', aggregate: 'avg', range_ms: 60_000, group_by: ['host'], threshold: 100 })]);
    const tr = timeline(e, 0, 180_000, 5_000, (t) => [
      gauge('latency', { host: 'a', route: '/x' }, t, t >= 60_000 && t < 65_000 ? 2000 : 10), // one spike: avg over 1 min > 100
      gauge('latency', { host: 'a', route: '/y' }, t, 10),
    ]);
    expect(tr[0]).toBe('60000 lat{host="a"} inactive->firing');
    expect(tr[1]).toMatch(/^1[12]\d{4} lat\{host="a"\} firing->resolved$/);
    expect(e.activeAlerts()).toEqual([]);
  });

  it('goes to nodata when a firing series goes stale or its window empties, and to error on an infinite value', () => {
    const e = new RuleEngine([rule({ name: 'q', kind: 'threshold', metric: 'queue', threshold: 10, stale_ms: 30_000 })]);
    const tr = timeline(e, 0, 60_000, 10_000, (t) => (t <= 10_000 ? [gauge('queue', {}, t, 50)] : []));
    expect(tr).toEqual(['0 q{} inactive->firing', '50000 q{} firing->nodata']);
    const e2 = new RuleEngine([rule({ name: 'r', kind: 'threshold', metric: 'ratio', aggregate: 'avg', range_ms: 10_000, threshold: 1 })]);
    e2.ingest([gauge('ratio', {}, 0, 5)]);
    expect(e2.evaluate(0).transitions.map((x) => x.transition.to)).toEqual(['firing']);
    // The series still reports (not stale) but its 10 s window is empty: no data, not an error.
    expect(e2.evaluate(30_000).transitions.map((x) => x.transition.to)).toEqual(['nodata']);
    // Values whose sum overflows make an infinite average: an error.
    e2.ingest([gauge('ratio', {}, 40_000, 1e308), gauge('ratio', {}, 40_001, 1e308)]);
    expect(e2.evaluate(40_002).transitions.map((x) => x.transition.to)).toEqual(['error']);
  });
});

describe('rate, increase and ratio', () => {
  it('rate of a cumulative counter over a range, surviving a counter reset', () => {
    const e = new RuleEngine([rule({ name: 'req_rate', kind: 'rate', metric: 'requests', range_ms: 60_000, threshold: 5 })]);
    // 2 req/s, then 10 req/s from 120 s; the process restarts at 200 s (counter back to 0).
    let total = 0;
    const tr = timeline(e, 0, 400_000, 10_000, (t) => {
      if (t === 200_000) total = 0;
      total += t > 120_000 && t <= 300_000 ? 100 : 20;
      return [cumul('requests', {}, t, total)];
    });
    expect(tr).toEqual(['150000 req_rate{} inactive->firing', '340000 req_rate{} firing->resolved']);
  });

  it('increase of delta sums (log.records from the rollup) by service', () => {
    const e = new RuleEngine([rule({ name: 'errors', kind: 'increase', metric: 'log.records', matchers: ['severity=~"error|fatal"'], group_by: ['service.name'], range_ms: 60_000, threshold: 30 })]);
    const tr = timeline(e, 0, 120_000, 1_000, (t) => [
      delta('log.records', { severity: 'error', 'service.name': 'shop' }, t, t >= 30_000 && t < 40_000 ? 5 : 0),
      delta('log.records', { severity: 'info', 'service.name': 'shop' }, t, 100),
      delta('log.records', { severity: 'error', 'service.name': 'cart' }, t, 0),
    ]);
    expect(tr[0]).toBe('36000 errors{service.name="shop"} inactive->firing');
    expect(tr[1]).toMatch(/^9\d000 errors\{service.name="shop"\} firing->resolved$/);
    expect(tr).toHaveLength(2);
  });

  it('ratio of errors to total', () => {
    const e = new RuleEngine([rule({ name: 'err_ratio', kind: 'ratio', numerator: { metric: 'http', matchers: ['code=~"5.."'] }, denominator: { metric: 'http' }, group_by: ['route'], range_ms: 60_000, threshold: 0.05 })]);
    const tr = timeline(e, 0, 200_000, 5_000, (t) => [
      delta('http', { route: '/a', code: '200' }, t, 100),
      delta('http', { route: '/a', code: '500' }, t, t >= 60_000 && t < 100_000 ? 20 : 1),
      delta('http', { route: '/b', code: '200' }, t, 10),
    ]);
    expect(tr[0]).toMatch(/^(6|7)\d000 err_ratio\{route="\/a"\} inactive->firing$/);
    expect(tr[1]).toMatch(/^1[45]\d000 err_ratio\{route="\/a"\} firing->resolved$/);
    expect(tr).toHaveLength(2);
  });
});

describe('slo (multiwindow, multi-burn-rate)', () => {
  const slo = () => new RuleEngine([rule({ name: 'avail', kind: 'slo', objective: 0.999, numerator: { metric: 'req', matchers: ['ok="false"'] }, denominator: { metric: 'req' }, buckets: 24 })]);
  const feed = (errRate: (t: number) => number) => (t: number) => [delta('req', { ok: 'true' }, t, 1000 * (1 - errRate(t))), delta('req', { ok: 'false' }, t, 1000 * errRate(t))];

  it('a total outage pages fast on the 14.4x 1h/5m pair and resets minutes after it ends', () => {
    const e = slo();
    const H = 3_600_000;
    // Healthy for 2 h (0.01 % errors), 100 % errors for 10 min, healthy again.
    const tr = timeline(e, 0, 3 * H, 60_000, feed((t) => (t >= 2 * H && t < 2 * H + 600_000 ? 1 : 0.0001)));
    const first = tr.find((x) => x.includes('slo_window="1h/5m"') && x.endsWith('->firing'));
    expect(first).toBeDefined();
    // 14.4x over 1 h needs 1.44 % of the hour's requests bad: at 100 % errors that is under a minute of it.
    expect(Number(first!.split(' ')[0]) - 2 * H).toBeLessThanOrEqual(180_000);
    const resolved = tr.find((x) => x.includes('slo_window="1h/5m"') && x.endsWith('firing->resolved'));
    // The 5 min window forgets the outage ~5 min after it ends, although the 1 h one still burns.
    expect(Number(resolved!.split(' ')[0]) - (2 * H + 600_000)).toBeLessThanOrEqual(420_000);
  });

  it('a slow burn (0.2 %, 2x budget) fires no page, only the 1x 3d/6h ticket', () => {
    const e = slo();
    const H = 3_600_000;
    const tr = timeline(e, 0, 8 * H, 300_000, feed(() => 0.002));
    expect(tr.some((x) => x.includes('"1h/5m"') || x.includes('"6h/30m"'))).toBe(false);
    expect(tr.filter((x) => x.includes('slo_window="3d/6h"'))[0]).toMatch(/inactive->firing$/);
    const a = e.activeAlerts();
    expect(a.map((x) => [x.labels['slo_window'], x.severity])).toEqual([['3d/6h', 'warning']]);
  });
});

describe('absence', () => {
  it('fires when a host goes silent, resolves when it comes back, forgets it after forget_after_ms', () => {
    const e = new RuleEngine([rule({ name: 'host_silent', kind: 'absence', metric: 'heartbeat', group_by: ['host.name'], absent_for_ms: 30_000, forget_after_ms: 300_000 })]);
    const tr = timeline(e, 0, 700_000, 10_000, (t) => [
      gauge('heartbeat', {}, t, 1, { 'host.name': 'a' }),
      ...(t < 50_000 || (t >= 200_000 && t < 300_000) ? [gauge('heartbeat', {}, t, 1, { 'host.name': 'b' })] : []),
    ]);
    expect(tr).toEqual([
      '70000 host_silent{host.name="b"} inactive->firing',
      '200000 host_silent{host.name="b"} firing->resolved',
      '320000 host_silent{host.name="b"} resolved->firing',
      '590000 host_silent{host.name="b"} firing->resolved',
    ]);
  });
});

describe('anomaly', () => {
  it('wraps the detector per series: a level jump after warm-up fires with score and baseline, a quiet series stays quiet', () => {
    const e = new RuleEngine([rule({ name: 'latency_anomaly', kind: 'anomaly', metric: 'lat', aggregate: 'avg', step_ms: 60_000, warmup_points: 50 })]);
    let seed = 1;
    const noise = () => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5) * 4;
    const M = 60_000;
    const trs: string[] = [];
    let fired: ReturnType<RuleEngine['activeAlerts']> = [];
    for (let i = 0; i < 400; i++) {
      const t = i * M;
      e.ingest([gauge('lat', { svc: 'a' }, t, 100 + noise() + (i >= 300 ? 60 : 0)), gauge('lat', { svc: 'b' }, t + 1, 50 + noise())]);
      for (const x of e.evaluate(t + 30_000).transitions) trs.push(`${i} ${x.alert.fingerprint} ${x.transition.to}`);
      if (i === 301) fired = e.activeAlerts();
    }
    expect(trs.filter((x) => x.includes('svc="b"'))).toEqual([]);
    expect(trs[0]).toMatch(/^30[0-3] latency_anomaly\{svc="a"\} firing$/);
    const a = fired.find((x) => x.labels['svc'] === 'a')!;
    expect(a.context.score).toBeGreaterThan(0.4);
    expect(a.context.baseline).toBeGreaterThan(95);
    expect(a.context.baseline).toBeLessThan(105);
    expect(a.context.value).toBeGreaterThan(150);
  });
});

describe('log patterns', () => {
  it('new_pattern: a pattern first seen at WARN or above after the learning period fires, with samples; INFO does not', () => {
    const e = new RuleEngine([rule({ name: 'new_pat', kind: 'new_pattern', learn_ms: 60_000, active_ms: 120_000, new_for_ms: 600_000 })]);
    const tr = timeline(e, 0, 900_000, 30_000, (t) => {
      const out = [log(t, 17, 'known', 'db timeout 1')];
      if (t === 300_000 || t === 330_000) out.push(log(t, 17, 'p-new', `disk full on /dev/sd${t}`));
      if (t === 300_000) out.push(log(t, 9, 'p-info', 'hello'));
      return out;
    });
    expect(tr).toEqual(['300000 new_pat{pattern_id="p-new"} inactive->firing', '450000 new_pat{pattern_id="p-new"} firing->resolved']);
    const e2 = new RuleEngine([rule({ name: 'np', kind: 'new_pattern', learn_ms: 0 })]);
    e2.ingest([log(5, 13, 'x', 'line one'), log(6, 13, 'x', 'line two')]);
    const [a] = e2.evaluate(10).transitions;
    expect(a!.alert.context.samples).toEqual(['line one', 'line two']);
    expect(a!.alert.context.template).toBe('tpl x <*>');
    expect(a!.alert.annotations['summary']).toBe('new log pattern x');
  });

  it('pattern_spike: a pattern whose rate jumps above its own baseline fires; another pattern\'s steady rate does not', () => {
    const e = new RuleEngine([rule({ name: 'spike', kind: 'pattern_spike', step_ms: 60_000, warmup_points: 30 })]);
    const trs: string[] = [];
    let seed = 3;
    const rnd = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    for (let i = 0; i < 300; i++) {
      const t = i * 60_000;
      const n = (i >= 200 && i < 205 ? 200 : 10) + Math.floor(rnd() * 4);
      const batch: LogRecord[] = [];
      for (let k = 0; k < n; k++) batch.push(log(t + k, 9, 'p1', `GET /x ${k}`));
      for (let k = 0; k < 20 + Math.floor(rnd() * 4); k++) batch.push(log(t + k, 9, 'p2', `ok ${k}`));
      e.ingest(batch);
      for (const x of e.evaluate(t + 59_000).transitions) trs.push(`${i} ${x.alert.fingerprint} ${x.transition.to}`);
    }
    expect(trs.filter((x) => x.includes('p2'))).toEqual([]);
    expect(trs[0]).toMatch(/^20[01] spike\{pattern_id="p1"\} firing$/);
  });
});

describe('engine bounds', () => {
  it('counts series beyond max_series_per_rule instead of tracking them', () => {
    const e = new RuleEngine([rule({ name: 't', kind: 'threshold', metric: 'm', threshold: 0 })], { maxSeriesPerRule: 3 });
    e.ingest([1, 2, 3, 4, 5].map((i) => gauge('m', { i }, 0, 1)));
    expect(e.evaluate(0).transitions).toHaveLength(3);
    expect(e.counters.seriesOverflow).toBe(2);
  });

  it('counts alerts beyond max_alerts_per_rule', () => {
    const e = new RuleEngine([rule({ name: 't', kind: 'threshold', metric: 'm', threshold: 0 })], { maxAlertsPerRule: 2 });
    e.ingest([1, 2, 3].map((i) => gauge('m', { i }, 0, 1)));
    expect(e.evaluate(0).transitions).toHaveLength(2);
    expect(e.counters.alertOverflow).toBe(1);
  });

  it('renders summaries with $value, $threshold and $labels', () => {
    const e = new RuleEngine([rule({ name: 't', kind: 'threshold', metric: 'm', threshold: 5, summary: '{{ $labels.host }} at {{ $value }} (> {{ $threshold }})', labels: { team: 'db' } })]);
    e.ingest([gauge('m', { host: 'h1' }, 0, 7.25)]);
    const [x] = e.evaluate(0).transitions;
    expect(x!.alert.annotations['summary']).toBe('h1 at 7.25 (> 5)');
    expect(x!.alert.labels).toEqual({ team: 'db', host: 'h1', alertname: 't', severity: 'warning' });
  });
});

describe('rollup output (early then final values of one window)', () => {
  const win = (name: string, start: number, value: number, type: 'sum' | 'gauge' = 'sum'): SumPoint | GaugePoint =>
    type === 'sum'
      ? { ...delta(name, { severity: 'error' }, start + 1000, value), start_time: start }
      : { ...gauge(name, {}, start + 1000, value), start_time: start };

  it('counts a restated window once: increase takes the final value, not early + final', () => {
    const e = new RuleEngine([rule({ name: 'errs', kind: 'increase', metric: 'log.records', range_ms: 60_000, threshold: 10 })]);
    e.ingest([win('log.records', 0, 5), win('log.records', 0, 7), win('log.records', 1000, 2)]);
    // 7 + 2 = 9: not over 10 (early + final would have been 14).
    expect(e.evaluate(2000).transitions).toEqual([]);
    e.ingest([win('log.records', 1000, 4)]);
    expect(e.evaluate(2500).transitions.map((x) => [x.transition.to, x.alert.context.value])).toEqual([['firing', 11]]);
  });

  it('averages a restated gauge window once', () => {
    const e = new RuleEngine([rule({ name: 'p99', kind: 'threshold', metric: 'lat.p99', aggregate: 'avg', range_ms: 60_000, threshold: 50 })]);
    e.ingest([win('lat.p99', 0, 100, 'gauge'), win('lat.p99', 0, 40, 'gauge'), win('lat.p99', 1000, 40, 'gauge')]);
    // (40 + 40) / 2, not (100 + 40 + 40) / 3 or (100 + 40 + 40) / 2.
    const r = e.evaluate(2000);
    expect(r.transitions).toEqual([]);
    e.ingest([win('lat.p99', 1000, 80, 'gauge')]);
    expect(e.evaluate(2500).transitions.map((x) => x.alert.context.value)).toEqual([60]);
  });
});
