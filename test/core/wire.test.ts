import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TidewatchError } from '../../core/errors.js';
import { AttrKeys } from '../../core/model.js';
import type { Attributes, LogRecord, MetricPoint } from '../../core/model.js';
import {
  decodeAlert,
  decodeHeartbeat,
  decodeLogBatch,
  decodeMessage,
  decodeMetricBatch,
  decodePattern,
  decodeRollup,
  decodeStreamState,
  encodeAlert,
  encodeHeartbeat,
  encodeLogBatch,
  encodeMetricBatch,
  encodePattern,
  encodeRollup,
  encodeStreamState,
  parseLogBatch,
  wireTypeOf,
} from '../../core/wire.js';
import type { AgentHeartbeat, AlertRecord, PatternRecord, RollupPartial, StreamState } from '../../core/wire.js';

// ------------------------------------------------------------------ arbitraries

const noNegZero = (x: number): number => (Object.is(x, -0) ? 0 : x);
/** JSON values as they come back from JSON: fc.jsonValue() may hold -0, which JSON writes as 0. */
const json = (maxDepth: number): fc.Arbitrary<unknown> => fc.jsonValue({ maxDepth }).map((v) => JSON.parse(JSON.stringify(v)) as unknown);
const finite = fc.double({ noNaN: true, noDefaultInfinity: true }).map(noNegZero);
/** Measured values: NaN and infinities included (they travel as strings). */
const measured = fc.oneof(finite, fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY));
const time = fc.integer({ min: 0, max: 4_102_444_800_000 }).chain((ms) => fc.constantFrom(ms, ms + 0.5));
const attributes: fc.Arbitrary<Attributes> = fc.dictionary(fc.string({ maxLength: 12 }), json(2) as fc.Arbitrary<Attributes[string]>, {
  maxKeys: 4,
});
const labels = fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 3 });

const resA: Attributes = { [AttrKeys.agentId]: 'a1b2', [AttrKeys.hostName]: 'web-1' };
const resB: Attributes = { [AttrKeys.agentId]: 'c3', [AttrKeys.hostName]: 'web-2', 'service.name': 'shop' };
const resource = fc.oneof(fc.constantFrom(resA, resB), attributes);

const logRecord: fc.Arbitrary<LogRecord> = fc
  .record(
    {
      time,
      observed_time: time,
      severity_number: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 24 })),
      severity_text: fc.constantFrom('', 'INFO', 'ERROR'),
      body: fc.oneof(fc.string(), json(2)),
      extra: attributes,
      resource,
      identity: fc.oneof(
        fc.record({
          stream: fc.constantFrom('1', '7', 'x'),
          generation: fc.nat(3),
          path: fc.constantFrom('/var/log/a.log', '/var/log/ü.log'),
          offset: fc.nat(),
        }),
        fc.constant(undefined),
        // A partial or mistyped identity: carried as plain attributes.
        fc.constant({ partial: true }),
      ),
      scope: fc.option(fc.record({ name: fc.string(), version: fc.string() }, { requiredKeys: ['name'] }), { nil: undefined }),
      trace_id: fc.option(fc.stringMatching(/^[0-9a-f]{32}$/), { nil: undefined }),
      span_id: fc.option(fc.stringMatching(/^[0-9a-f]{16}$/), { nil: undefined }),
    },
    { requiredKeys: ['observed_time', 'severity_number', 'severity_text', 'body', 'extra', 'resource', 'identity', 'scope', 'trace_id', 'span_id'] },
  )
  .map((g) => {
    const attrs: Attributes = { ...g.extra };
    if (g.identity !== undefined && 'stream' in g.identity) {
      attrs[AttrKeys.filePath] = g.identity.path;
      attrs[AttrKeys.streamId] = g.identity.stream;
      attrs[AttrKeys.generation] = g.identity.generation;
      attrs[AttrKeys.offset] = g.identity.offset;
    } else if (g.identity !== undefined) {
      attrs[AttrKeys.streamId] = 7;
      attrs[AttrKeys.offset] = 12;
    }
    const r: LogRecord = {
      kind: 'log',
      observed_time: g.observed_time,
      severity_number: g.severity_number,
      severity_text: g.severity_text,
      body: g.body as LogRecord['body'],
      attributes: attrs,
      resource: g.resource,
    };
    if (g.time !== undefined) r.time = g.time;
    if (g.scope !== undefined) r.scope = g.scope;
    if (g.trace_id !== undefined) r.trace_id = g.trace_id;
    if (g.span_id !== undefined) r.span_id = g.span_id;
    return r;
  });

const common = fc.record(
  {
    name: fc.string({ minLength: 1, maxLength: 20 }),
    description: fc.string(),
    unit: fc.constantFrom('ms', 's', '1'),
    time,
    start_time: time,
    attributes,
    resource,
    scope: fc.record({ name: fc.string() }),
  },
  { requiredKeys: ['name', 'time', 'attributes', 'resource'] },
);
const temporality = fc.constantFrom('delta' as const, 'cumulative' as const);
const counts = fc.array(fc.nat(1000), { maxLength: 5 });
const metricPoint: fc.Arbitrary<MetricPoint> = fc.oneof(
  fc.tuple(common, measured).map(([c, value]): MetricPoint => ({ kind: 'metric', ...c, type: 'gauge', value })),
  fc.tuple(common, temporality, fc.boolean(), measured).map(([c, t, monotonic, value]): MetricPoint => ({ kind: 'metric', ...c, type: 'sum', temporality: t, monotonic, value })),
  fc.tuple(common, temporality, fc.array(finite, { maxLength: 4 }), fc.nat(), measured, finite, finite).map(([c, t, bounds, count, sum, min, max]): MetricPoint => ({
    kind: 'metric',
    ...c,
    type: 'histogram',
    temporality: t,
    count,
    sum,
    min,
    max,
    bucket_bounds: [...bounds].sort((a, b) => a - b),
    bucket_counts: [...bounds.map((_, i) => i), 0],
  })),
  fc.tuple(common, temporality, fc.integer({ min: -10, max: 20 }), fc.nat(), fc.integer({ min: -5, max: 5 }), counts, counts).map(
    ([c, t, scale, zero, off, pos, neg]): MetricPoint => ({
      kind: 'metric',
      ...c,
      type: 'exponential_histogram',
      temporality: t,
      count: zero + pos.reduce((a, b) => a + b, 0) + neg.reduce((a, b) => a + b, 0),
      scale,
      zero_count: zero,
      positive: { offset: off, bucket_counts: pos },
      negative: { offset: noNegZero(-off), bucket_counts: neg },
    }),
  ),
  fc.tuple(common, fc.nat(), measured, fc.array(fc.record({ quantile: fc.double({ min: 0, max: 1, noNaN: true }).map(noNegZero), value: measured }), { maxLength: 3 })).map(
    ([c, count, sum, quantiles]): MetricPoint => ({ kind: 'metric', ...c, type: 'summary', count, sum, quantiles }),
  ),
);

const rollup: fc.Arbitrary<RollupPartial> = fc.record(
  {
    series_id: fc.string({ minLength: 1 }),
    name: fc.string({ minLength: 1 }),
    labels,
    window_start: time,
    window_ms: fc.integer({ min: 1, max: 3_600_000 }),
    count: fc.nat(),
    sum: measured,
    min: measured,
    max: measured,
    last: measured,
    sketch: fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b).toString('base64')),
    final: fc.boolean(),
    source_instance: fc.string(),
  },
  { requiredKeys: ['series_id', 'name', 'labels', 'window_start', 'window_ms', 'count', 'sum', 'min', 'max', 'last', 'final', 'source_instance'] },
);
const alert: fc.Arbitrary<AlertRecord> = fc.record(
  {
    alert_id: fc.string({ minLength: 1 }),
    rule: fc.string({ minLength: 1 }),
    state: fc.constantFrom('firing' as const, 'resolved' as const),
    severity: fc.constantFrom('info' as const, 'warning' as const, 'critical' as const),
    series_id: fc.string(),
    labels,
    started_at: time,
    time,
    resolved_at: time,
    value: measured,
    score: fc.double({ min: 0, max: 1, noNaN: true }).map(noNegZero),
    summary: fc.string(),
  },
  { requiredKeys: ['alert_id', 'rule', 'state', 'severity', 'labels', 'started_at', 'time', 'value', 'summary'] },
);
const pattern: fc.Arbitrary<PatternRecord> = fc.record(
  {
    pattern_id: fc.string({ minLength: 1 }),
    template: fc.string(),
    count: fc.nat(),
    first_seen: time,
    last_seen: time,
    sample: fc.string(),
    labels,
  },
  { requiredKeys: ['pattern_id', 'template', 'count', 'first_seen', 'last_seen', 'labels'] },
);
const heartbeat: fc.Arbitrary<AgentHeartbeat> = fc.record({
  agent_id: fc.string({ minLength: 1 }),
  host: fc.string(),
  version: fc.constantFrom('0.1.0', '1.2.3'),
  started_at: time,
  time,
  interval_ms: fc.integer({ min: 1, max: 60_000 }),
  streams: fc.nat(),
  stopping: fc.boolean(),
});
const streamState: fc.Arbitrary<StreamState> = fc.record({ agent_id: fc.string(), stream_id: fc.string(), generation: fc.nat(), offset: fc.nat() });

type AttrValueLike = number | string;

// ------------------------------------------------------------------ helpers

/** Groups by (resource, stream) in arrival order: what the wire promises to keep. */
function byStream(records: readonly LogRecord[]): Map<string, LogRecord[]> {
  const m = new Map<string, LogRecord[]>();
  for (const r of records) {
    const a = r.attributes;
    const k = JSON.stringify([r.resource, a[AttrKeys.streamId], a[AttrKeys.generation], a[AttrKeys.filePath]]);
    let list = m.get(k);
    if (list === undefined) m.set(k, (list = []));
    list.push(r);
  }
  return m;
}

function roundTripLogs(records: LogRecord[], maxBytes?: number): LogRecord[] {
  const msgs = encodeLogBatch(records, maxBytes === undefined ? {} : { maxBytes });
  return msgs.flatMap((m) => decodeMessage({ headers: m.headers ?? {}, value: m.value }) as { records: LogRecord[] }).flatMap((d) => d.records);
}

function decodesOrTyped(fn: () => unknown): unknown {
  try {
    return fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TidewatchError);
    expect(['TW_WIRE_DECODE', 'TW_WIRE_VERSION']).toContain((err as TidewatchError).code);
    return undefined;
  }
}

const decoders: Record<string, (b: Buffer) => unknown> = {
  logs: decodeLogBatch,
  metrics: decodeMetricBatch,
  rollups: decodeRollup,
  alerts: decodeAlert,
  patterns: decodePattern,
  agents: decodeHeartbeat,
  state: decodeStreamState,
};

// ------------------------------------------------------------------ tests

describe('wire v1: log batches', () => {
  it('encodes one stream\'s lines as DESIGN.md\'s line identity, keyed by agent and stream', () => {
    const resource = { [AttrKeys.agentId]: 'a1b2', [AttrKeys.hostName]: 'web-1' };
    const line = (offset: number, body: string): LogRecord => ({
      kind: 'log',
      observed_time: 1_764_064_800_130,
      severity_number: 0,
      severity_text: '',
      body,
      attributes: { [AttrKeys.filePath]: '/var/log/app/a.log', [AttrKeys.streamId]: '7', [AttrKeys.generation]: 0, [AttrKeys.offset]: offset },
      resource,
    });
    const msgs = encodeLogBatch([line(0, 'GET /cart 200'), line(14, 'GET / 200')]);
    expect(msgs).toHaveLength(1);
    expect(msgs[0]!.key).toBe('a1b2/7');
    expect(msgs[0]!.headers).toEqual({ 'tw-wire': '1', 'tw-type': 'logs' });
    expect(JSON.parse(msgs[0]!.value.toString())).toEqual({
      agent_id: 'a1b2',
      host: 'web-1',
      stream_id: '7',
      generation: 0,
      path: '/var/log/app/a.log',
      resource,
      lines: [
        { offset: 0, observed_time: 1_764_064_800_130, body: 'GET /cart 200' },
        { offset: 14, observed_time: 1_764_064_800_130, body: 'GET / 200' },
      ],
    });
    expect(decodeLogBatch(msgs[0]!.value)).toEqual([line(0, 'GET /cart 200'), line(14, 'GET / 200')]);
  });

  it('round-trips any LogRecords, keeping the order within each stream', () => {
    fc.assert(
      fc.property(fc.array(logRecord, { maxLength: 30 }), (records) => {
        expect(byStream(roundTripLogs(records))).toEqual(byStream(records));
      }),
      { numRuns: 300 },
    );
  });

  // The line writer writes fields straight into the batch's buffer; its bytes must stay those of
  // JSON.stringify over the line in field order (what the encoder wrote before, and what every
  // reader of the logs topic parses), for any text: quotes, control characters, non-ASCII, lone
  // surrogates, and any number (large, fractional, negative).
  it('writes each line as JSON.stringify of its fields would, byte for byte', () => {
    const surrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
    const text = fc.oneof(
      fc.string({ unit: fc.oneof(fc.constantFrom('a', '"', '\\', '\t', '\r', '\u0000', '\u001f', '\u007f', 'é', '€', '😀'), surrogate), maxLength: 20 }),
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.string({ maxLength: 200 }),
    );
    const number = fc.oneof(fc.nat(), fc.maxSafeNat(), fc.integer({ min: 999_999_990, max: 1_000_000_010 }), fc.constantFrom(1e9, 2 ** 31, 2 ** 53 - 1, -1, -0, 0.5, 1e21, 1.5e-7), time);
    const rec = fc.record({ body: fc.oneof(text, json(2)), observed: fc.oneof(number, fc.constant(Number.NaN)), offset: number, base: logRecord }).map(({ body, observed, offset, base }) => {
      const r: LogRecord = { ...base, body: body as LogRecord['body'], observed_time: observed, attributes: { ...base.attributes } };
      if (base.attributes[AttrKeys.streamId] === '7' || base.attributes[AttrKeys.streamId] === '1' || base.attributes[AttrKeys.streamId] === 'x') r.attributes[AttrKeys.offset] = offset;
      return r;
    });
    fc.assert(
      fc.property(rec, (r) => {
        const msgs = encodeLogBatch([r]);
        expect(msgs).toHaveLength(1);
        const a = r.attributes;
        const off = a[AttrKeys.offset];
        const streamed = typeof a[AttrKeys.streamId] === 'string' && typeof a[AttrKeys.filePath] === 'string' && Number.isSafeInteger(a[AttrKeys.generation]) && (a[AttrKeys.generation] as number) >= 0 && Number.isSafeInteger(off) && (off as number) >= 0;
        const line: Record<string, unknown> = {};
        if (streamed) line['offset'] = off;
        line['observed_time'] = Number.isFinite(r.observed_time) ? r.observed_time : 0;
        if (r.time !== undefined && Number.isFinite(r.time)) line['time'] = r.time;
        if (r.severity_number !== 0) line['severity_number'] = r.severity_number;
        if (r.severity_text !== '') line['severity_text'] = r.severity_text;
        line['body'] = r.body;
        const rest = Object.fromEntries(Object.entries(a).filter(([k]) => !streamed || ![AttrKeys.offset, AttrKeys.streamId, AttrKeys.generation, AttrKeys.filePath].includes(k as never)));
        if (Object.keys(rest).length > 0) line['attributes'] = rest;
        if (r.scope !== undefined) line['scope'] = r.scope;
        if (r.trace_id !== undefined) line['trace_id'] = r.trace_id;
        if (r.span_id !== undefined) line['span_id'] = r.span_id;
        const head = JSON.stringify({
          agent_id: typeof r.resource[AttrKeys.agentId] === 'string' ? r.resource[AttrKeys.agentId] : '',
          host: typeof r.resource[AttrKeys.hostName] === 'string' ? r.resource[AttrKeys.hostName] : '',
          ...(streamed ? { stream_id: a[AttrKeys.streamId], generation: a[AttrKeys.generation], path: a[AttrKeys.filePath] } : {}),
          resource: r.resource,
        });
        expect(msgs[0]!.value.toString()).toBe(`${head.slice(0, -1)},"lines":[${JSON.stringify(line)}]}`);
      }),
      { numRuns: 2000 },
    );
  });

  it('splits a stream into messages under maxBytes (counted in bytes), losing nothing', () => {
    fc.assert(
      fc.property(fc.array(logRecord, { minLength: 1, maxLength: 40 }), fc.integer({ min: 200, max: 3000 }), (records, maxBytes) => {
        const msgs = encodeLogBatch(records, { maxBytes });
        for (const m of msgs) {
          const lines = parseLogBatch(m.value).lines.length;
          if (lines > 1) expect(m.value.length).toBeLessThanOrEqual(maxBytes);
        }
        expect(byStream(roundTripLogs(records, maxBytes))).toEqual(byStream(records));
      }),
      { numRuns: 100 },
    );
  });

  it('never lets one record with a NaN time make its batch undecodable', () => {
    const ok: LogRecord = { kind: 'log', time: 5, observed_time: 6, severity_number: 0, severity_text: '', body: 'ok', attributes: {}, resource: {} };
    const bad: LogRecord = { ...ok, time: Number.NaN, observed_time: Number.NaN, body: 'bad' };
    const back = encodeLogBatch([ok, bad]).flatMap((m) => decodeLogBatch(m.value));
    expect(back).toEqual([ok, { ...ok, time: undefined, observed_time: 0, body: 'bad' }].map((r) => JSON.parse(JSON.stringify(r)) as LogRecord));
  });

  it('keeps an attribute named __proto__ as data', () => {
    const attributes = JSON.parse('{"__proto__": {"polluted": true}, "k": 1}') as Attributes;
    const r: LogRecord = { kind: 'log', observed_time: 1, severity_number: 0, severity_text: '', body: 'x', attributes, resource: {} };
    const back = decodeLogBatch(encodeLogBatch([r])[0]!.value);
    expect(Object.getPrototypeOf(back[0]!.attributes)).toBe(Object.prototype);
    expect(Object.keys(back[0]!.attributes).sort()).toEqual(['__proto__', 'k']);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('carries records without a stream (OTLP logs) without inventing offsets', () => {
    const r: LogRecord = { kind: 'log', observed_time: 5, severity_number: 9, severity_text: 'INFO', body: { msg: 'hi' }, attributes: { k: 'v' }, resource: { 'service.name': 'shop' } };
    const [m] = encodeLogBatch([r]);
    const batch = parseLogBatch(m!.value);
    expect(batch.stream_id).toBeUndefined();
    expect(batch.lines[0]!.offset).toBeUndefined();
    expect(m!.key).toBe('/');
    expect(decodeLogBatch(m!.value)).toEqual([r]);
  });
  it('keeps a record with a broken identity out of its stream\'s batch, even between two lines of that stream', () => {
    // Regression (encoder's same-stream-as-the-last-record shortcut): a record that shares the
    // stream id, generation and path but has no valid offset travels without a stream.
    const resource = { [AttrKeys.agentId]: 'a1', [AttrKeys.hostName]: 'h' };
    const rec = (offset: AttrValueLike, body: string): LogRecord => ({
      kind: 'log',
      observed_time: 1,
      severity_number: 0,
      severity_text: '',
      body,
      attributes: { [AttrKeys.filePath]: '/p', [AttrKeys.streamId]: 's', [AttrKeys.generation]: 0, [AttrKeys.offset]: offset },
      resource,
    });
    const records = [rec(0, 'a'), rec(-1, 'broken'), rec(2, 'b'), rec('x', 'broken too'), rec(4, 'c')];
    const msgs = encodeLogBatch(records);
    expect(msgs.map((m) => m.key).sort()).toEqual(['a1/', 'a1/s']);
    const stream = parseLogBatch(msgs.find((m) => m.key === 'a1/s')!.value);
    expect(stream.lines.map((l) => [l.offset, l.body])).toEqual([[0, 'a'], [2, 'b'], [4, 'c']]);
    const loose = decodeLogBatch(msgs.find((m) => m.key === 'a1/')!.value);
    expect(loose.map((r) => [r.body, r.attributes[AttrKeys.offset]])).toEqual([['broken', -1], ['broken too', 'x']]);
  });

  it('splits batches exactly at maxBytes, multi-byte text included', () => {
    const resource = { [AttrKeys.agentId]: 'a1', [AttrKeys.hostName]: 'h' };
    const records: LogRecord[] = [];
    for (let i = 0; i < 500; i++) {
      records.push({
        kind: 'log',
        observed_time: i,
        severity_number: 0,
        severity_text: '',
        body: i % 3 === 0 ? 'é日本'.repeat(i % 40) : `line ${i}`,
        attributes: { [AttrKeys.filePath]: '/p', [AttrKeys.streamId]: 's', [AttrKeys.generation]: 0, [AttrKeys.offset]: i * 10 },
        resource,
      });
    }
    const maxBytes = 4000;
    const msgs = encodeLogBatch(records, { maxBytes });
    expect(msgs.length).toBeGreaterThan(3);
    for (let i = 0; i < msgs.length; i++) {
      const m = msgs[i]!;
      expect(m.value.length).toBeLessThanOrEqual(maxBytes);
      // Full: the next message's first line would not have fitted (one comma more).
      const next = msgs[i + 1];
      if (next !== undefined) {
        const first = parseLogBatch(next.value).lines[0]!;
        const firstJson = JSON.stringify({ offset: first.offset, observed_time: first.observed_time, body: first.body });
        expect(m.value.length + 1 + Buffer.byteLength(firstJson)).toBeGreaterThan(maxBytes);
      }
    }
    expect(msgs.flatMap((m) => decodeLogBatch(m.value))).toEqual(records);
  });
});

describe('wire v1: metrics and one-record messages', () => {
  it('splits one resource\'s points into messages under maxBytes, in order, losing nothing', () => {
    fc.assert(
      fc.property(fc.array(metricPoint, { minLength: 1, maxLength: 40 }), fc.integer({ min: 300, max: 3000 }), (points, maxBytes) => {
        const resource: Attributes = { [AttrKeys.agentId]: 'a1', 'service.name': 'shop' };
        const same = points.map((p) => ({ ...p, resource }));
        const msgs = encodeMetricBatch(same, { maxBytes });
        for (const m of msgs) {
          expect(m.key).toBe('a1');
          if (decodeMetricBatch(m.value).length > 1) expect(m.value.length).toBeLessThanOrEqual(maxBytes);
        }
        expect(msgs.flatMap((m) => decodeMetricBatch(m.value))).toEqual(same.map((p) => decodeMetricBatch(encodeMetricBatch([p])[0]!.value)[0]));
      }),
      { numRuns: 100 },
    );
  });

  it('round-trips metric points of every type, NaN and infinities included', () => {
    fc.assert(
      fc.property(fc.array(metricPoint, { maxLength: 20 }), (points) => {
        const msgs = encodeMetricBatch(points);
        const back = msgs.flatMap((m) => (decodeMessage({ headers: m.headers ?? {}, value: m.value }) as { records: MetricPoint[] }).records);
        const key = (p: MetricPoint): string => JSON.stringify(p.resource);
        const group = (ps: MetricPoint[]): Map<string, MetricPoint[]> => {
          const g = new Map<string, MetricPoint[]>();
          for (const p of ps) g.set(key(p), [...(g.get(key(p)) ?? []), p]);
          return g;
        };
        expect(group(back)).toEqual(group(points));
      }),
      { numRuns: 300 },
    );
  });

  it.each([
    ['rollups', rollup, encodeRollup, decodeRollup],
    ['alerts', alert, encodeAlert, decodeAlert],
    ['patterns', pattern, encodePattern, decodePattern],
    ['agents', heartbeat, encodeHeartbeat, decodeHeartbeat],
    ['state', streamState, encodeStreamState, decodeStreamState],
  ] as const)('round-trips %s records', (type, arb, encode, decode) => {
    fc.assert(
      fc.property(arb as fc.Arbitrary<never>, (rec) => {
        const m = (encode as (r: unknown) => { value: Buffer; headers?: Record<string, string>; key?: string | Buffer })(rec);
        expect(m.headers).toEqual({ 'tw-wire': '1', 'tw-type': type });
        expect((decode as (b: Buffer) => unknown)(m.value)).toEqual(rec);
        const d = decodeMessage({ headers: m.headers ?? {}, value: m.value });
        expect(d.type).toBe(type);
        expect('record' in d && d.record).toEqual(rec);
      }),
      { numRuns: 200 },
    );
  });

  it('keys one-record messages for compaction', () => {
    expect(encodeRollup({ series_id: 's1', name: 'n', labels: {}, window_start: 0, window_ms: 1000, count: 1, sum: 1, min: 1, max: 1, last: 1, final: true, source_instance: 'c1' }).key).toBe('s1');
    expect(encodeStreamState({ agent_id: 'a', stream_id: '7', generation: 2, offset: 10 }).key).toBe('a/7/2');
  });
});

describe('wire v1: headers', () => {
  it('rejects other versions with TW_WIRE_VERSION, and missing or unknown headers with TW_WIRE_DECODE', () => {
    expect(wireTypeOf({ 'tw-wire': '1', 'tw-type': 'alerts' })).toBe('alerts');
    expect(() => wireTypeOf({ 'tw-wire': '2', 'tw-type': 'logs' })).toThrow(expect.objectContaining({ code: 'TW_WIRE_VERSION' }));
    expect(() => wireTypeOf({})).toThrow(expect.objectContaining({ code: 'TW_WIRE_DECODE' }));
    expect(() => wireTypeOf({ 'tw-wire': '1', 'tw-type': 'events' })).toThrow(expect.objectContaining({ code: 'TW_WIRE_DECODE' }));
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom('tw-wire', 'tw-type', 'x'), fc.string()), fc.uint8Array(), (headers, bytes) => {
        decodesOrTyped(() => decodeMessage({ headers, value: Buffer.from(bytes) }));
      }),
    );
  });
});

describe('wire v1: garbage yields a typed error, never a crash', () => {
  it('random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.constantFrom(...Object.keys(decoders)), (bytes, type) => {
        decodesOrTyped(() => decoders[type]!(Buffer.from(bytes)));
      }),
      { numRuns: 1000 },
    );
  });

  it('random JSON', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.constantFrom(...Object.keys(decoders)), (json, type) => {
        decodesOrTyped(() => decoders[type]!(Buffer.from(JSON.stringify(json) ?? 'null')));
      }),
      { numRuns: 1000 },
    );
  });

  it('invalid UTF-8 is rejected, not mangled', () => {
    const bad = Buffer.concat([Buffer.from('{"template":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
    expect(() => decodePattern(bad)).toThrow(expect.objectContaining({ code: 'TW_WIRE_DECODE' }));
  });

  /** Mutations of a valid record's JSON tree: delete, replace or add a field, at any depth. */
  const mutate = (root: unknown, picks: number[], replacement: unknown, op: number): unknown => {
    const copy = structuredClone(root);
    let node: unknown = copy;
    for (const p of picks) {
      if (typeof node !== 'object' || node === null) break;
      const keys = Object.keys(node);
      if (keys.length === 0) break;
      const k = keys[p % keys.length]!;
      const child = (node as Record<string, unknown>)[k];
      if (typeof child !== 'object' || child === null || p % 3 === 0) {
        const obj = node as Record<string, unknown>;
        if (op === 0 && !Array.isArray(node)) delete obj[k];
        else if (op === 1) obj[k] = replacement;
        else obj[`${k}_x`] = replacement;
        return copy;
      }
      node = child;
    }
    return replacement;
  };

  const validMessages = fc.oneof(
    fc.array(logRecord, { minLength: 1, maxLength: 5 }).map((r) => encodeLogBatch(r)[0]!),
    fc.array(metricPoint, { minLength: 1, maxLength: 5 }).map((p) => encodeMetricBatch(p)[0]!),
    rollup.map(encodeRollup),
    alert.map(encodeAlert),
    pattern.map(encodePattern),
    heartbeat.map(encodeHeartbeat),
    streamState.map(encodeStreamState),
  );

  it('mutated valid records: a typed error, or a record that re-encodes to itself', () => {
    fc.assert(
      fc.property(
        validMessages,
        fc.array(fc.nat(), { minLength: 1, maxLength: 5 }),
        fc.oneof(fc.jsonValue({ maxDepth: 1 }), fc.constantFrom(-1, 1.5, '', 'NaN', null, 2 ** 60, -0)),
        fc.nat(2),
        (msg, picks, replacement, op) => {
          const headers = msg.headers ?? {};
          const tree: unknown = JSON.parse(msg.value.toString());
          const value = Buffer.from(JSON.stringify(mutate(tree, picks, replacement, op)) ?? 'null');
          const d = decodesOrTyped(() => decodeMessage({ headers, value })) as ReturnType<typeof decodeMessage> | undefined;
          if (d === undefined) return;
          // What decodes is well-formed: encoding it again and decoding gives the same records.
          if (d.type === 'logs') expect(byStream(roundTripLogs(d.records))).toEqual(byStream(d.records));
          else if (d.type === 'metrics') expect(encodeMetricBatch(d.records).flatMap((m) => decodeMetricBatch(m.value))).toEqual(d.records);
          else expect(decodeMessage(reencode(d))).toEqual(d);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('truncated and bit-flipped valid messages', () => {
    fc.assert(
      fc.property(validMessages, fc.nat(), fc.nat(255), (msg, at, byte) => {
        const headers = msg.headers ?? {};
        const cut = msg.value.subarray(0, at % (msg.value.length + 1));
        decodesOrTyped(() => decodeMessage({ headers, value: cut }));
        const flipped = Buffer.from(msg.value);
        flipped[at % flipped.length] = byte;
        decodesOrTyped(() => decodeMessage({ headers, value: flipped }));
      }),
      { numRuns: 1000 },
    );
  });
});

function reencode(d: ReturnType<typeof decodeMessage>): { headers: Record<string, string>; value: Buffer } {
  const m =
    d.type === 'rollups'
      ? encodeRollup(d.record)
      : d.type === 'alerts'
        ? encodeAlert(d.record)
        : d.type === 'patterns'
          ? encodePattern(d.record)
          : d.type === 'agents'
            ? encodeHeartbeat(d.record)
            : d.type === 'state'
              ? encodeStreamState(d.record)
              : undefined;
  if (m === undefined) throw new Error('batch types are re-encoded by the caller');
  return { headers: m.headers ?? {}, value: m.value };
}
