#!/usr/bin/env node
/**
 * OTLP receiver throughput and latency: requests/s, data points/s and p50/p99 latency for
 * OTLP/HTTP JSON, OTLP/HTTP protobuf and OTLP/gRPC, with the receiver in a child process pinned
 * to one core (taskset) and the load generator on another. Bodies are what the official
 * OpenTelemetry exporters send (captured once). Baseline in the same run: a bare node:http /
 * grpc-js server that reads the same bodies and answers without decoding, i.e. the floor the
 * transport itself costs.
 *
 *   npx tsc -p tsconfig.build.json && node bench/otlp.mjs [--seconds 3] [--concurrency 16] [--points 1000]
 */
import { execFileSync, fork } from 'node:child_process';
import { createServer, request, Agent } from 'node:http';
import { cpus } from 'node:os';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const arg = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};

// ---------------------------------------------------------------- server side (child process)
if (args[0] === '--serve') {
  const mode = args[1];
  if (mode === 'tidewatch') {
    const { otlpSource } = await import('../dist/agent/sources/otlp.js');
    const { MemoryTelemetry } = await import('../dist/core/telemetry.js');
    const { silentLogger } = await import('../dist/core/log.js');
    let points = 0;
    const src = otlpSource.create(
      { http_endpoint: '127.0.0.1:0', grpc_endpoint: '127.0.0.1:0', max_body_bytes: 16 << 20, max_in_flight: 256, max_in_flight_bytes: 1 << 30, retry_after_s: 1, read_timeout_ms: 30000, max_connections: 1024, cumulative_to_delta: false, max_delta_series: 100000 },
      { name: 'bench', dataDir: '/tmp', telemetry: new MemoryTelemetry(), log: silentLogger, now: Date.now, agentId: 'bench', hostName: 'bench', bus: undefined, emit: async (e) => void (points += e.length) },
    );
    await src.start();
    process.send({ http: src.ports.http, grpc: src.ports.grpc });
    process.on('message', (m) => m === 'points' && process.send({ points }));
  } else {
    // Baseline: read the body, answer an empty 200 / empty message; no decoding.
    const http = createServer((req, res) => {
      req.on('data', () => {});
      req.on('end', () => res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/json', 'content-length': '2' }).end('{}'));
    });
    await new Promise((r) => http.listen(0, '127.0.0.1', r));
    const grpc = await import('@grpc/grpc-js');
    const server = new grpc.Server({ 'grpc.max_receive_message_length': 16 << 20 });
    const id = (b) => b;
    server.addService(
      { Export: { path: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export', requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id } },
      { Export: (_call, cb) => cb(null, Buffer.alloc(0)) },
    );
    const port = await new Promise((res, rej) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
    process.send({ http: http.address().port, grpc: port });
    process.on('message', (m) => m === 'points' && process.send({ points: 0 }));
  }
} else {
  await main();
}

// ---------------------------------------------------------------- load side
async function captureBodies(points) {
  const { MeterProvider, PeriodicExportingMetricReader } = await import('@opentelemetry/sdk-metrics');
  const { OTLPMetricExporter: Json, AggregationTemporalityPreference } = await import('@opentelemetry/exporter-metrics-otlp-http');
  const { OTLPMetricExporter: Proto } = await import('@opentelemetry/exporter-metrics-otlp-proto');
  const { resourceFromAttributes } = await import('@opentelemetry/resources');
  const bodies = {};
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      bodies[req.headers['content-type']] = Buffer.concat(chunks);
      res.writeHead(200, { 'content-type': req.headers['content-type'] }).end();
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}/v1/metrics`;
  for (const Exporter of [Json, Proto]) {
    const provider = new MeterProvider({
      resource: resourceFromAttributes({ 'service.name': 'bench', 'host.name': 'bench-host' }),
      readers: [new PeriodicExportingMetricReader({ exporter: new Exporter({ url, temporalityPreference: AggregationTemporalityPreference.DELTA }), exportIntervalMillis: 3_600_000 })],
    });
    const meter = provider.getMeter('bench', '1.0');
    // Counters with 5 attributes each: the shape of a typical instrumented HTTP service.
    const perCounter = 100;
    for (let c = 0; c < points / perCounter; c++) {
      const counter = meter.createCounter(`bench.requests.${c}`, { unit: '{request}' });
      for (let i = 0; i < perCounter; i++) counter.add(i + 1, { 'http.route': `/r/${i}`, 'http.method': 'GET', 'http.status_code': 200, region: 'eu', shard: c });
    }
    await provider.forceFlush();
    await provider.shutdown();
  }
  await new Promise((r) => server.close(r));
  return { json: bodies['application/json'], proto: bodies['application/x-protobuf'] };
}

function cpuSeconds(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}

async function load(kind, port, body, seconds, concurrency) {
  const lat = [];
  let errors = 0;
  const until = performance.now() + seconds * 1000;
  let send;
  let close = () => {};
  if (kind === 'grpc') {
    const grpc = await import('@grpc/grpc-js');
    const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': 16 << 20 });
    const id = (b) => b;
    send = () =>
      new Promise((resolve) => client.makeUnaryRequest('/opentelemetry.proto.collector.metrics.v1.MetricsService/Export', id, id, body, (err) => resolve(err === null)));
    close = () => client.close();
  } else {
    const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
    const type = kind === 'json' ? 'application/json' : 'application/x-protobuf';
    send = () =>
      new Promise((resolve) => {
        const req = request({ host: '127.0.0.1', port, path: '/v1/metrics', method: 'POST', agent, headers: { 'content-type': type, 'content-length': body.length } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode === 200));
        });
        req.on('error', () => resolve(false));
        req.end(body);
      });
    close = () => agent.destroy();
  }
  const worker = async () => {
    while (performance.now() < until) {
      const t0 = performance.now();
      const ok = await send();
      lat.push(performance.now() - t0);
      if (!ok) errors++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - t0) / 1000;
  close();
  lat.sort((a, b) => a - b);
  return { requests: lat.length, errors, elapsed, p50: percentile(lat, 50), p99: percentile(lat, 99) };
}

async function startServer(mode) {
  const self = fileURLToPath(import.meta.url);
  let pinned = false;
  let child;
  try {
    execFileSync('taskset', ['--version'], { stdio: 'ignore' });
    pinned = true;
  } catch {
    pinned = false;
  }
  child = fork(self, ['--serve', mode], { execPath: pinned ? 'taskset' : process.execPath, execArgv: pinned ? ['-c', '0', process.execPath] : [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ports = await new Promise((r) => child.once('message', r));
  return { child, ports, pinned };
}

async function main() {
  const seconds = arg('seconds', 3);
  const concurrency = arg('concurrency', 16);
  const points = arg('points', 1000);
  const bodies = await captureBodies(points);
  const rows = [];
  for (const mode of ['tidewatch', 'baseline']) {
    const { child, ports, pinned } = await startServer(mode);
    for (const kind of ['json', 'proto', 'grpc']) {
      const body = kind === 'json' ? bodies.json : bodies.proto;
      await load(kind, kind === 'grpc' ? ports.grpc : ports.http, body, 0.5, concurrency); // warm-up
      const cpu0 = cpuSeconds(child.pid);
      const r = await load(kind, kind === 'grpc' ? ports.grpc : ports.http, body, seconds, concurrency);
      const cpu = (cpuSeconds(child.pid) - cpu0) / r.elapsed;
      rows.push({
        server: mode,
        protocol: kind === 'json' ? 'HTTP JSON' : kind === 'proto' ? 'HTTP protobuf' : 'gRPC',
        'body KiB': (body.length / 1024).toFixed(0),
        'req/s': Math.round(r.requests / r.elapsed),
        'points/s': mode === 'tidewatch' ? Math.round((r.requests * points) / r.elapsed) : '-',
        'p50 ms': r.p50.toFixed(1),
        'p99 ms': r.p99.toFixed(1),
        'server CPU': `${(cpu * 100).toFixed(0)}%`,
        // The machine is shared: a server that got a fraction of its core is normalised to a whole one.
        'points per CPU-s': mode === 'tidewatch' && cpu > 0 ? Math.round((r.requests * points) / r.elapsed / cpu) : '-',
        'req per CPU-s': cpu > 0 ? Math.round(r.requests / r.elapsed / cpu) : '-',
        errors: r.errors,
        pinned,
      });
    }
    child.kill();
  }
  console.log(`node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${points} points per request, concurrency ${concurrency}, ${seconds} s per row, load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
  console.table(rows);
  console.log('decode + map only, this process, one thread (the CPU cost per point, without sockets):');
  console.table(await decodeBench(bodies, points, Math.max(1, seconds / 2)));
}

async function decodeBench(bodies, points, seconds) {
  const { decodeMetricsRequest } = await import('../dist/agent/sources/otlp/proto.js');
  const { metricsFromJson, parseJsonBody } = await import('../dist/agent/sources/otlp/json.js');
  const { metricsToEvents } = await import('../dist/agent/sources/otlp/map.js');
  const ctx = { now: Date.now(), agentId: 'bench' };
  const cases = [
    ['JSON.parse only (floor)', () => JSON.parse(bodies.json.toString('utf8'))],
    ['OTLP/JSON decode + map', () => metricsToEvents(metricsFromJson(parseJsonBody(bodies.json.toString('utf8'))), ctx)],
    ['OTLP protobuf decode + map', () => metricsToEvents(decodeMetricsRequest(bodies.proto), ctx)],
  ];
  const rows = [];
  for (const [name, fn] of cases) {
    for (let i = 0; i < 20; i++) fn();
    let n = 0;
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    while (performance.now() - t0 < seconds * 1000) {
      fn();
      n++;
    }
    const c = process.cpuUsage(c0);
    // CPU time, not wall time: on a shared machine the wall clock counts other processes' turns.
    const s = (c.user + c.system) / 1e6;
    rows.push({ case: name, 'points per CPU-s': Math.round((n * points) / s), 'CPU ms per request': ((s * 1000) / n).toFixed(2) });
  }
  return rows;
}
