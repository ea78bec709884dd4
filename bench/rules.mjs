// Rules stage hot path: rule evaluations per second per core with 100,000 active series, and
// memory per series, for the rule kinds that scale with series count. The baseline in the same
// run is the naive way to evaluate a range rule: keep each series' raw points for the range
// (as a query over stored samples would) and scan them at every evaluation.
//
// usage (after `npx tsc -p tsconfig.build.json`):
//   node --expose-gc bench/rules.mjs [--series 100000] [--evals 30] [--anomaly-series 10000]
// One evaluation = every rule judges every series once (1 s of data fed before each).
import { RuleEngine } from '../dist/collector/rules/engine.js';
import { RuleSchema } from '../dist/collector/rules/schema.js';
import { Value } from '@sinclair/typebox/value';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const SERIES = arg('series', 100_000);
const EVALS = arg('evals', 30);
const ANOMALY_SERIES = arg('anomaly-series', 10_000);
const rule = (r) => Value.Default(RuleSchema, r);

// Samples of every series, made once: labels as a scrape or OTLP gives them.
function samples(n, name) {
  const out = new Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = { name, labels: { 'host.name': `h${i % 1000}`, 'service.name': `svc${i % 100}`, instance: String(i) }, time: 0, value: 0, cumulative: false };
  }
  return out;
}

function heapMB() {
  globalThis.gc?.();
  globalThis.gc?.();
  return process.memoryUsage().heapUsed / 1048576;
}

function run(label, spec, n, stepMs, valueAt) {
  const ss = samples(n, spec.metric);
  const before = heapMB();
  const e = new RuleEngine([rule(spec)], { maxSeriesPerRule: n, maxAlertsPerRule: n });
  let t = 0;
  // Warm up: fill the windows (and let the JIT settle) before timing.
  const warm = Math.max(3, Math.ceil((spec.range_ms ?? 0) / stepMs) + 1, spec.kind === 'anomaly' ? 40 : 0);
  const feed = () => {
    for (let i = 0; i < n; i++) {
      const s = ss[i];
      s.time = t;
      s.value = valueAt(i, t);
      e.observeSample(s);
    }
  };
  for (let k = 0; k < warm; k++) {
    feed();
    e.evaluate(t);
    t += stepMs;
  }
  const mem = heapMB() - before;
  let ingestNs = 0n;
  let evalNs = 0n;
  let judged = 0;
  let firing = 0;
  for (let k = 0; k < EVALS; k++) {
    const a = process.hrtime.bigint();
    feed();
    const b = process.hrtime.bigint();
    const r = e.evaluate(t);
    const c = process.hrtime.bigint();
    ingestNs += b - a;
    evalNs += c - b;
    judged += r.judged;
    firing = r.active.length;
    t += stepMs;
  }
  const evalS = Number(evalNs) / 1e9;
  const ingestS = Number(ingestNs) / 1e9;
  return {
    bench: label,
    series: n,
    evaluations: EVALS,
    evaluations_per_s: +(EVALS / evalS).toFixed(2),
    series_per_s: Math.round((n * EVALS) / evalS),
    judgements_per_s: Math.round(judged / evalS),
    points_ingested_per_s: Math.round((n * EVALS) / ingestS),
    bytes_per_series: Math.round((mem * 1048576) / n),
    active_alerts: firing,
  };
}

/**
 * Naive baseline: raw points kept per series for the range (a head index drops expired ones, so
 * ingest stays cheap), all of them scanned at every evaluation.
 */
function naive(n, rangeMs, stepMs, threshold, valueAt) {
  const before = heapMB();
  const pts = new Map();
  for (let i = 0; i < n; i++) pts.set(`cpu{instance="${i}"}`, { t: [], v: [], head: 0 });
  const keys = [...pts.keys()];
  let t = 0;
  const feed = () => {
    for (let i = 0; i < n; i++) {
      const p = pts.get(keys[i]);
      p.t.push(t);
      p.v.push(valueAt(i, t));
      while (p.head < p.t.length && p.t[p.head] <= t - rangeMs) p.head++;
      // Compact now and then, so memory stays proportional to the range.
      if (p.head > 64 && p.head * 2 > p.t.length) {
        p.t = p.t.slice(p.head);
        p.v = p.v.slice(p.head);
        p.head = 0;
      }
    }
  };
  const evaluate = () => {
    let firing = 0;
    for (const p of pts.values()) {
      let s = 0;
      for (let k = p.head; k < p.v.length; k++) s += p.v[k];
      const c = p.v.length - p.head;
      if (c > 0 && s / c > threshold) firing++;
    }
    return firing;
  };
  for (let k = 0; k < Math.ceil(rangeMs / stepMs) + 1; k++) {
    feed();
    evaluate();
    t += stepMs;
  }
  const mem = heapMB() - before;
  let ns = 0n;
  let firing = 0;
  for (let k = 0; k < EVALS; k++) {
    feed();
    const a = process.hrtime.bigint();
    firing = evaluate();
    ns += process.hrtime.bigint() - a;
    t += stepMs;
  }
  const s = Number(ns) / 1e9;
  return { bench: `naive baseline: raw points, avg over ${rangeMs / 1000} s scanned per evaluation`, series: n, evaluations: EVALS, evaluations_per_s: +(EVALS / s).toFixed(2), series_per_s: Math.round((n * EVALS) / s), bytes_per_series: Math.round((mem * 1048576) / n), active_alerts: firing };
}

// 1 % of the series run hot, so alerts exist and the lifecycle path is exercised.
const hot = (i) => i % 100 === 0;
const cpu = (i, t) => (hot(i) ? 95 : 40 + ((i * 7 + t / 1000) % 20));

const results = [];
const scenarios = [
  () => run('threshold, last value (cpu > 90), points every 1 s', { name: 'cpu_high', kind: 'threshold', metric: 'cpu', threshold: 90 }, SERIES, 1000, cpu),
  () => run('threshold, avg over 60 s (12 buckets), points every 1 s', { name: 'cpu_avg', kind: 'threshold', metric: 'cpu', aggregate: 'avg', range_ms: 60_000, threshold: 90 }, SERIES, 1000, cpu),
  () => naive(SERIES, 60_000, 1000, 90, cpu),
  () => run('threshold, avg over 5 min (12 buckets), points every 5 s', { name: 'cpu_avg5', kind: 'threshold', metric: 'cpu', aggregate: 'avg', range_ms: 300_000, threshold: 90 }, SERIES, 5000, cpu),
  () => naive(SERIES, 300_000, 5000, 90, cpu),
  () => run('rate over 5 min by service.name (100 groups), points every 5 s', { name: 'req_rate', kind: 'rate', metric: 'cpu', range_ms: 300_000, group_by: ['service.name'], threshold: 1e9 }, SERIES, 5000, cpu),
  () => run('absence 5 min, per series', { name: 'silent', kind: 'absence', metric: 'cpu', absent_for_ms: 300_000 }, SERIES, 1000, cpu),
  () => run(`anomaly per series, 1 min steps (${ANOMALY_SERIES} series)`, { name: 'anom', kind: 'anomaly', metric: 'cpu', step_ms: 60_000, warmup_points: 10 }, ANOMALY_SERIES, 60_000, cpu),
];
for (const s of scenarios) {
  const r = s();
  results.push(r);
  console.error(JSON.stringify(r)); // progress: a full run takes minutes
}
console.log(JSON.stringify({ node: process.version, cpu: (await import('node:os')).cpus()[0]?.model, results }, null, 1));
