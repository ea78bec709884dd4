// Anomaly detector hot path: points per second on one core, and memory per series.
// Rival in the same run: the naive windowed-Gaussian baseline shipped as `--detector gaussian`.
//
// usage (after `npx tsc -p tsconfig.build.json`):
//   node --expose-gc bench/detector.mjs [--points 2000000] [--series 10000] [--fp-points 20000]
// Also: false alerts per 10,000 points on i.i.d. noise (5 seeds) at several sensitivities, the
// price of each setting on a series with nothing to find.
import { createAnomalyDetector } from '../dist/collector/rules/anomaly.js';
import { createWindowedGaussian } from '../dist/collector/rules/anomaly/gaussian.js';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const POINTS = arg('points', 2_000_000);
const SERIES = arg('series', 10_000);
const STEP = 60_000; // 1-minute points: day profile at its 288-bucket cap, week at 168
const T0 = Date.UTC(2026, 0, 5);

// Deterministic input: a daily cycle plus pseudo-random noise and a spike now and then.
const values = new Float64Array(1 << 16);
let seed = 42;
for (let i = 0; i < values.length; i++) {
  seed = (seed * 1103515245 + 12345) >>> 0;
  values[i] = 50 + 20 * Math.sin((2 * Math.PI * i) / 1440) + (seed / 2 ** 32 - 0.5) * 4 + (i % 5000 === 0 ? 40 : 0);
}

function throughput(name, make) {
  const det = make();
  const warm = Math.min(POINTS, 200_000);
  for (let i = 0; i < warm; i++) det.update(T0 + i * STEP, values[i & 0xffff]);
  let alerts = 0;
  const t0 = process.hrtime.bigint();
  for (let i = warm; i < warm + POINTS; i++) if (det.update(T0 + i * STEP, values[i & 0xffff]).alert) alerts++;
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  return { name, points: POINTS, seconds: +s.toFixed(3), points_per_s: Math.round(POINTS / s), alerts };
}

function memory(name, make) {
  globalThis.gc?.();
  // Typed arrays live outside the JS heap: count their backing stores too.
  const used = () => { const m = process.memoryUsage(); return m.heapUsed + m.arrayBuffers; };
  const before = used();
  const keep = [];
  for (let k = 0; k < SERIES; k++) {
    const det = make();
    // Enough points to infer the interval and allocate every profile, spread over a day.
    for (let i = 0; i < 64; i++) det.update(T0 + i * 23 * STEP, values[(k + i) & 0xffff]);
    keep.push(det);
  }
  globalThis.gc?.();
  const after = used();
  return { name, series: SERIES, bytes_per_series: Math.round((after - before) / keep.length), gc_exposed: typeof globalThis.gc === 'function' };
}

// Seeded uniform (mulberry32) and three noise shapes: light-tailed, counts, heavy-tailed.
function uniform(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const normal = (u) => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
const NOISE = {
  gaussian: normal,
  'poisson(2)': (u) => {
    let k = 0;
    let p = Math.exp(-2);
    let s = p;
    const x = u();
    while (x > s) {
      k++;
      p *= 2 / k;
      s += p;
    }
    return k;
  },
  lognormal: (u) => Math.exp(normal(u)),
};
const FP_POINTS = arg('fp-points', 20_000);
const SENS = [0.3, 0.4, 0.5, 0.55, 0.6, 0.7];

function falseAlerts() {
  const rows = {};
  for (const [name, gen] of Object.entries(NOISE)) {
    rows[name] = {};
    for (const s of SENS) {
      let alerts = 0;
      for (let seed = 1; seed <= 5; seed++) {
        const u = uniform(seed * 7919);
        const d = createAnomalyDetector({ sensitivity: s });
        for (let i = 0; i < FP_POINTS; i++) if (d.update(T0 + i * 300_000, gen(u)).alert) alerts++;
      }
      rows[name][`s=${s}`] = +((alerts / (5 * FP_POINTS)) * 10_000).toFixed(1);
    }
  }
  return rows;
}

const results = {
  node: process.version,
  cpu_count_seen: (await import('node:os')).cpus().length,
  throughput: [throughput('anomaly', () => createAnomalyDetector()), throughput('gaussian (baseline)', () => createWindowedGaussian())],
  memory: [memory('anomaly', () => createAnomalyDetector()), memory('gaussian (baseline)', () => createWindowedGaussian())],
  false_alerts_per_10k_points: falseAlerts(),
};
console.log(JSON.stringify(results, null, 2));
