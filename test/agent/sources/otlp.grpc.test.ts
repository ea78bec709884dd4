/**
 * OTLP/gRPC bad input and backpressure, with a raw @grpc/grpc-js client (the official exporters
 * are exercised in otlp.exporters.test.ts): each refusal gets its gRPC status and the server
 * keeps serving.
 */
import { connect as http2Connect } from 'node:http2';
import { connect as tcpConnect } from 'node:net';
import type { Socket } from 'node:net';
import { Client, Metadata, credentials, status } from '@grpc/grpc-js';
import type { ServiceError } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { TidewatchError } from '../../../core/errors.js';
import { Reader, Writer } from '../../../agent/sources/otlp/wire.js';
import { startOtlp, waitFor } from './otlp-helpers.js';
import type { Running } from './otlp-helpers.js';

let running: Running | undefined;
let client: Client | undefined;
afterEach(async () => {
  client?.close();
  client = undefined;
  await running?.stop();
  running = undefined;
});

/** ExportMetricsServiceRequest with one gauge point, built field by field from the OTLP spec. */
function gaugeRequest(name: string, padding = ''): Buffer {
  const w = (f: (x: Writer) => Writer): Buffer => f(new Writer()).finish();
  const timeNs = Buffer.alloc(8);
  timeNs.writeBigUInt64LE(BigInt(Date.parse('2026-11-25T10:00:00Z')) * 1_000_000n);
  const value = Buffer.alloc(8);
  value.writeDoubleLE(4.5);
  // NumberDataPoint: time_unix_nano 3 (fixed64), as_double 4 (double): raw tags 0x19 and 0x21.
  const point = Buffer.concat([Buffer.from([0x19]), timeNs, Buffer.from([0x21]), value]);
  const gauge = w((x) => x.bytes(1, point));
  const metric = w((x) => x.string(1, name).string(2, padding).bytes(5, gauge));
  const scopeMetrics = w((x) => x.bytes(2, metric));
  const resourceMetrics = w((x) => x.bytes(2, scopeMetrics));
  return w((x) => x.bytes(1, resourceMetrics));
}

function call(c: Client, path: string, body: Buffer, md = new Metadata()): Promise<{ err: ServiceError | null; res: Buffer | undefined }> {
  return new Promise((resolve) => {
    c.makeUnaryRequest(path, (b: Buffer) => b, (b: Buffer) => b, body, md, { deadline: Date.now() + 10_000 }, (err, res) => resolve({ err, res }));
  });
}

const METRICS = '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export';

describe('otlp grpc: statuses', () => {
  it('takes a hand-built request, then refuses malformed ones with INVALID_ARGUMENT and keeps serving', async () => {
    running = await startOtlp();
    client = new Client(`127.0.0.1:${running.source.ports.grpc}`, credentials.createInsecure());
    const ok = await call(client, METRICS, gaugeRequest('hand.built'));
    expect(ok.err).toBeNull();
    expect(ok.res?.length).toBe(0);
    expect(running.events[0]).toMatchObject({ name: 'hand.built', type: 'gauge', value: 4.5, time: Date.parse('2026-11-25T10:00:00Z') });
    const bad = await call(client, METRICS, Buffer.from([0x0a, 0xff, 0x01]));
    expect(bad.err?.code).toBe(status.INVALID_ARGUMENT);
    expect(bad.err?.details).toMatch(/malformed protobuf metrics request: truncated/);
    expect((await call(client, METRICS, gaugeRequest('after.bad'))).err).toBeNull();
    expect(running.events).toHaveLength(2);
    // A metric without a name: OK with partial_success { rejected_data_points: 1, error_message }.
    const partial = await call(client, METRICS, gaugeRequest(''));
    expect(partial.err).toBeNull();
    const outer = new Reader(partial.res!);
    expect(outer.tag()).toEqual({ field: 1, wire: 2 });
    const inner = outer.sub();
    expect(inner.tag()).toEqual({ field: 1, wire: 0 });
    expect(inner.int64()).toBe(1);
    expect(inner.tag()).toEqual({ field: 2, wire: 2 });
    expect(inner.string()).toBe('metric without a name');
    expect(running.events).toHaveLength(2);
  });

  it('refuses messages over max_body_bytes, compressed or not, with RESOURCE_EXHAUSTED', async () => {
    running = await startOtlp({ max_body_bytes: 64 * 1024 });
    client = new Client(`127.0.0.1:${running.source.ports.grpc}`, credentials.createInsecure());
    const big = await call(client, METRICS, gaugeRequest('big', 'x'.repeat(100 * 1024)));
    expect(big.err?.code).toBe(status.RESOURCE_EXHAUSTED);
    // gzip on the wire: 8 MiB of padding compresses to a few KiB, and must still be refused.
    const gz = new Client(`127.0.0.1:${running.source.ports.grpc}`, credentials.createInsecure(), { 'grpc.default_compression_algorithm': 2 });
    const bomb = await call(gz, METRICS, gaugeRequest('bomb', '\u0000'.repeat(8 * 1024 * 1024)));
    gz.close();
    expect(bomb.err?.code).toBe(status.RESOURCE_EXHAUSTED);
    expect((await call(client, METRICS, gaugeRequest('after.big'))).err).toBeNull();
    expect(running.events.map((e) => e.kind === 'metric' && e.name)).toEqual(['after.big']);
  });

  it('says traces are not taken (UNIMPLEMENTED), checks the token, and maps downstream failure to UNAVAILABLE', async () => {
    running = await startOtlp({ auth_token: 'tok' });
    client = new Client(`127.0.0.1:${running.source.ports.grpc}`, credentials.createInsecure());
    const md = new Metadata();
    md.set('authorization', 'Bearer tok');
    const traces = await call(client, '/opentelemetry.proto.collector.trace.v1.TraceService/Export', Buffer.alloc(0), md);
    expect(traces.err?.code).toBe(status.UNIMPLEMENTED);
    expect(traces.err?.details).toMatch(/traces are not accepted/);
    expect((await call(client, METRICS, gaugeRequest('x'))).err?.code).toBe(status.UNAUTHENTICATED);
    running.emitHook.fail = new TidewatchError('TW_SINK_WRITE', 'disk full');
    const down = await call(client, METRICS, gaugeRequest('x'), md);
    expect(down.err?.code).toBe(status.UNAVAILABLE);
    running.emitHook.fail = undefined;
    expect((await call(client, METRICS, gaugeRequest('after.down'), md)).err).toBeNull();
    expect(running.events).toHaveLength(1);
  });

  it('answers UNAVAILABLE beyond max_in_flight (HTTP and gRPC share the slots), then serves again', async () => {
    running = await startOtlp({ max_in_flight: 1 });
    client = new Client(`127.0.0.1:${running.source.ports.grpc}`, credentials.createInsecure());
    let release!: () => void;
    running.emitHook.wait = new Promise<void>((r) => (release = r));
    const slow = fetch(`${running.http}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: gaugeRequest('slow') });
    await waitFor(() => running!.emitHook.entered === 1);
    const busy = await call(client, METRICS, gaugeRequest('refused'));
    expect(busy.err?.code).toBe(status.UNAVAILABLE);
    expect(busy.err?.details).toMatch(/too many requests in flight/);
    running.emitHook.wait = undefined;
    release();
    expect((await slow).status).toBe(200);
    expect((await call(client, METRICS, gaugeRequest('after'))).err).toBeNull();
    expect(running.events.map((e) => e.kind === 'metric' && e.name)).toEqual(['slow', 'after']);
  });
});

describe('otlp grpc: connections', () => {
  it('a connection beyond max_connections is refused and counted; the others keep serving', async () => {
    running = await startOtlp({ max_connections: 2, http_endpoint: '' });
    const url = new URL(running.grpc);
    const open = (): Promise<Socket> =>
      new Promise((resolve, reject) => {
        const s = tcpConnect({ host: url.hostname, port: Number(url.port) }, () => resolve(s));
        s.once('error', reject);
      });
    const first = await open();
    const second = await open();
    const third = await open();
    const closed = await new Promise<boolean>((resolve) => {
      third.once('close', () => resolve(true));
      setTimeout(() => resolve(false), 3000);
    });
    expect(closed).toBe(true);
    const refused = running.telemetry.snapshot().find((m) => m.name === 'tidewatch_otlp_requests_total' && m.labels['status'] === 'too_many_connections');
    expect(refused?.value).toBe(1);
    first.destroy();
    second.destroy();
    // Once those are gone, a client is served again.
    await new Promise((r) => setTimeout(r, 200));
    client = new Client(url.host, credentials.createInsecure());
    const { err } = await call(client, METRICS, gaugeRequest('after'));
    expect(err).toBeNull();
  });

  it('a connection with no call for grpc_idle_timeout_ms is closed (GOAWAY)', async () => {
    running = await startOtlp({ grpc_idle_timeout_ms: 500, http_endpoint: '' });
    const session = http2Connect(running.grpc);
    session.on('error', () => undefined);
    const t0 = Date.now();
    const ended = await new Promise<string>((resolve) => {
      session.once('goaway', () => resolve('goaway'));
      session.once('close', () => resolve('close'));
      setTimeout(() => resolve('still open'), 5000);
    });
    session.destroy();
    expect(ended).not.toBe('still open');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(400);
  });
});
