/**
 * Every listening port off loopback: OTLP/HTTP, OTLP/gRPC, the agent's /metrics and the dashboard.
 *
 * 1. Refused without a token: the real CLI, configured for 0.0.0.0, exits with
 *    TW_LISTEN_UNPROTECTED (dashboard: TW_USAGE, its bind is a flag) before anything listens.
 * 2. With a token and TLS, bound to 0.0.0.0 for real, inside a private network namespace
 *    (`unshare -rn`: its only interface is loopback, so nothing is exposed to the machine's
 *    network): no token → 401 / UNAUTHENTICATED, the token → 200 / OK, plain text on the TLS port
 *    fails, a client without the required client certificate (mutual TLS) fails the handshake.
 * Where user namespaces are not available, part 2 binds 127.0.0.1 instead (same auth and TLS).
 */
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type TestCerts, useTempCerts } from './certs.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin', 'tidewatch.js');
const PROBE = fileURLToPath(new URL('./fixtures/probe.mjs', import.meta.url));
const TOKEN = 'tw-test-token-0123456789abcdef';

function canUnshare(): boolean {
  try {
    execFileSync('unshare', ['-rn', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const NETNS = canUnshare();
const EXPOSED_HOST = NETNS ? '0.0.0.0' : '127.0.0.1';

let certs: TestCerts;
useTempCerts('tw-sec-listen-', (c) => (certs = c));

function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('exit', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

function config(name: string, body: string): string {
  const file = join(certs.dir, `${name}.yaml`);
  writeFileSync(file, `data_dir: ${JSON.stringify(join(certs.dir, name))}\n${body}`);
  return file;
}

const sinkAndPipeline = (sources: string): string => `sinks:\n  out: { type: file, path: ${JSON.stringify(join(certs.dir, 'out.jsonl'))} }\npipelines:\n  p: { sources: [${sources}], sinks: [out] }\n`;

interface Outcome {
  status?: number;
  code?: string;
  error?: string;
  body?: string;
}
type ProbeResult = Record<string, Outcome> & { error?: string; stderr?: string; listening?: Record<string, unknown>[]; url?: string; exitCode?: number };

/** Runs the probe (in a private network namespace when possible) and returns its results. */
function probe(spec: unknown): Promise<ProbeResult> {
  const argv = NETNS ? ['unshare', ['-rn', process.execPath, PROBE, JSON.stringify(spec)]] as const : [process.execPath, [PROBE, JSON.stringify(spec)]] as const;
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], [...argv[1]], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.once('exit', () => {
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as ProbeResult);
      } catch {
        reject(new Error(`probe printed no result; stdout: ${out}\nstderr: ${err}`));
      }
    });
  });
}

describe('a listener off loopback without a token is refused before it listens', () => {
  const cases: [string, string, string][] = [
    ['otlp http', `sources:\n  o: { type: otlp, http_endpoint: "0.0.0.0:0", grpc_endpoint: "" }\n`, 'sources.o.http_endpoint'],
    ['otlp grpc', `sources:\n  o: { type: otlp, http_endpoint: "", grpc_endpoint: "[::]:0" }\n`, 'sources.o.grpc_endpoint'],
    ['agent /metrics', `sources:\n  m: { type: internal_metrics, listen: "0.0.0.0:0" }\n`, 'sources.m.listen'],
    ['agent /metrics on a host name', `sources:\n  m: { type: internal_metrics, listen: "metrics.example.internal:0" }\n`, 'sources.m.listen'],
  ];
  it.each(cases)('%s', async (name, sources, key) => {
    const src = /^\s+(\w+):/m.exec(sources)![1]!;
    const file = config(name.replace(/\W+/g, '-'), sources + sinkAndPipeline(src));
    const r = await run(['agent', '--config', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('[TW_LISTEN_UNPROTECTED]');
    expect(r.stderr).toContain(key);
    expect(r.stderr).toContain('auth_token');
    expect(r.stderr).not.toMatch(/"msg":"[^"]*listening"/);
  });

  it('a token under 16 characters is refused too, and not echoed', async () => {
    const short = config('short', `sources:\n  o: { type: otlp, http_endpoint: "0.0.0.0:0", grpc_endpoint: "", auth_token: "abc123" }\n${sinkAndPipeline('o')}`);
    const r = await run(['agent', '--config', short]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('at least 16 characters [TW_LISTEN_UNPROTECTED]');
    expect(r.stderr).not.toContain('abc123');
  });

  it('the dashboard refuses --host 0.0.0.0 without a token (before reading its config)', async () => {
    const r = await run(['dashboard', '--config', '/nonexistent.yaml', '--host', '0.0.0.0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/needs a token .*\[TW_USAGE\]/);
  });
});

describe(`with a token and TLS, bound to ${EXPOSED_HOST}${NETNS ? ' in a private network namespace' : ''}`, () => {
  it('OTLP/HTTP and OTLP/gRPC: 401 / UNAUTHENTICATED without the token, accepted with it, TLS only', async () => {
    const file = config(
      'otlp-tls',
      `sources:\n  o:\n    type: otlp\n    http_endpoint: "${EXPOSED_HOST}:0"\n    grpc_endpoint: "${EXPOSED_HOST}:0"\n    auth_token: "\${OTLP_TOKEN}"\n    tls: { cert_file: ${JSON.stringify(certs.certFile)}, key_file: ${JSON.stringify(certs.keyFile)} }\n${sinkAndPipeline('o')}`,
    );
    const json = { 'content-type': 'application/json' };
    const tls = { ca: certs.ca };
    const grpcPath = '/opentelemetry.proto.collector.logs.v1.LogsService/Export';
    const r = await probe({
      start: { kind: 'cli', args: ['agent', '--config', file], env: { OTLP_TOKEN: TOKEN }, waitMsgs: ['otlp listening'] },
      requests: [
        { name: 'noToken', proto: 'https', port: 'http', path: '/v1/logs', method: 'POST', headers: json, body: '{}', ...tls },
        { name: 'wrongToken', proto: 'https', port: 'http', path: '/v1/logs', method: 'POST', headers: json, body: '{}', token: `${TOKEN}x`, ...tls },
        { name: 'withToken', proto: 'https', port: 'http', path: '/v1/logs', method: 'POST', headers: json, body: '{}', token: TOKEN, ...tls },
        { name: 'plainHttp', proto: 'http', port: 'http', path: '/v1/logs', method: 'POST', headers: json, body: '{}', token: TOKEN },
        { name: 'grpcNoToken', proto: 'grpcs', port: 'grpc', path: grpcPath, ...tls },
        { name: 'grpcToken', proto: 'grpcs', port: 'grpc', path: grpcPath, token: TOKEN, ...tls },
        { name: 'grpcPlain', proto: 'grpc', port: 'grpc', path: grpcPath, token: TOKEN },
      ],
    });
    expect(r.error).toBeUndefined();
    expect(r.listening?.[0]).toMatchObject({ auth: true, tls: 'on' });
    expect(String(r.listening?.[0]?.['http'])).toContain(`${EXPOSED_HOST}:`);
    expect(r['noToken']).toMatchObject({ status: 401 });
    expect(r['wrongToken']).toMatchObject({ status: 401 });
    expect(r['withToken']).toMatchObject({ status: 200 });
    // Plain HTTP to the TLS port gets no OTLP answer (Node's TLS server drops it).
    expect(r['plainHttp']?.status).not.toBe(200);
    expect(r['grpcNoToken']).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(r['grpcToken']).toMatchObject({ code: 'OK' });
    expect(r['grpcPlain']?.code).toBe('UNAVAILABLE');
    expect(r.exitCode).toBe(0);
    expect(r.stderr).not.toContain(TOKEN);
  });

  it('OTLP/HTTP with a client CA: a client without a certificate, or with one from another CA, fails the handshake', async () => {
    const file = config(
      'otlp-mtls',
      `sources:\n  o:\n    type: otlp\n    http_endpoint: "${EXPOSED_HOST}:0"\n    grpc_endpoint: "${EXPOSED_HOST}:0"\n    auth_token: ${TOKEN}\n    tls: { cert_file: ${JSON.stringify(certs.certFile)}, key_file: ${JSON.stringify(certs.keyFile)}, client_ca_file: ${JSON.stringify(certs.caFile)} }\n${sinkAndPipeline('o')}`,
    );
    const base = { proto: 'https', port: 'http', path: '/v1/logs', method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}', token: TOKEN, ca: certs.ca };
    const grpcPath = '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export';
    const r = await probe({
      start: { kind: 'cli', args: ['agent', '--config', file], waitMsgs: ['otlp listening'] },
      requests: [
        { name: 'noCert', ...base },
        { name: 'stranger', ...base, cert: certs.strangerCert, key: certs.strangerKey },
        { name: 'clientCert', ...base, cert: certs.clientCert, key: certs.clientKey },
        { name: 'grpcNoCert', proto: 'grpcs', port: 'grpc', path: grpcPath, token: TOKEN, ca: certs.ca },
        { name: 'grpcClientCert', proto: 'grpcs', port: 'grpc', path: grpcPath, token: TOKEN, ca: certs.ca, cert: certs.clientCert, key: certs.clientKey },
      ],
    });
    expect(r.error).toBeUndefined();
    expect(r.listening?.[0]).toMatchObject({ tls: 'mutual' });
    expect(r['noCert']?.status).toBeUndefined();
    expect(r['noCert']?.error).toBeDefined();
    expect(r['stranger']?.status).toBeUndefined();
    expect(r['clientCert']).toMatchObject({ status: 200 });
    expect(r['grpcNoCert']?.code).toBe('UNAVAILABLE');
    expect(r['grpcClientCert']).toMatchObject({ code: 'OK' });
  });

  it("the agent's /metrics: 401 without the token, the metrics with it, /healthz open, TLS only", async () => {
    const file = config(
      'metrics-tls',
      `sources:\n  m:\n    type: internal_metrics\n    listen: "${EXPOSED_HOST}:0"\n    auth_token: ${TOKEN}\n    tls: { cert_file: ${JSON.stringify(certs.certFile)}, key_file: ${JSON.stringify(certs.keyFile)} }\n${sinkAndPipeline('m')}`,
    );
    const base = { proto: 'https', port: 'metrics', ca: certs.ca };
    const r = await probe({
      start: { kind: 'cli', args: ['agent', '--config', file], waitMsgs: ['internal metrics listening'] },
      requests: [
        { name: 'noToken', ...base, path: '/metrics' },
        { name: 'withToken', ...base, path: '/metrics', token: TOKEN },
        { name: 'healthz', ...base, path: '/healthz' },
        { name: 'plainHttp', proto: 'http', port: 'metrics', path: '/metrics', token: TOKEN },
      ],
    });
    expect(r.error).toBeUndefined();
    expect(String(r.listening?.[0]?.['metrics'])).toMatch(/^https:\/\//);
    expect(r['noToken']).toMatchObject({ status: 401 });
    expect(r['withToken']).toMatchObject({ status: 200 });
    expect(r['withToken']?.body).toContain('tidewatch_process_start_time_seconds');
    expect(r['healthz']).toMatchObject({ status: 200 });
    expect(r['plainHttp']?.status).not.toBe(200);
  });

  it('the dashboard: 401 without the token, the API and /metrics with it, HTTPS, mutual TLS', async () => {
    const tlsOpt = { cert_file: certs.certFile, key_file: certs.keyFile };
    const base = { proto: 'https', port: 'dashboard', ca: certs.ca };
    const r = await probe({
      start: { kind: 'dashboard', options: { host: EXPOSED_HOST, port: 0, token: TOKEN, tls: tlsOpt } },
      requests: [
        { name: 'noToken', ...base, path: '/api/v1/series' },
        { name: 'withToken', ...base, path: '/api/v1/series', token: TOKEN },
        { name: 'metrics', ...base, path: '/metrics', token: TOKEN },
        { name: 'metricsNoToken', ...base, path: '/metrics' },
        { name: 'plainHttp', proto: 'http', port: 'dashboard', path: '/api/v1/series', token: TOKEN },
      ],
    });
    expect(r.error).toBeUndefined();
    expect(r.url).toMatch(/^https:\/\//);
    expect(r['noToken']).toMatchObject({ status: 401 });
    expect(r['withToken']).toMatchObject({ status: 200 });
    expect(r['metrics']).toMatchObject({ status: 200 });
    expect(r['metricsNoToken']).toMatchObject({ status: 401 });
    expect(r['plainHttp']?.status).not.toBe(200);

    const m = await probe({
      start: { kind: 'dashboard', options: { host: EXPOSED_HOST, port: 0, token: TOKEN, tls: { ...tlsOpt, client_ca_file: certs.caFile } } },
      requests: [
        { name: 'noCert', ...base, path: '/api/v1/series', token: TOKEN },
        { name: 'clientCert', ...base, path: '/api/v1/series', token: TOKEN, cert: certs.clientCert, key: certs.clientKey },
      ],
    });
    expect(m.error).toBeUndefined();
    expect(m['noCert']?.status).toBeUndefined();
    expect(m['clientCert']).toMatchObject({ status: 200 });
  });
});
