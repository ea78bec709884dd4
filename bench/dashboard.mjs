// Dashboard benchmark (issue 10). Run after a build: `npx tsc -p tsconfig.build.json && node bench/dashboard.mjs`
//
// 1. API latency with live clients: the dashboard role over an in-process bus holds SERIES series
//    of one hour at 1 s (SERIES x 3600 points) and receives SERIES new points every second. A mix
//    of API requests (query of all series downsampled to a 1200 px chart, query of one series,
//    overview, alerts, series list) is timed with 0 live SSE clients (baseline) and then with
//    CLIENTS live SSE clients connected and reading.
// 2. Browser: the Explore page in headless Chromium on the same data: time to first chart (from
//    navigation start, and the uPlot construction alone) and the per-update cost of live points
//    (performance marks set by dashboard/ui/pages.js), over UPDATE_S seconds of live updates.
//
// Env: SERIES (200), CLIENTS (50), REQUESTS (per phase, 300), UPDATE_S (10), TW_CHROMIUM.
import { request, Agent } from 'node:http';
import { performance } from 'node:perf_hooks';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join } from 'node:path';

const { createBus } = await import('../dist/core/transports/bus.js');
const { encodeEvents } = await import('../dist/core/codec.js');
const { startDashboard } = await import('../dist/dashboard/service.js');

const SERIES = Number(process.env.SERIES ?? 200);
const CLIENTS = Number(process.env.CLIENTS ?? 50);
const REQUESTS = Number(process.env.REQUESTS ?? 300);
const UPDATE_S = Number(process.env.UPDATE_S ?? 10);
const CHROMIUM = process.env.TW_CHROMIUM ?? '/usr/bin/chromium';

const severities = ['info', 'warn', 'error', 'debug'];
function point(i, t, v) {
  return { kind: 'metric', type: 'sum', name: 'log.records', temporality: 'delta', monotonic: true, time: t, start_time: t - 1000, value: v, attributes: { severity: severities[i % 4], 'host.name': `host-${String(i).padStart(3, '0')}` }, resource: {} };
}

const bus = createBus({ retentionMessages: 64 });
await bus.start();
const d = await startDashboard({ transport: bus, port: 0 });
const now0 = Math.floor(Date.now() / 1000) * 1000;
const tLoad = performance.now();
for (let t = now0 - 3_599_000; t <= now0; t += 1000) {
  for (let i = 0; i < SERIES; i++) d.store.upsert(point(i, t, 10 + ((i * 7 + t / 1000) % 13)));
}
const loadMs = performance.now() - tLoad;
let last = now0;
const ticker = setInterval(() => {
  const t = Math.floor(Date.now() / 1000) * 1000;
  if (t <= last) return;
  last = t;
  const pts = [];
  for (let i = 0; i < SERIES; i++) pts.push(point(i, t, 10 + ((i * 7 + t / 1000) % 13)));
  void bus.publish('tidewatch.rollups', encodeEvents(pts));
}, 50);

const url = new URL(d.url);
const agent = new Agent({ keepAlive: true, maxSockets: 4 });
function get(path) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = request({ host: url.hostname, port: url.port, path, agent }, (res) => {
      let n = 0;
      res.on('data', (c) => (n += c.length));
      res.on('end', () => resolve({ ms: performance.now() - t0, status: res.statusCode, bytes: n }));
    });
    req.on('error', reject);
    req.end();
  });
}

const MIX = [
  `/api/v1/query?name=log.records&from=-1h&width=1200`,
  `/api/v1/query?name=log.records&from=-5m&match[host.name]=host-001`,
  '/api/v1/overview',
  '/api/v1/alerts',
  '/api/v1/series',
];
function pct(a, p) {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}
async function phase(label) {
  const byPath = new Map(MIX.map((p) => [p, []]));
  const all = [];
  for (let i = 0; i < REQUESTS; i++) {
    const p = MIX[i % MIX.length];
    const r = await get(p);
    if (r.status !== 200) throw new Error(`${p}: ${r.status}`);
    byPath.get(p).push(r.ms);
    all.push(r.ms);
  }
  console.log(`\n${label}: ${REQUESTS} requests, sequential, keep-alive`);
  console.log(`  all            p50 ${pct(all, 50).toFixed(1)} ms  p99 ${pct(all, 99).toFixed(1)} ms  max ${Math.max(...all).toFixed(1)} ms`);
  for (const [p, a] of byPath) console.log(`  ${p.padEnd(62)} p50 ${pct(a, 50).toFixed(1)} ms  p99 ${pct(a, 99).toFixed(1)} ms`);
  return { p50: pct(all, 50), p99: pct(all, 99) };
}

console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model}), Node ${process.version}, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
console.log(`store: ${SERIES} series x 3600 points loaded in ${loadMs.toFixed(0)} ms; ${SERIES} new points/s on the bus`);
await new Promise((r) => setTimeout(r, 1500));
const base = await phase('baseline, 0 live SSE clients');

// CLIENTS live streams, each reading every event.
const streams = [];
let events = 0;
for (let i = 0; i < CLIENTS; i++) {
  await new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path: '/api/v1/stream?name=log.records' }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`stream ${res.statusCode}`));
      res.on('data', (c) => (events += (c.toString().match(/\ndata: |^data: /g) ?? []).length));
      resolve();
    });
    req.on('error', reject);
    req.end();
    streams.push(req);
  });
}
await new Promise((r) => setTimeout(r, 2000));
const evBefore = events;
const tLive = performance.now();
const withClients = await phase(`with ${CLIENTS} live SSE clients`);
const liveS = (performance.now() - tLive) / 1000;
console.log(`  SSE messages received by the clients during the phase: ${events - evBefore} (${((events - evBefore) / liveS / CLIENTS).toFixed(1)} per client per second)`);
for (const s of streams) s.destroy();

// Browser.
let browserResult = null;
try {
  const { chromium } = await import('playwright-core');
  const dir = await mkdtemp(join(tmpdir(), 'tw-bench-dash-'));
  const ctx = await chromium.launchPersistentContext(join(dir, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    viewport: { width: 1280, height: 900 },
  });
  const page = await ctx.newPage();
  await page.goto(`${d.url}#/explore`);
  const chart = page.locator('#ex-chart');
  const deadline = Date.now() + 60_000;
  while (Number(await chart.getAttribute('data-series')) < SERIES && Date.now() < deadline) await page.waitForTimeout(100);
  const first = await page.evaluate(() => ({
    nav: (() => { const m = performance.getEntriesByName('tw-explore-first-chart')[0]; return m ? m.startTime + m.duration : null; })(),
    build: performance.getEntriesByName('tw-explore-first-chart')[0]?.duration ?? null,
    points: Number(document.getElementById('ex-chart').dataset.points),
    series: Number(document.getElementById('ex-chart').dataset.series),
    width: document.getElementById('ex-chart').clientWidth,
  }));
  await page.evaluate(() => performance.clearMeasures('tw-explore-update'));
  const u0 = Number(await chart.getAttribute('data-updates'));
  const l0 = Number(await chart.getAttribute('data-last'));
  // Responsiveness: a round trip to the page's main thread, once a second, during live updates.
  const rtt = [];
  const endAt = Date.now() + UPDATE_S * 1000;
  while (Date.now() < endAt) {
    const t0 = performance.now();
    await page.evaluate(() => 1);
    rtt.push(performance.now() - t0);
    await page.waitForTimeout(1000);
  }
  console.log(`  main-thread round trip during live updates: p50 ${pct(rtt, 50).toFixed(0)} ms, max ${Math.max(...rtt).toFixed(0)} ms (${rtt.length} samples)`);
  const u1 = Number(await chart.getAttribute('data-updates'));
  const l1 = Number(await chart.getAttribute('data-last'));
  console.log(`  renders during the window: ${u1 - u0}; newest point moved ${l1 - l0} s`);
  const upd = await page.evaluate(() => performance.getEntriesByName('tw-explore-update').map((e) => e.duration));
  const longTasks = await page.evaluate(() => performance.getEntriesByType('longtask').length);
  browserResult = { ...first, updates: upd.length, updMean: upd.reduce((a, b) => a + b, 0) / Math.max(1, upd.length), updP95: upd.length ? pct(upd, 95) : null, longTasks };
  console.log(`\nChromium, Explore page, ${first.series} series x ${first.points} x-values (1 h at 1 s, downsampled for a ${first.width} px chart):`);
  console.log(`  first chart drawn at ${first.nav?.toFixed(0)} ms after navigation start; its render (columns, uPlot, draw) ${first.build?.toFixed(1)} ms`);
  console.log(`  live updates in ${UPDATE_S} s: ${upd.length}; per update (rebuild columns + setData + draw) mean ${browserResult.updMean.toFixed(1)} ms, p95 ${browserResult.updP95?.toFixed(1)} ms`);
  await ctx.close();
  await rm(dir, { recursive: true, force: true });
} catch (err) {
  console.log(`\nbrowser part not run: ${err.message}`);
}

clearInterval(ticker);
agent.destroy();
await d.stop();
await bus.stop();
console.log(`\nsummary: API p99 ${base.p99.toFixed(1)} ms (0 clients) vs ${withClients.p99.toFixed(1)} ms (${CLIENTS} clients)`);
