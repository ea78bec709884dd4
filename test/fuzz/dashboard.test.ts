/**
 * Bad input against the dashboard's routes (issue 11): every query parameter with random, huge,
 * negative, NaN, fractional, repeated (array) and badly encoded values; random paths and methods;
 * random POST bodies and content types. Every answer is a 2xx with a well-formed body or a 4xx
 * whose JSON names the problem (TW_HTTP_REQUEST), never a 5xx, and the server keeps answering.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import type { SumPoint } from '../../core/model.js';
import { MemoryTelemetry } from '../../core/telemetry.js';
import { buildServer } from '../../dashboard/server.js';
import { SeriesStore } from '../../dashboard/store.js';
import { scale } from '../support/scale.js';

const RUNS = scale(300, 10_000);
const NOW = 1_795_600_800_000;

function sum(time: number, value: number, attributes: Record<string, string>): SumPoint {
  return { kind: 'metric', type: 'sum', name: 'log.records', temporality: 'delta', monotonic: true, time, start_time: time - 1000, value, attributes, resource: {} };
}

let app: FastifyInstance;
let csrf: string;
const coarse = new SeriesStore();
beforeAll(async () => {
  const store = new SeriesStore();
  for (let i = 0; i < 600; i++) {
    store.upsert(sum(NOW - i * 1000, i % 7, { severity: i % 3 === 0 ? 'error' : 'info', 'host.name': `h${i % 4}` }));
    coarse.upsert(sum(NOW - 3_600_000 - i * 60_000, i, { severity: 'info', 'host.name': 'h0' }));
  }
  // Injected streams are not closed by destroying the response stream, so the stream property
  // would reach the 100-client limit (a documented 503) at full scale: raise it for this server.
  app = buildServer({ store, coarse, telemetry: new MemoryTelemetry(), now: () => NOW, stream: { flushMs: 20, maxClients: 100_000 } });
  await app.ready();
  csrf = (JSON.parse((await app.inject({ url: '/api/v1/session' })).body) as { csrf: string }).csrf;
});
afterAll(async () => {
  await app.close();
});

/** Checks one answer: below 500, and a 4xx says what was wrong in the registry's shape. */
function judge(res: { statusCode: number; body: string; headers: Record<string, unknown> }, what: string): void {
  expect(res.statusCode, `${what} -> ${res.body.slice(0, 300)}`).toBeLessThan(500);
  if (res.statusCode >= 400) {
    const err = (JSON.parse(res.body) as { error: { code: string; message: string } }).error;
    expect(err.code, what).toBe('TW_HTTP_REQUEST');
    expect(err.message.length, what).toBeGreaterThan(2);
  }
}

const nastyValue = fc.oneof(
  fc.constantFrom(
    '', ' ', '0', '-1', '-0', '1.5', 'NaN', 'Infinity', '-Infinity', '1e309', '9007199254740993', '99999999999999999999', '0x10', '1_000',
    'now', 'now-5m', '-5m', '-999999999999d', '-0ms', 'now-', '--5m', '-5M', '-5 m', '5m', 'now+5m', '1764064800000', '%00', '%ZZ', '%', '%E0%A4%A',
    'count', 'new', '__proto__', 'constructor', 'toString', 'a,b', ',,,', 'severity,host.name', '[]', '{}', 'null',
  ),
  fc.integer().map(String),
  fc.double().map(String),
  fc.string({ maxLength: 20 }).map(encodeURIComponent),
  fc.constant('x'.repeat(5000)),
);
const paramName = fc.oneof(
  fc.constantFrom('name', 'from', 'to', 'width', 'group_by', 'match[severity]', 'match[host.name]', 'match[]', 'match[__proto__]', 'match[constructor]', 'sort', 'limit', 'after', 'severity', 'host', 'pattern', 'contains', 'token'),
  fc.string({ maxLength: 8 }).map(encodeURIComponent),
);
/** A query string: some parameters, possibly repeated (arrays), in any order. */
const queryString = fc.array(fc.tuple(paramName, nastyValue), { maxLength: 6 }).map((ps) => ps.map(([k, v]) => `${k}=${v}`).join('&'));

const GETS = ['/api/v1/query', '/api/v1/series', '/api/v1/patterns', '/api/v1/logs', '/api/v1/overview', '/api/v1/alerts', '/api/v1/agents', '/api/v1/session', '/api/v1/openapi.json', '/healthz', '/metrics', '/'];

describe('dashboard: random query parameters on every GET route', () => {
  it('answers 2xx or a named 4xx, never 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...GETS), queryString, fc.boolean(), async (path, qs, withName) => {
        const q = path === '/api/v1/query' && withName ? `name=log.records&${qs}` : qs;
        const res = await app.inject({ method: 'GET', url: `${path}?${q}` });
        judge(res, `GET ${path}?${q}`);
      }),
      { numRuns: RUNS },
    );
  });

  it('/api/v1/query: what it answers lies within [from, to], at most ~2 points per pixel', async () => {
    const time = fc.oneof(nastyValue, fc.integer({ min: NOW - 7_200_000, max: NOW + 10_000 }).map(String), fc.constantFrom('-1h', '-90m', '-10s', 'now-2h'));
    await fc.assert(
      fc.asyncProperty(time, time, fc.option(fc.integer({ min: -5, max: 20_000 }), { nil: undefined }), fc.option(fc.constantFrom('severity', 'host.name', 'severity,host.name', 'nope'), { nil: undefined }), async (from, to, width, groupBy) => {
        let url = `/api/v1/query?name=log.records&from=${from}&to=${to}`;
        if (width !== undefined) url += `&width=${width}`;
        if (groupBy !== undefined) url += `&group_by=${groupBy}`;
        const res = await app.inject({ url });
        judge(res, url);
        if (res.statusCode !== 200) return;
        const body = JSON.parse(res.body) as { from: number; to: number; series: { points: [number, number][] }[] };
        expect(body.from).toBeLessThanOrEqual(body.to);
        for (const s of body.series) {
          for (const [t, v] of s.points) {
            expect(t).toBeGreaterThanOrEqual(body.from);
            expect(t).toBeLessThanOrEqual(body.to);
            expect(Number.isFinite(v)).toBe(true);
          }
          if (width !== undefined && groupBy === undefined) expect(s.points.length).toBeLessThanOrEqual(2 * width + 2);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('regression: a path parameter over 100 characters or with a bad %-escape gets the API\'s error shape and security headers (was fastify\'s own, echoing the path)', async () => {
    for (const url of [`/api/v1/alerts/${'x'.repeat(300)}/ack`, '/api/v1/alerts/%E0%A4%A/ack']) {
      const res = await app.inject({ method: 'POST', url, headers: { 'x-tidewatch-csrf': csrf }, payload: {} });
      expect([400, 414]).toContain(res.statusCode);
      expect((JSON.parse(res.body) as { error: { code: string } }).error.code).toBe('TW_HTTP_REQUEST');
      expect(res.body).not.toContain('xxxxxxxxxx');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
    }
  });

  it('regression: a repeated parameter (an array) is refused with 400 naming it, not silently replaced by its default', async () => {
    for (const [url, param] of [
      ['/api/v1/query?name=log.records&from=-1h&from=-2h', 'from'],
      ['/api/v1/query?name=log.records&to=now&to=now', 'to'],
      ['/api/v1/query?name=log.records&width=100&width=200', 'width'],
      ['/api/v1/query?name=log.records&group_by=a&group_by=b', 'group_by'],
      ['/api/v1/query?name=log.records&match[severity]=error&match[severity]=info', 'match[severity]'],
      ['/api/v1/patterns?sort=count&sort=new', 'sort'],
      ['/api/v1/logs?severity=error&severity=info', 'severity'],
      ['/api/v1/logs?contains=a&contains=b', 'contains'],
      ['/api/v1/stream?name=log.records&name=x', 'name'],
    ] as const) {
      const res = await app.inject({ url });
      expect(res.statusCode, url).toBe(400);
      expect((JSON.parse(res.body) as { error: { message: string } }).error.message, url).toContain(param);
    }
  });
});

describe('dashboard: random paths, methods and bodies', () => {
  it('random paths (traversal, encodings, long) and methods', async () => {
    const path = fc.oneof(
      fc.constantFrom('/../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/app.js/..', '//app.js', '/api/v1/alerts/%00/ack', '/api/v1/alerts/../ack', '/api/v1/../../x', '/index.html', '/api/v1/query/', '/API/V1/QUERY', '/%', '/%C0%AE'),
      fc.string({ maxLength: 40 }).map((s) => `/${encodeURIComponent(s)}`),
      fc.constant(`/${'a'.repeat(20_000)}`),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'), path, async (method, p) => {
        const res = await app.inject({ method: method as 'GET', url: p, headers: { 'x-tidewatch-csrf': csrf } });
        expect(res.statusCode, `${method} ${p}`).toBeLessThan(500);
        if (res.statusCode === 200 && method === 'GET') expect(res.body).not.toContain('root:');
      }),
      { numRuns: RUNS },
    );
  });

  it('POST /api/v1/alerts/:id/{ack,silence} with random ids, bodies and content types', async () => {
    const body = fc.oneof(
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? 'null'),
      fc.record({ minutes: fc.oneof(fc.double(), fc.integer(), fc.string(), fc.constant(null)), by: fc.oneof(fc.string({ maxLength: 300 }), fc.integer()) }).map((v) => JSON.stringify(v)),
      fc.string({ maxLength: 100 }),
      fc.constant(`{"by":"${'x'.repeat(100_000)}"}`),
      fc.constant('{"a":'.repeat(2000)),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.constantFrom('a1', '__proto__', 'constructor', '%00', '..', 'x'.repeat(300)), fc.string({ maxLength: 10 }).map(encodeURIComponent)),
        fc.constantFrom('ack', 'silence'),
        fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1', 'multipart/form-data; boundary=x', ''),
        body,
        async (id, action, type, b) => {
          const headers: Record<string, string> = { 'x-tidewatch-csrf': csrf };
          if (type !== '') headers['content-type'] = type;
          const res = await app.inject({ method: 'POST', url: `/api/v1/alerts/${id}/${action}`, headers, payload: b });
          judge(res, `POST ${id}/${action} ${type} ${b.slice(0, 80)}`);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('the stream route refuses nothing it cannot parse with a 5xx, and ends its streams on close', async () => {
    await fc.assert(
      fc.asyncProperty(queryString, async (qs) => {
        const res = await app.inject({ method: 'GET', url: `/api/v1/stream?${qs}`, payloadAsStream: true });
        expect(res.statusCode).toBeLessThan(500);
        res.stream().destroy();
      }),
      { numRuns: scale(30, 300) },
    );
  });
});
