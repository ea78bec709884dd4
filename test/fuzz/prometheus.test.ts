/**
 * Bad input against the Prometheus text / OpenMetrics scraper (issue 11): random and mutated
 * expositions through the parser and the mapping to points, pathological lines, and hostile
 * targets over real HTTP (a 1e9 declared length, a gzip bomb, a body that trickles or stalls).
 * The parser never throws and reports bad lines by number; the scrape fails with a message
 * within timeout_ms, reading at most max_body_bytes.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scrapeOnce } from '../../agent/sources/prometheus-scrape.js';
import { decodeEvents, encodeEvents } from '../../core/codec.js';
import { familiesToPoints } from '../../agent/sources/prometheus/map.js';
import { parseExposition, type PromFormat } from '../../agent/sources/prometheus/parse.js';
import { scale } from '../support/scale.js';

const RUNS = scale(400, 10_000);
const NOW = Date.UTC(2026, 10, 25);

const SEED = `# HELP http_requests_total Requests \\n served.
# TYPE http_requests_total counter
http_requests_total{code="200",path="/a\\"b"} 1027 1395066363000
http_requests_total_created{code="200"} 1.7e9
# TYPE latency_seconds histogram
latency_seconds_bucket{le="0.1"} 3
latency_seconds_bucket{le="+Inf"} 6
latency_seconds_sum 4.2
latency_seconds_count 6
# TYPE rpc_seconds summary
rpc_seconds{quantile="0.5"} NaN
rpc_seconds_sum -Inf
rpc_seconds_count 0x1f
# TYPE s stateset
s{s="a"} 1
# TYPE i info
i_info{v="1"} 1
{"odd.name",x="y"} 2 # {trace_id="abc"} 1 1.5
# EOF
`;

/** Expositions: random text, and the seed with bytes inserted, deleted or replaced. */
const exposition = fc.oneof(
  fc.string({ maxLength: 400 }),
  fc.string({ unit: fc.constantFrom(...'#{}",=\\ \n\r\tabc_le+Inf0.9e-TYPEHELP'.split('')), maxLength: 300 }),
  fc.tuple(fc.nat(), fc.nat(20), fc.string({ maxLength: 10 })).map(([at, del, ins]) => {
    const i = at % (SEED.length + 1);
    return SEED.slice(0, i) + ins + SEED.slice(i + del);
  }),
  fc.array(fc.constantFrom(...SEED.split('\n')), { maxLength: 30 }).map((ls) => ls.join('\n')),
);

function parseAndMap(text: string, format: PromFormat): void {
  const parsed = parseExposition(text, format);
  expect(parsed.errors.length).toBeLessThanOrEqual(10);
  expect(parsed.errorCount).toBeGreaterThanOrEqual(parsed.errors.length);
  for (const e of parsed.errors) {
    expect(e.line).toBeGreaterThanOrEqual(1);
    expect(e.message.length).toBeGreaterThan(3);
  }
  const mapped = familiesToPoints(parsed.families, { time: NOW, resource: { 'service.name': 'x' }, labels: { job: 'j' }, honorTimestamps: true });
  for (const p of mapped.points) {
    expect(p.name.length).toBeGreaterThan(0);
    expect(typeof p.time).toBe('number');
    expect(Object.getPrototypeOf(p.attributes)).toBe(Object.prototype);
    if (p.type === 'histogram') expect(p.bucket_counts.length).toBe(p.bucket_bounds.length + 1);
  }
}

describe('prometheus parser: never throws, reports bad lines', () => {
  it('random and mutated expositions in both formats', () => {
    fc.assert(
      fc.property(exposition, fc.constantFrom<PromFormat>('text', 'openmetrics'), (text, format) => parseAndMap(text, format)),
      { numRuns: RUNS },
    );
  });

  it('pathological lines stay linear: many labels, long escaped values, many families', () => {
    const n = scale(20_000, 200_000);
    const manyLabels = `m{${Array.from({ length: n }, (_, i) => `l${i}="v"`).join(',')}} 1`;
    const escaped = `m{a="${'\\\\\\"'.repeat(n * 5)}"} 1`;
    const unterminated = `m{a="${'x'.repeat(n * 10)}`;
    const families = Array.from({ length: n }, (_, i) => `# TYPE f${i} counter\nf${i}_total 1`).join('\n');
    const hashes = '#'.repeat(n * 10);
    for (const text of [manyLabels, escaped, unterminated, families, hashes, `${'{'.repeat(n)}`, `m ${'1'.repeat(n)}`]) {
      const t0 = performance.now();
      parseAndMap(text, 'text');
      // Generous for a loaded 2-core machine: linear takes well under a second per case here;
      // a quadratic parse (one slice or concat per label) would take minutes.
      expect(performance.now() - t0).toBeLessThan(30_000);
    }
  });

  it('reports a bad line with its number and keeps the good ones around it', () => {
    const parsed = parseExposition('a 1\nb{x="1} 2\nc 3\nd{__proto__="p",constructor="c"} 4\n', 'text');
    expect(parsed.errors).toEqual([{ line: 2, message: 'unterminated quoted string' }]);
    expect(parsed.families.map((f) => f.name)).toEqual(['a', 'c', 'd']);
    expect(JSON.stringify(parsed.families[2]!.samples[0]!.labels)).toBe('{"__proto__":"p","constructor":"c"}');
  });
});

describe('prometheus mapping: what a scrape yields can be shipped', () => {
  /** Expositions of every type with odd numbers where values, counts, bounds, quantiles and times go. */
  const oddNumber = fc.constantFrom('1', '0', '-1', '1.5', 'NaN', '+Inf', '-Inf', '1e308', '1e306', '9007199254740993', '0x1f', '-0', '1e-300');
  const oddExposition = fc
    .record({ type: fc.constantFrom('counter', 'gauge', 'histogram', 'summary', 'untyped', 'gaugehistogram', 'info', 'stateset'), v: fc.array(oddNumber, { minLength: 8, maxLength: 8 }), ts: fc.option(oddNumber, { nil: undefined }) })
    .map(({ type, v, ts }) => {
      const t = ts === undefined ? '' : ` ${ts}`;
      return [
        `# TYPE m ${type}`,
        `m_total ${v[0]}${t}`,
        `m_created ${v[1]}`,
        `m_bucket{le="${v[2]}"} ${v[3]}${t}`,
        `m_bucket{le="+Inf"} ${v[4]}`,
        `m_count ${v[5]}`,
        `m_sum ${v[6]}`,
        `m{quantile="${v[7]}"} ${v[0]}`,
        `m ${v[3]}${t}`,
        'ok_gauge 1',
      ].join('\n');
    });

  it('regression: odd numbers in any sample never make the encoded batch undecodable (one sample used to lose the whole scrape)', () => {
    fc.assert(
      fc.property(oddExposition, fc.constantFrom<PromFormat>('text', 'openmetrics'), fc.boolean(), (text, format, honor) => {
        const parsed = parseExposition(text, format);
        const { points } = familiesToPoints(parsed.families, { time: NOW, resource: {}, labels: {}, honorTimestamps: honor });
        const decoded = encodeEvents(points).flatMap((m) => decodeEvents({ headers: m.headers ?? {}, value: m.value }));
        expect(decoded.length).toBe(points.length);
        expect(decoded.some((p) => p.kind === 'metric' && p.name === 'ok_gauge')).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('prometheus scrape: hostile targets over HTTP', () => {
  let server: Server;
  let base: string;
  const routes: Record<string, (res: ServerResponse) => void> = {};
  const timers: NodeJS.Timeout[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      res.on('error', () => undefined);
      const route = routes[req.url ?? ''];
      if (route === undefined) return void res.writeHead(404).end();
      route(res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const t of timers) clearInterval(t);
    const closed = new Promise((r) => server.close(r));
    server.closeAllConnections();
    await closed;
  });

  const config = { timeout_ms: 1000, max_body_bytes: 64 * 1024 };
  async function scrapeError(path: string): Promise<{ message: string; ms: number }> {
    const t0 = Date.now();
    try {
      await scrapeOnce(config, new URL(base + path));
    } catch (err) {
      return { message: (err as Error).message, ms: Date.now() - t0 };
    }
    throw new Error(`scrape of ${path} succeeded`);
  }

  it('refuses a declared length of 1e9 without reading it', async () => {
    routes['/declared'] = (res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '1000000000' });
      res.write('m 1\n');
    };
    const e = await scrapeError('/declared');
    expect(e.message).toMatch(/over max_body_bytes/);
  });

  it('stops inflating a gzip bomb at max_body_bytes', async () => {
    const bomb = gzipSync(Buffer.alloc(32 * 1024 * 1024, 'm 1\n'));
    routes['/bomb'] = (res) => res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip' }).end(bomb);
    const before = process.memoryUsage().arrayBuffers;
    const e = await scrapeError('/bomb');
    expect(e.message).toMatch(/over max_body_bytes/);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * 1024 * 1024);
  });

  it('gives up on a target that trickles or stalls within timeout_ms', async () => {
    routes['/stall'] = (res) => res.writeHead(200, { 'content-type': 'text/plain' }).write('m 1\n');
    routes['/trickle'] = (res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      timers.push(setInterval(() => res.write('m 1\n'), 50));
    };
    routes['/headers'] = () => undefined;
    for (const path of ['/stall', '/trickle', '/headers']) {
      const e = await scrapeError(path);
      expect(e.ms, path).toBeLessThan(config.timeout_ms + 2000);
      expect(e.message.length).toBeGreaterThan(3);
    }
  });

  it('random bodies and content types scrape into a parse result, never a throw from the parser', async () => {
    await fc.assert(
      fc.asyncProperty(exposition, fc.constantFrom('text/plain; version=0.0.4', 'application/openmetrics-text; version=1.0.0', '', 'application/json'), async (text, type) => {
        routes['/random'] = (res) => res.writeHead(200, type === '' ? {} : { 'content-type': type }).end(text);
        const got = await scrapeOnce(config, new URL(`${base}/random`));
        parseAndMap(got.text, got.contentType?.startsWith('application/openmetrics-text') ? 'openmetrics' : 'text');
      }),
      { numRuns: scale(40, 500) },
    );
  });
});
