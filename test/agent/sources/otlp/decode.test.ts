/**
 * OTLP/JSON rules and the mapping to events, on hand-written requests (for what the official
 * SDKs never send: summaries, enum names, snake_case keys, int64 as strings, explicit trace ids).
 */
import { describe, expect, it } from 'vitest';
import { logsFromJson, metricsFromJson } from '../../../../agent/sources/otlp/json.js';
import { logsToEvents, metricsToEvents } from '../../../../agent/sources/otlp/map.js';
import { Reader, Writer } from '../../../../agent/sources/otlp/wire.js';

const ctx = { now: 42, agentId: 'a1' };
const T = '1795600800123456789'; // 2026-11-25T10:00:00.123456789Z

describe('OTLP/JSON', () => {
  it('maps a summary, enum names, snake_case keys and int64 strings', () => {
    const req = metricsFromJson({
      resource_metrics: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'api' } }, { key: 'tidewatch.agent.id', value: { stringValue: 'upstream' } }] },
          scope_metrics: [
            {
              scope: { name: 'lib', version: '9', attributes: [{ key: 'team', value: { stringValue: 'core' } }] },
              metrics: [
                { name: 'rpc.latency', summary: { data_points: [{ time_unix_nano: T, count: '10', sum: 5.5, quantile_values: [{ quantile: 0.5, value: 0.4 }, { quantile: 0.99, value: 'Infinity' }] }] } },
                { name: 'bytes', sum: { aggregationTemporality: 'AGGREGATION_TEMPORALITY_CUMULATIVE', isMonotonic: true, dataPoints: [{ startTimeUnixNano: '1795600000000000000', timeUnixNano: T, asInt: '9007199254740993' }] } },
                { name: 'skip.me', gauge: { dataPoints: [{ timeUnixNano: T, asDouble: 1, flags: 1 }] } },
              ],
            },
          ],
        },
      ],
    });
    const r = metricsToEvents(req, ctx);
    expect(r).toMatchObject({ rejected: 0, noValue: 1 });
    expect(r.events[0]).toEqual({
      kind: 'metric',
      name: 'rpc.latency',
      type: 'summary',
      time: 1795600800123.4568,
      attributes: { 'otel.scope.team': 'core' },
      resource: { 'service.name': 'api', 'tidewatch.agent.id': 'upstream' },
      scope: { name: 'lib', version: '9' },
      count: 10,
      sum: 5.5,
      quantiles: [
        { quantile: 0.5, value: 0.4 },
        { quantile: 0.99, value: Number.POSITIVE_INFINITY },
      ],
    });
    expect(r.events[1]).toMatchObject({ type: 'sum', temporality: 'cumulative', monotonic: true, value: 9007199254740992, start_time: 1795600000000 });
  });

  it('maps logs with hex ids, severity names, event names and every AnyValue kind', () => {
    const req = logsFromJson({
      resourceLogs: [
        {
          scopeLogs: [
            {
              logRecords: [
                {
                  timeUnixNano: T,
                  severityNumber: 'SEVERITY_NUMBER_ERROR',
                  traceId: '5B8EFFF798038103D269B633813FC60C',
                  spanId: 'EEE19B7EC3C1B174',
                  eventName: 'checkout.failed',
                  body: { kvlistValue: { values: [{ key: 'a', value: { arrayValue: { values: [{ intValue: '1' }, { boolValue: true }, { bytesValue: 'AQI=' }, { doubleValue: 2.5 }] } } }] } },
                },
                { severityNumber: 9, traceId: '00000000000000000000000000000000' },
              ],
            },
          ],
        },
      ],
    });
    const r = logsToEvents(req, ctx);
    expect(r.events[0]).toMatchObject({
      time: 1795600800123.4568,
      observed_time: 42,
      severity_number: 17,
      trace_id: '5b8efff798038103d269b633813fc60c',
      span_id: 'eee19b7ec3c1b174',
      attributes: { 'event.name': 'checkout.failed' },
      body: { a: [1, true, 'AQI=', 2.5] },
      resource: { 'tidewatch.agent.id': 'a1' },
    });
    // An all-zero trace id means "no trace", and a record without a time has none.
    expect(r.events[1]).not.toHaveProperty('trace_id');
    expect(r.events[1]).not.toHaveProperty('time');
  });

  it('rejects a log severity outside 0..24 as partial success', () => {
    const r = logsToEvents(logsFromJson({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ severityNumber: 99 }, { severityNumber: 1 }] }] }] }), ctx);
    expect(r).toMatchObject({ rejected: 1, message: 'log record severity_number 99 is outside 0..24' });
    expect(r.events).toHaveLength(1);
  });

  it('refuses values nested deeper than 32 levels', () => {
    let v: unknown = { stringValue: 'x' };
    for (let i = 0; i < 40; i++) v = { arrayValue: { values: [v] } };
    expect(() => logsFromJson({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: v }] }] }] })).toThrow(/nested deeper than 32/);
  });
});

describe('protobuf wire reader', () => {
  it('reads negative int64 varints, zigzag sint32 and whole-millisecond nanosecond times exactly', () => {
    // int64 -2 as a 10-byte varint; sint32 -3 as zigzag 5.
    const r = new Reader(Buffer.from([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x05]));
    expect(r.int64()).toBe(-2);
    expect(r.sint32()).toBe(-3);
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(1795600800123000000n);
    expect(new Reader(b).nanosAsMs()).toBe(1795600800123);
    expect(new Writer().uint(1, 300).finish()).toEqual(Buffer.from([0x08, 0xac, 0x02]));
  });
});

describe('OTLP protobuf summary (which no SDK sends, but a Collector forwarding Prometheus data does)', () => {
  it('decodes SummaryDataPoint fields by their spec numbers', async () => {
    const { decodeMetricsRequest } = await import('../../../../agent/sources/otlp/proto.js');
    const tag = (field: number, wire: number): Buffer => Buffer.from([(field << 3) | wire]);
    const f64 = (field: number, v: bigint): Buffer => {
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(v);
      return Buffer.concat([tag(field, 1), b]);
    };
    const dbl = (field: number, v: number): Buffer => {
      const b = Buffer.alloc(8);
      b.writeDoubleLE(v);
      return Buffer.concat([tag(field, 1), b]);
    };
    const msg = (field: number, body: Buffer): Buffer => Buffer.concat([tag(field, 2), Buffer.from([body.length]), body]);
    // SummaryDataPoint: time 3, count 4, sum 5, quantile_values 6 {quantile 1, value 2}, attributes 7.
    const point = Buffer.concat([
      f64(3, 1795600800000000000n),
      f64(4, 12n),
      dbl(5, 3.5),
      msg(6, Buffer.concat([dbl(1, 0.99), dbl(2, 0.7)])),
      msg(7, new Writer().string(1, 'k').bytes(2, new Writer().string(1, 'v').finish()).finish()),
    ]);
    const metric = Buffer.concat([new Writer().string(1, 'rpc.summary').finish(), msg(11, msg(1, point))]);
    const body = msg(1, msg(2, msg(2, metric)));
    const events = metricsToEvents(decodeMetricsRequest(body), ctx).events;
    expect(events).toEqual([
      { kind: 'metric', name: 'rpc.summary', type: 'summary', time: 1795600800000, attributes: { k: 'v' }, resource: { 'tidewatch.agent.id': 'a1' }, count: 12, sum: 3.5, quantiles: [{ quantile: 0.99, value: 0.7 }] },
    ]);
  });
});

describe('decoders never fail with anything but a decode error (property)', () => {
  it('random bytes as protobuf, random JSON as OTLP/JSON', async () => {
    const fc = (await import('fast-check')).default;
    const { decodeLogsRequest, decodeMetricsRequest } = await import('../../../../agent/sources/otlp/proto.js');
    const onlyWireErrors = (fn: () => unknown): void => {
      try {
        fn();
      } catch (err) {
        expect((err as Error).name).toBe('WireError');
      }
    };
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const b = Buffer.from(bytes);
        onlyWireErrors(() => metricsToEvents(decodeMetricsRequest(b), ctx));
        onlyWireErrors(() => logsToEvents(decodeLogsRequest(b), ctx));
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (v) => {
        onlyWireErrors(() => metricsToEvents(metricsFromJson({ resourceMetrics: [{ scopeMetrics: [{ metrics: [v] }] }] }), ctx));
        onlyWireErrors(() => logsToEvents(logsFromJson({ resourceLogs: [{ scopeLogs: [{ logRecords: [v] }] }] }), ctx));
        onlyWireErrors(() => metricsFromJson(v));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('attribute keys', () => {
  it('keeps a "__proto__" attribute as data, in JSON, protobuf and Prometheus labels', async () => {
    const { parseSample } = await import('../../../../agent/sources/prometheus/parse.js');
    const r = logsToEvents(logsFromJson(JSON.parse('{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"attributes":[{"key":"__proto__","value":{"stringValue":"x"}}]}]}]}]}')), ctx);
    const attrs = r.events[0]!.attributes;
    expect(Object.getPrototypeOf(attrs)).toBe(Object.prototype);
    expect(JSON.stringify(attrs)).toBe('{"__proto__":"x"}');
    expect(JSON.stringify(parseSample('m{__proto__="y"} 1', 'text').labels)).toBe('{"__proto__":"y"}');
  });
});
