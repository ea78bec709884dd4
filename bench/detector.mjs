// Anomaly detector hot path: points per second on one core, and memory per series.
// Rival in the same run: the naive windowed-Gaussian baseline shipped as `--detector gaussian`.
//
// usage (after `npx tsc -p tsconfig.build.json`):
//   node --expose-gc bench/detector.mjs [--points 2000000] [--series 10000]
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

const results = {
  node: process.version,
  cpu_count_seen: (await import('node:os')).cpus().length,
  throughput: [throughput('anomaly', () => createAnomalyDetector()), throughput('gaussian (baseline)', () => createWindowedGaussian())],
  memory: [memory('anomaly', () => createAnomalyDetector()), memory('gaussian (baseline)', () => createWindowedGaussian())],
};
console.log(JSON.stringify(results, null, 2));
