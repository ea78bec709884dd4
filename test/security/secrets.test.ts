/**
 * Secrets never appear in logs or error messages. Real processes are configured with secrets
 * (a Kafka SASL password, bearer tokens, a webhook URL with credentials and a token, `${VAR}`
 * expansions) and driven into failures: unreachable brokers and webhook endpoints, invalid
 * configs. Everything they print (stdout, stderr, status.json) is searched for every secret.
 * The wrong-password case against a real SASL broker is in secrets.kafka.test.ts.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../core/log.js';
import { clearSecrets, redactSecrets, registerConfigSecrets, registerSecret } from '../../core/secrets.js';

const BIN = fileURLToPath(new URL('../../bin/tidewatch.js', import.meta.url));

/** Distinct, greppable secrets; none is a substring of anything the program prints by itself. */
const SECRETS = {
  KAFKA_PASSWORD: 'kafka-pw-Q7vX2mZt9',
  OTLP_TOKEN: 'otlp-token-Hc4Rk8Wq1Lp0Zs6N',
  HOOK_PASSWORD: 'hook-pw-Vb3Nm5Kj',
  HOOK_TOKEN: 'hook-qtoken-Ty8Ui2Op',
  HOOK_BEARER: 'hook-bearer-Ag5Sd7Fg9Hj',
  METRICS_TOKEN: 'metrics-token-Er4Ty6Ui8Op0',
  DASHBOARD_TOKEN: 'dash-token-Zx1Cv3Bn5Mq7Wl9',
};
const LITERAL_PASSWORD = 'literal-pw-Lk9Jh7Gf';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tw-sec-secrets-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function expectNoSecret(text: string, extra: readonly string[] = []): void {
  for (const s of [...Object.values(SECRETS), LITERAL_PASSWORD, ...extra]) {
    expect(text, `secret ${s} leaked`).not.toContain(s);
    // Half a secret is a leak too (a message cut at a length, an encoding).
    expect(text, `part of ${s} leaked`).not.toContain(s.slice(Math.floor(s.length / 2)));
  }
}

interface Run {
  code: number | null;
  out: string;
}

/** Runs the CLI; `until` ends it with SIGTERM once its output matches (or after `ms`). */
function run(args: string[], opts: { until?: RegExp; ms?: number; env?: Record<string, string> } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...SECRETS, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const stopAt = (): void => void (child.exitCode === null && child.kill('SIGTERM'));
    const onData = (c: Buffer): void => {
      out += c.toString();
      if (opts.until?.test(out)) stopAt();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const t = setTimeout(stopAt, opts.ms ?? 20_000);
    const kill = setTimeout(() => child.kill('SIGKILL'), (opts.ms ?? 20_000) + 15_000);
    child.once('exit', (code) => {
      clearTimeout(t);
      clearTimeout(kill);
      resolve({ code, out });
    });
  });
}

function write(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

describe('redaction helpers (core/secrets.ts, core/log.ts)', () => {
  afterEach(() => clearSecrets());

  it('masks registered values, also JSON- and URL-escaped, and secret shapes never registered', () => {
    registerSecret('p@ss"word/1');
    const text = redactSecrets(`a p@ss"word/1 b ${JSON.stringify('p@ss"word/1')} c ${encodeURIComponent('p@ss"word/1')}`);
    expect(text).toBe('a *** b "***" c ***');
    expect(redactSecrets('GET https://bob:hunter22@example.com/x?token=abc123&page=2 Authorization: Bearer eyJhbGciOi.x.y')).toBe(
      'GET https://bob:***@example.com/x?token=***&page=2 Authorization: Bearer ***',
    );
  });

  it('registers config secrets: secret keys, header values, URL passwords and query tokens', () => {
    registerConfigSecrets({
      sinks: { k: { sasl: { username: 'svc', password: 'pw-1234567' } }, h: { url: 'https://u:urlpass99@h/x?api_key=key12345', headers: { Authorization: 'Bearer tok987654' } } },
    });
    expect(redactSecrets('pw-1234567 urlpass99 key12345 tok987654 svc')).toBe('*** *** *** *** svc');
  });

  it('the logger writes [redacted] for secret fields and masks registered values anywhere in the line', () => {
    registerSecret('in-a-message-123');
    const lines: string[] = [];
    const log = createLogger({ write: (l) => lines.push(l) });
    log.error('failed with in-a-message-123', { password: 'field-pw-456', nested: { auth_token: 'field-tok-789' }, err: new Error('cause in-a-message-123'), url: 'http://a:b1234@h/' });
    const line = lines.join('');
    expect(line).not.toMatch(/in-a-message-123|field-pw-456|field-tok-789|b1234/);
    const rec = JSON.parse(line) as Record<string, unknown>;
    expect(rec['password']).toBe('[redacted]');
    expect(rec['url']).toBe('http://a:***@h/');
  });
});

describe('real processes driven into failures print no secret', () => {
  it('agent: Kafka SASL password and OTLP/metrics tokens from ${VAR}s, brokers unreachable, then SIGTERM', async () => {
    const file = write(
      'agent-kafka.yaml',
      [
        `data_dir: ${JSON.stringify(join(dir, 'agent'))}`,
        'log: { level: debug }',
        'sources:',
        '  o: { type: otlp, http_endpoint: "127.0.0.1:0", grpc_endpoint: "", auth_token: "${OTLP_TOKEN}" }',
        '  m: { type: internal_metrics, listen: "127.0.0.1:0", auth_token: "${METRICS_TOKEN}", interval_ms: 200 }',
        'sinks:',
        '  k:',
        '    type: kafka',
        '    brokers: ["127.0.0.1:1"]',
        '    connection_timeout_ms: 200',
        '    retry_backoff_max_ms: 200',
        '    sasl: { mechanism: scram-sha-512, username: tidewatch, password: "${KAFKA_PASSWORD}" }',
        'pipelines:',
        '  p: { sources: [o, m], sinks: [k] }',
        '',
      ].join('\n'),
    );
    const r = await run(['agent', '--config', file], { until: /ECONNREFUSED[\s\S]*ECONNREFUSED[\s\S]*ECONNREFUSED/, ms: 15_000 });
    expect(r.out).toContain('ECONNREFUSED 127.0.0.1:1');
    expectNoSecret(r.out);
    const status = join(dir, 'agent', 'status.json');
    if (existsSync(status)) expectNoSecret(readFileSync(status, 'utf8'));
  });

  it('collector: a webhook URL with a password and a token, and a bearer header, against a dead endpoint', async () => {
    const file = write(
      'collector-webhook.yaml',
      [
        `data_dir: ${JSON.stringify(join(dir, 'collector'))}`,
        'sources:',
        '  self: { type: internal_metrics, listen: "", interval_ms: 200 }',
        'transforms:',
        '  rules:',
        '    type: detect_anomalies',
        '    rules: [{ name: started, kind: threshold, metric: tidewatch_process_start_time_seconds, op: ">", threshold: 0 }]',
        'sinks:',
        '  hook:',
        '    type: webhook',
        '    url: "http://alerts:${HOOK_PASSWORD}@127.0.0.1:1/hook?token=${HOOK_TOKEN}"',
        '    send: alerts',
        '    max_retries: 1',
        '    backoff_ms: 10',
        '    timeout_ms: 500',
        '    headers: { Authorization: "Bearer ${HOOK_BEARER}" }',
        'pipelines:',
        '  p: { sources: [self], transforms: [rules], sinks: [hook] }',
        '',
      ].join('\n'),
    );
    const r = await run(['collector', '--config', file], { until: /dead-lettered/, ms: 20_000 });
    expect(r.out).toContain('webhook payload dead-lettered');
    // The log still says where it tried: the host and path, without the credentials.
    expect(r.out).toContain('alerts:***@127.0.0.1:1/hook?token=***');
    expectNoSecret(r.out);
  });

  it('invalid configs: wrong types under secret keys, secrets in URLs and ${VAR}s in the wrong place', async () => {
    const bad = [
      // A number where the password string belongs: the message must not echo it.
      ['sasl-type.yaml', `sources:\n  k: { type: kafka, brokers: ["127.0.0.1:1"], group_id: g, sasl: { mechanism: plain, username: u, password: ${'9'.repeat(12)} } }\n`, '999999999999'],
      // A literal password under a misspelt mechanism: the loader reports the mechanism, not the password.
      ['sasl-mech.yaml', `sources:\n  k: { type: kafka, brokers: ["127.0.0.1:1"], group_id: g, sasl: { mechanism: scram, username: u, password: ${LITERAL_PASSWORD} } }\n`, ''],
      // A webhook URL with credentials that fails the schema (ftp): the URL is echoed, masked.
      ['hook-url.yaml', 'sinks:\n  h: { type: webhook, url: "ftp://alerts:${HOOK_PASSWORD}@example.com/x?token=${HOOK_TOKEN}" }\n', ''],
      // A secret variable expanded into a number field.
      ['var-type.yaml', 'sinks:\n  h: { type: webhook, url: "http://127.0.0.1:1/", timeout_ms: "${HOOK_BEARER}" }\n', ''],
      // A token too short for an exposed listener.
      ['short-token.yaml', `sources:\n  o: { type: otlp, http_endpoint: "0.0.0.0:0", grpc_endpoint: "", auth_token: "\${SHORT_TOKEN}" }\nsinks:\n  f: { type: file, path: ${JSON.stringify(join(tmpdir(), 'tw-never.jsonl'))} }\npipelines:\n  p: { sources: [o], sinks: [f] }\n`, 'tiny-tok'],
    ] as const;
    for (const [name, body, extra] of bad) {
      const file = write(name, `data_dir: ${JSON.stringify(join(dir, 'bad'))}\n${body}`);
      // validate checks schemas; the listener rule is checked when the agent builds its sources.
      for (const cmd of [name.startsWith('short') ? 'agent' : 'validate']) {
        const r = await run([cmd, '--config', file], { env: { SHORT_TOKEN: 'tiny-tok' } });
        expect(r.code, `${cmd} ${name}: ${r.out}`).not.toBe(0);
        expect(r.out).toMatch(/\[TW_[A-Z_]+\]/);
        expectNoSecret(r.out, extra === '' ? [] : [extra]);
      }
    }
  });

  it('dashboard: the token from the environment is not printed when the start fails', async () => {
    const file = write('dash.yaml', `data_dir: ${JSON.stringify(join(dir, 'dash'))}\nsinks:\n  k: { type: kafka, brokers: ["127.0.0.1:1"], connection_timeout_ms: 200, sasl: { mechanism: plain, username: u, password: "\${KAFKA_PASSWORD}" } }\n`);
    const r = await run(['dashboard', '--config', file, '--host', '0.0.0.0', '--port', '0'], { env: { TIDEWATCH_DASHBOARD_TOKEN: SECRETS.DASHBOARD_TOKEN }, ms: 20_000 });
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/\[TW_[A-Z_]+\]/);
    expectNoSecret(r.out);
  }, 60_000);
});
