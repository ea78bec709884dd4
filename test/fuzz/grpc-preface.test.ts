/**
 * Connections to the OTLP/gRPC port that never become HTTP/2 (issue 11): a TCP (or TLS)
 * connection that sends nothing, garbage, or trickles half the client preface used to stay open
 * for ever, even after the server stopped, as Node's http2 server never closes such sockets.
 * Now each one is closed within read_timeout_ms (garbage at once), stop() closes the ones still
 * waiting, and the official OTLP gRPC exporter still gets through, in clear and over mutual TLS.
 */
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { credentials } from '@grpc/grpc-js';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import { LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { prefaceState } from '../../agent/sources/otlp/grpc.js';
import { startOtlp } from '../agent/sources/otlp-helpers.js';
import type { Running } from '../agent/sources/otlp-helpers.js';
import { type TestCerts, useTempCerts } from '../security/certs.js';
import { scale } from '../support/scale.js';

const READ_TIMEOUT_MS = 300;
/** Timers and a busy 2-core machine: a close counts as "in time" within this much past the limit. */
const SLACK_MS = 1000;
const PER_KIND = scale(4, 40);
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
/** An empty SETTINGS frame: length 0, type 4, flags 0, stream 0. */
const EMPTY_SETTINGS = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);

let certs: TestCerts;
useTempCerts('tw-fuzz-preface-', (c) => (certs = c));

let running: Running | undefined;
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await running?.stop();
  running = undefined;
});

/** Resolves with the ms from `start` until `s` closed, or 'HANG' if still open after `waitMs`. */
function closeTime(s: Socket, start: number, waitMs = READ_TIMEOUT_MS + 4000): Promise<number | 'HANG'> {
  sockets.push(s);
  s.on('error', () => undefined);
  s.on('data', () => undefined);
  return new Promise((resolve) => {
    if (s.destroyed) return resolve(Date.now() - start);
    const timer = setTimeout(() => resolve('HANG'), waitMs);
    s.once('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - start);
    });
  });
}

function tcp(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

/** Writes `bytes` one at a time, `gapMs` apart, while the socket stays open. */
function trickle(s: Socket, bytes: Buffer, gapMs: number): void {
  let i = 0;
  const t = setInterval(() => {
    if (s.destroyed || i >= bytes.length) return clearInterval(t);
    s.write(bytes.subarray(i, ++i));
  }, gapMs);
}

async function exportLog(exporter: OTLPLogExporter, r: Running, body: string): Promise<void> {
  const provider = new LoggerProvider({ processors: [new SimpleLogRecordProcessor({ exporter })] });
  const before = r.events.length;
  provider.getLogger('fuzz').emit({ body, severityNumber: SeverityNumber.INFO });
  await provider.forceFlush();
  await provider.shutdown();
  expect(r.events.length).toBe(before + 1);
  expect(r.events.at(-1)).toMatchObject({ kind: 'log', body });
}

describe('prefaceState', () => {
  const full = Buffer.concat([PREFACE, Buffer.from([0, 0, 12, 4, 0, 0, 0, 0, 0]), Buffer.alloc(12)]);
  it('is "more" on every proper prefix of a preface and its SETTINGS frame, "done" on all of it', () => {
    for (let n = 0; n < full.length; n++) expect(prefaceState(full.subarray(0, n))).toBe('more');
    expect(prefaceState(full)).toBe('done');
    expect(prefaceState(Buffer.concat([full, Buffer.from('more frames')]))).toBe('done');
  });
  it('is "bad" on any change to the magic, a frame that is not SETTINGS, or a SETTINGS ACK', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: PREFACE.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, delta) => {
        const b = Buffer.from(full);
        b[at] = (b[at]! + delta) & 0xff;
        expect(prefaceState(b)).toBe('bad');
      }),
      { numRuns: scale(200, 5000) },
    );
    expect(prefaceState(Buffer.concat([PREFACE, Buffer.from([0, 0, 0, 6, 0, 0, 0, 0, 0])]))).toBe('bad');
    expect(prefaceState(Buffer.concat([PREFACE, Buffer.from([0, 0, 0, 4, 1, 0, 0, 0, 0])]))).toBe('bad');
    expect(prefaceState(Buffer.concat([PREFACE, Buffer.from([0, 0xff, 0xfc, 4, 0, 0, 0, 0, 0])]))).toBe('bad');
    expect(prefaceState(Buffer.from('GET / HTTP/1.1\r\n'))).toBe('bad');
  });
});

describe('otlp grpc: connections that never become HTTP/2 are closed', () => {
  it('regression: silent, garbage, trickling and SETTINGS-less connections close within read_timeout_ms (were never), and a real exporter still gets through', async () => {
    running = await startOtlp({ read_timeout_ms: READ_TIMEOUT_MS });
    const port = running.source.ports.grpc;
    const garbage = fc.sample(
      fc.uint8Array({ minLength: 1, maxLength: 200 }).filter((b) => prefaceState(Buffer.from(b)) === 'bad'),
      PER_KIND,
    );
    const waits: Array<{ kind: string; at: Promise<number | 'HANG'> }> = [];
    for (let i = 0; i < PER_KIND; i++) {
      const start = Date.now();
      const silent = await tcp(port);
      waits.push({ kind: 'silent', at: closeTime(silent, start) });
      const half = await tcp(port);
      trickle(half, PREFACE.subarray(0, 12), 60);
      waits.push({ kind: 'trickle', at: closeTime(half, start) });
      const noSettings = await tcp(port);
      noSettings.write(PREFACE);
      waits.push({ kind: 'no-settings', at: closeTime(noSettings, start) });
      const junk = await tcp(port);
      junk.write(Buffer.from(garbage[i]!));
      waits.push({ kind: 'garbage', at: closeTime(junk, start) });
    }
    // With all of them open, a real client is served.
    await exportLog(new OTLPLogExporter({ url: running.grpc }), running, 'while-held');
    for (const w of waits) {
      const ms = await w.at;
      expect(ms, w.kind).not.toBe('HANG');
      expect(ms as number, w.kind).toBeLessThan(READ_TIMEOUT_MS + SLACK_MS);
      // The slow ones are closed by the timer, not at once: the limit is read_timeout_ms.
      if (w.kind !== 'garbage') expect(ms as number, w.kind).toBeGreaterThanOrEqual(READ_TIMEOUT_MS - 20);
    }
    // Counted where operators look: tidewatch_otlp_requests_total{protocol="grpc",signal="unknown"}.
    const counted = (status: string): number =>
      running!.telemetry.snapshot().filter((m) => m.name === 'tidewatch_otlp_requests_total' && m.labels['protocol'] === 'grpc' && m.labels['status'] === status).reduce((n, m) => n + m.value, 0);
    expect(counted('preface_timeout')).toBe(PER_KIND * 3);
    expect(counted('bad_preface')).toBe(PER_KIND);
    await exportLog(new OTLPLogExporter({ url: running.grpc }), running, 'after');
  });

  it('a client that finishes its preface in time is served even when it sent it byte by byte', async () => {
    running = await startOtlp({ read_timeout_ms: READ_TIMEOUT_MS });
    const s = await tcp(running.source.ports.grpc);
    let got = Buffer.alloc(0);
    s.on('data', (d: Buffer) => (got = Buffer.concat([got, d])));
    const closed = closeTime(s, Date.now(), READ_TIMEOUT_MS + 700);
    trickle(s, Buffer.concat([PREFACE, EMPTY_SETTINGS]), 4);
    // Past the preface the connection is grpc-js's: it answers with its own SETTINGS frame and
    // stays open past read_timeout_ms while the client keeps it.
    expect(await closed).toBe('HANG');
    expect(got.length).toBeGreaterThanOrEqual(9);
    expect(got[3]).toBe(4);
  });

  it('regression: stop() closes connections still waiting for their preface (were left open)', async () => {
    running = await startOtlp({ read_timeout_ms: 60_000 });
    const port = running.source.ports.grpc;
    const start = Date.now();
    const held = await Promise.all([tcp(port), tcp(port), tcp(port)]);
    held[1]!.write(PREFACE.subarray(0, 10));
    const closed = held.map((s) => closeTime(s, start, 5000));
    await running.stop();
    running = undefined;
    for (const c of await Promise.all(closed)) expect(c).not.toBe('HANG');
  });

  it('over mutual TLS: the exporter with a client certificate is served; a stalled handshake or a silent TLS session is closed in time', async () => {
    running = await startOtlp({
      read_timeout_ms: READ_TIMEOUT_MS,
      tls: { cert_file: certs.certFile, key_file: certs.keyFile, client_ca_file: certs.caFile },
    });
    const port = running.source.ports.grpc;
    const url = `https://127.0.0.1:${port}`;
    const creds = credentials.createSsl(Buffer.from(certs.ca), Buffer.from(certs.clientKey), Buffer.from(certs.clientCert));
    await exportLog(new OTLPLogExporter({ url, credentials: creds as never }), running, 'over-mtls');

    const start = Date.now();
    const noHandshake = closeTime(await tcp(port), start);
    const secured = await new Promise<Socket>((resolve, reject) => {
      const s = tlsConnect({ host: '127.0.0.1', port, ca: certs.ca, cert: certs.clientCert, key: certs.clientKey, ALPNProtocols: ['h2'] }, () => resolve(s));
      s.once('error', reject);
    });
    const silentTls = closeTime(secured, start);
    for (const c of [await noHandshake, await silentTls]) {
      expect(c).not.toBe('HANG');
      expect(c as number).toBeLessThan(READ_TIMEOUT_MS + SLACK_MS);
    }
    // A client without a certificate fails the handshake, and the exporter still gets through after.
    const stranger = tlsConnect({ host: '127.0.0.1', port, ca: certs.ca, ALPNProtocols: ['h2'] });
    expect(await closeTime(stranger, Date.now())).not.toBe('HANG');
    await exportLog(new OTLPLogExporter({ url, credentials: creds as never }), running, 'after-mtls');
  });
});
