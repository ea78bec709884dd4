/**
 * OTLP/HTTP bad input and backpressure: every refusal has the status the OTLP/HTTP specification
 * gives it, a message that names the problem, and the receiver keeps serving afterwards.
 */
import { request } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { AggregationTemporalityPreference } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as MetricsProto } from '@opentelemetry/exporter-metrics-otlp-proto';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { TidewatchError } from '../../../core/errors.js';
import { decodeMetricsRequest } from '../../../agent/sources/otlp/proto.js';
import { startOtlp, waitFor } from './otlp-helpers.js';
import type { Running } from './otlp-helpers.js';

let running: Running | undefined;
afterEach(async () => {
  await running?.stop();
  running = undefined;
});

const NOW_NS = `${Date.parse('2026-11-25T10:00:00Z')}000000`;

function jsonGauge(name: string, value: number): string {
  return JSON.stringify({
    resourceMetrics: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'shop' } }] },
        scopeMetrics: [{ scope: { name: 's' }, metrics: [{ name, gauge: { dataPoints: [{ timeUnixNano: NOW_NS, asDouble: value }] } }] }],
      },
    ],
  });
}

async function post(r: Running, path: string, body: string | Buffer, headers: Record<string, string> = { 'content-type': 'application/json' }) {
  const res = await fetch(`${r.http}${path}`, { method: 'POST', body, headers });
  const text = await res.text();
  let message = text;
  try {
    message = (JSON.parse(text) as { message?: string }).message ?? text;
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, headers: res.headers, text, message };
}

/** The receiver still takes a good request and delivers it. */
async function stillServes(r: Running, tag: string): Promise<void> {
  const before = r.events.length;
  const res = await post(r, '/v1/metrics', jsonGauge(`after.${tag}`, 1));
  expect(res.status, res.text).toBe(200);
  expect(r.events.length).toBe(before + 1);
  expect(r.events.at(-1)).toMatchObject({ name: `after.${tag}` });
}

/** A real protobuf body from the official exporter, captured by a throwaway server. */
async function captureProtoBody(): Promise<Buffer> {
  let body: Buffer | undefined;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      body = Buffer.concat(chunks);
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const exporter = new MetricsProto({ url: `http://127.0.0.1:${port}/v1/metrics`, temporalityPreference: AggregationTemporalityPreference.DELTA });
  const provider = new MeterProvider({ readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })] });
  const c = provider.getMeter('m').createCounter('captured.total');
  c.add(3, { k: 'v'.repeat(40) });
  await provider.forceFlush();
  await provider.shutdown();
  await new Promise<void>((r) => server.close(() => r()));
  if (body === undefined) throw new Error('nothing captured');
  return body;
}

describe('otlp http: statuses', () => {
  it('answers an empty success body {} for JSON and an empty protobuf for protobuf', async () => {
    running = await startOtlp();
    const res = await post(running, '/v1/metrics', jsonGauge('g', 2.5));
    expect(res).toMatchObject({ status: 200, text: '{}' });
    expect(res.headers.get('content-type')).toBe('application/json');
    const body = await captureProtoBody();
    const pres = await fetch(`${running.http}/v1/metrics`, { method: 'POST', body, headers: { 'content-type': 'application/x-protobuf' } });
    expect(pres.status).toBe(200);
    expect(pres.headers.get('content-type')).toBe('application/x-protobuf');
    expect((await pres.arrayBuffer()).byteLength).toBe(0);
    expect(running.events.map((e) => e.kind === 'metric' && e.name)).toEqual(['g', 'captured.total']);
  });

  it('reports partial success with the count and the reason', async () => {
    running = await startOtlp();
    const body = JSON.stringify({
      resourceMetrics: [
        {
          scopeMetrics: [
            {
              metrics: [
                { name: 'ok', gauge: { dataPoints: [{ timeUnixNano: NOW_NS, asInt: '7' }] } },
                { name: 'bad.hist', histogram: { aggregationTemporality: 1, dataPoints: [{ timeUnixNano: NOW_NS, count: '3', bucketCounts: ['1', '2'], explicitBounds: [1, 2] }] } },
                { name: 'no.temporality', sum: { dataPoints: [{ timeUnixNano: NOW_NS, asDouble: 1 }] } },
              ],
            },
          ],
        },
      ],
    });
    const res = await post(running, '/v1/metrics', body);
    expect(res.status).toBe(200);
    const parsed = JSON.parse(res.text) as { partialSuccess: { rejectedDataPoints: string; errorMessage: string } };
    expect(parsed.partialSuccess.rejectedDataPoints).toBe('2');
    expect(parsed.partialSuccess.errorMessage).toMatch(/bad\.hist: 2 bucket counts for 2 bounds/);
    expect(running.events).toHaveLength(1);
    expect(running.events[0]).toMatchObject({ name: 'ok', value: 7, time: Date.parse('2026-11-25T10:00:00Z') });
  });

  it('400s malformed JSON, wrong JSON shapes, malformed and truncated protobuf', async () => {
    running = await startOtlp();
    const cases: [string, string | Buffer, string, RegExp][] = [
      ['json', '{"resourceMetrics": [', 'application/json', /malformed JSON metrics request: invalid JSON/],
      ['shape', '{"resourceMetrics": {"x": 1}}', 'application/json', /\$\.resourceMetrics: expected an array/],
      ['value', jsonGauge('g', 1).replace('"asDouble":1', '"asDouble":{"no":1}'), 'application/json', /asDouble: expected a number/],
      ['trace id', JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ traceId: 'zz' }] }] }] }), 'application/json', /traceId: expected 32 hex digits/],
      ['garbage', Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), 'application/x-protobuf', /malformed protobuf/],
      ['group wire type', Buffer.from([0x13, 0x0c]), 'application/x-protobuf', /unsupported wire type 3/],
    ];
    const proto = await captureProtoBody();
    for (const cut of [1, 7, Math.floor(proto.length / 2), proto.length - 1]) {
      cases.push([`truncated at ${cut}`, proto.subarray(0, cut), 'application/x-protobuf', /malformed protobuf metrics request: truncated/]);
    }
    for (const [what, body, type, message] of cases) {
      const path = what === 'trace id' ? '/v1/logs' : '/v1/metrics';
      const res = await fetch(`${running.http}${path}`, { method: 'POST', body, headers: { 'content-type': type } });
      expect(res.status, what).toBe(400);
      const buf = Buffer.from(await res.arrayBuffer());
      // google.rpc.Status: JSON for JSON requests, protobuf (code 1, message 2) for protobuf ones.
      const msg = type === 'application/json' ? (JSON.parse(buf.toString()) as { code: number; message: string }).message : buf.subarray(4).toString();
      expect(msg, what).toMatch(message);
      if (type === 'application/json') expect(JSON.parse(buf.toString())).toMatchObject({ code: 3 });
      else expect(buf.subarray(0, 2)).toEqual(Buffer.from([0x08, 0x03]));
    }
    expect(running.events).toHaveLength(0);
    await stillServes(running, 'malformed');
  });

  it('refuses a body over max_body_bytes, announced or streamed, with 413', async () => {
    running = await startOtlp({ max_body_bytes: 64 * 1024 });
    const big = jsonGauge('big', 1).replace('"name":"big"', `"name":"big","description":"${'x'.repeat(100 * 1024)}"`);
    const res = await post(running, '/v1/metrics', big);
    expect(res.status).toBe(413);
    expect(res.text).toMatch(/over the limit of 65536 bytes/);
    await stillServes(running, 'announced');

    // Chunked, no Content-Length: the limit holds while reading, and the server stops reading.
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${running!.http}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (r) => {
        r.resume();
        resolve(r.statusCode ?? 0);
      });
      req.on('error', reject);
      let sent = 0;
      const pump = (): void => {
        while (sent < 10 * 1024 * 1024) {
          sent += 16 * 1024;
          if (!req.write(Buffer.alloc(16 * 1024, 0x20))) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
    });
    expect(status).toBe(413);
    await stillServes(running, 'streamed');
  });

  it('refuses a gzip bomb with 413 without inflating it', async () => {
    running = await startOtlp({ max_body_bytes: 1024 * 1024 });
    // 256 MiB of zeros compress to about 256 KiB: small on the wire, huge when inflated.
    const bomb = gzipSync(Buffer.alloc(256 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(1024 * 1024);
    const rss = process.memoryUsage().rss;
    const res = await post(running, '/v1/metrics', bomb, { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' });
    expect(res.status).toBe(413);
    expect(res.text).toMatch(/decompressed request body is over the limit/);
    expect(process.memoryUsage().rss - rss).toBeLessThan(100 * 1024 * 1024);
    // A small gzip body is fine, and so is garbage that claims to be gzip (400, not a crash).
    expect((await post(running, '/v1/metrics', gzipSync(jsonGauge('gz', 1)), { 'content-type': 'application/json', 'content-encoding': 'gzip' })).status).toBe(200);
    const notGzip = await post(running, '/v1/metrics', Buffer.from('not gzip at all'), { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    expect(notGzip.status).toBe(400);
    expect(notGzip.text).toMatch(/not valid gzip/);
    await stillServes(running, 'bomb');
  });

  it('415s unknown content types and encodings, 405s other methods, 404s unknown paths and says traces are not taken', async () => {
    running = await startOtlp();
    const xml = await post(running, '/v1/metrics', '<x/>', { 'content-type': 'application/xml' });
    expect(xml.status).toBe(415);
    expect(xml.message).toMatch(/unsupported Content-Type "application\/xml"/);
    const br = await post(running, '/v1/metrics', 'x', { 'content-type': 'application/json', 'content-encoding': 'br' });
    expect(br.status).toBe(415);
    expect(br.message).toMatch(/unsupported Content-Encoding "br"/);
    const get = await fetch(`${running.http}/v1/metrics`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    const traces = await post(running, '/v1/traces', '{}');
    expect(traces.status).toBe(404);
    expect(traces.text).toMatch(/traces are not accepted/);
    expect((await post(running, '/v2/whatever', '{}')).status).toBe(404);
    await stillServes(running, 'types');
  });

  it('requires the bearer token when one is configured', async () => {
    running = await startOtlp({ auth_token: 's3cret' });
    const none = await post(running, '/v1/metrics', jsonGauge('g', 1));
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    expect((await post(running, '/v1/metrics', jsonGauge('g', 1), { 'content-type': 'application/json', authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await post(running, '/v1/metrics', jsonGauge('g', 1), { 'content-type': 'application/json', authorization: 'Bearer s3cret' })).status).toBe(200);
    expect(running.events).toHaveLength(1);
  });

  it('answers 503 with Retry-After when downstream rejects, and 200 again once it recovers', async () => {
    running = await startOtlp({ retry_after_s: 7 });
    running.emitHook.fail = new TidewatchError('TW_SINK_WRITE', 'disk full');
    const res = await post(running, '/v1/metrics', jsonGauge('g', 1));
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('7');
    expect(res.text).toMatch(/downstream did not accept the data: disk full/);
    running.emitHook.fail = new TidewatchError('TW_TRANSPORT_REJECTED', 'record too large');
    expect((await post(running, '/v1/metrics', jsonGauge('g', 1))).status).toBe(500);
    running.emitHook.fail = undefined;
    await stillServes(running, 'recovered');
  });

  it('answers 429 with Retry-After beyond max_in_flight, and serves again when a slot frees', async () => {
    running = await startOtlp({ max_in_flight: 2, retry_after_s: 3 });
    let release!: () => void;
    running.emitHook.wait = new Promise<void>((r) => (release = r));
    const slow = [post(running, '/v1/metrics', jsonGauge('slow1', 1)), post(running, '/v1/metrics', jsonGauge('slow2', 1))];
    await waitFor(() => running!.emitHook.entered === 2);
    const busy = await post(running, '/v1/metrics', jsonGauge('refused', 1));
    expect(busy.status).toBe(429);
    expect(busy.headers.get('retry-after')).toBe('3');
    running.emitHook.wait = undefined;
    release();
    expect((await Promise.all(slow)).map((r) => r.status)).toEqual([200, 200]);
    await stillServes(running, 'slots');
    expect(running.events.map((e) => e.kind === 'metric' && e.name)).not.toContain('refused');
  });
});

describe('otlp http: memory bound', () => {
  it('answers 429 when the decompressed bytes in flight would pass max_in_flight_bytes, one request always fits', async () => {
    running = await startOtlp({ max_in_flight_bytes: 1024 });
    let release!: () => void;
    running.emitHook.wait = new Promise<void>((r) => (release = r));
    // Alone, a request larger than the budget still goes through (it is within max_body_bytes).
    const first = post(running, '/v1/metrics', gzipSync(jsonGauge('first', 1).replace('"name":"first"', `"name":"first","description":"${'d'.repeat(2000)}"`)), {
      'content-type': 'application/json',
      'content-encoding': 'gzip',
    });
    await waitFor(() => running!.emitHook.entered === 1);
    const second = await post(running, '/v1/metrics', jsonGauge('second', 1));
    expect(second.status).toBe(429);
    expect(second.message).toMatch(/request bytes already in flight/);
    running.emitHook.wait = undefined;
    release();
    expect((await first).status).toBe(200);
    await stillServes(running, 'bytes');
  });
});

describe('otlp protobuf decoder', () => {
  it('decodes the official exporter\'s bytes and never throws anything but a decode error on any prefix or flipped byte', async () => {
    const body = await captureProtoBody();
    const full = decodeMetricsRequest(body);
    expect(full[0]?.scopes[0]?.metrics[0]?.name).toBe('captured.total');
    for (let i = 0; i < body.length; i++) {
      for (const mutated of [body.subarray(0, i), Buffer.from(body).fill(body[i]! ^ 0xff, i, i + 1)]) {
        try {
          decodeMetricsRequest(mutated);
        } catch (err) {
          expect((err as Error).name, `at byte ${i}`).toBe('WireError');
        }
      }
    }
  });
});
