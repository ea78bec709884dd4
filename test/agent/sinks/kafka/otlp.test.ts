import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { encodeOtlpLogs, encodeOtlpMetrics } from '../../../../agent/sinks/kafka/otlp.js';
import { decodeLogsRequest, decodeMetricsRequest } from '../../../../agent/sources/otlp/proto.js';
import { logsToEvents, metricsToEvents } from '../../../../agent/sources/otlp/map.js';
import type { LogRecord, MetricPoint } from '../../../../core/model.js';
import { lines } from '../../../collector/kafka-support.js';

// The opentelemetry-proto messages involved (collector/logs/v1, logs/v1, common/v1, resource/v1),
// parsed by protobufjs: an independent reader of what we write.
const PROTO = `
syntax = "proto3";
package opentelemetry.proto;
message AnyValue { oneof value { string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4; ArrayValue array_value = 5; KeyValueList kvlist_value = 6; bytes bytes_value = 7; } }
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
message KeyValue { string key = 1; AnyValue value = 2; }
message InstrumentationScope { string name = 1; string version = 2; }
message Resource { repeated KeyValue attributes = 1; }
message LogRecord { fixed64 time_unix_nano = 1; int32 severity_number = 2; string severity_text = 3; AnyValue body = 5; repeated KeyValue attributes = 6; bytes trace_id = 9; bytes span_id = 10; fixed64 observed_time_unix_nano = 11; }
message ScopeLogs { InstrumentationScope scope = 1; repeated LogRecord log_records = 2; }
message ResourceLogs { Resource resource = 1; repeated ScopeLogs scope_logs = 2; }
message ExportLogsServiceRequest { repeated ResourceLogs resource_logs = 1; }
`;

describe('otlp_proto encoding of logs', () => {
  const recs: LogRecord[] = lines('ag', 's7', 2, 100, 5, 1764064800123);
  recs[1]!.time = 1764064800100.5;
  recs[2]!.attributes['http.status'] = 503;
  recs[2]!.attributes['nested'] = { a: [1, 'x', true] };
  recs[3]!.trace_id = '0af7651916cd43dd8448eb211c80319c';
  recs[3]!.span_id = 'b7ad6b7169203331';
  recs[4]!.body = 'ünïcode ✓';

  it('is read back by the OTLP receiver mapping with the line identity as attributes', () => {
    const msgs = encodeOtlpLogs(recs, 900_000);
    expect(msgs).toHaveLength(1);
    expect(msgs[0]!.key).toBe('ag/s7');
    const back = logsToEvents(decodeLogsRequest(msgs[0]!.value), { now: 0, agentId: 'other' }).events as LogRecord[];
    expect(back).toHaveLength(5);
    back.forEach((r, i) => {
      expect(r.body).toBe(recs[i]!.body);
      expect(r.attributes['tidewatch.stream_id']).toBe('s7');
      expect(r.attributes['tidewatch.generation']).toBe(2);
      expect(r.attributes['tidewatch.offset']).toBe(100 + i * 10);
      expect(r.resource['tidewatch.agent.id']).toBe('ag');
      expect(r.observed_time).toBeCloseTo(1764064800123, 3);
      expect(r.severity_number).toBe(9);
    });
    expect(back[1]!.time).toBeCloseTo(1764064800100.5, 3);
    expect(back[2]!.attributes['http.status']).toBe(503);
    expect(back[2]!.attributes['nested']).toEqual({ a: [1, 'x', true] });
    expect(back[3]!.trace_id).toBe('0af7651916cd43dd8448eb211c80319c');
  });

  it('is valid ExportLogsServiceRequest protobuf for an independent decoder', () => {
    const root = protobuf.parse(PROTO, { keepCase: true }).root;
    const T = root.lookupType('opentelemetry.proto.ExportLogsServiceRequest');
    const [m] = encodeOtlpLogs(recs, 900_000);
    const req = T.toObject(T.decode(m!.value), { longs: String, bytes: String }) as {
      resource_logs: { resource: { attributes: { key: string }[] }; scope_logs: { log_records: { body: { string_value: string }; observed_time_unix_nano: string; attributes: { key: string; value: { int_value?: string } }[] }[] }[] }[];
    };
    const lr = req.resource_logs[0]!.scope_logs[0]!.log_records;
    expect(lr).toHaveLength(5);
    expect(lr[4]!.body.string_value).toBe('ünïcode ✓');
    expect(lr[0]!.observed_time_unix_nano).toBe('1764064800123000000');
    expect(lr[0]!.attributes.find((a) => a.key === 'tidewatch.offset')!.value.int_value).toBe('100');
  });

  it('splits a stream into messages under the size limit, in order', () => {
    const many = lines('ag', 's1', 0, 0, 400).map((r) => ({ ...r, body: 'z'.repeat(200) }));
    const msgs = encodeOtlpLogs(many, 20_000);
    expect(msgs.length).toBeGreaterThan(3);
    const offsets = msgs.flatMap((m) => (logsToEvents(decodeLogsRequest(m.value), { now: 0, agentId: '' }).events as LogRecord[]).map((r) => r.attributes['tidewatch.offset']));
    expect(offsets).toEqual(many.map((r) => r.attributes['tidewatch.offset']));
    for (const m of msgs) expect(m.value.length).toBeLessThan(20_000);
  });
});

describe('otlp_proto encoding of metrics', () => {
  it('round-trips every point type through the OTLP receiver mapping', () => {
    const resource = { 'service.name': 'shop', 'tidewatch.agent.id': 'ag' };
    const base = { kind: 'metric' as const, attributes: { route: '/cart' }, resource, start_time: 1764064800000, time: 1764064801000 };
    const points: MetricPoint[] = [
      { ...base, name: 'g', type: 'gauge', value: 1.5 },
      { ...base, name: 's', type: 'sum', temporality: 'cumulative', monotonic: true, value: 42, unit: 'By', description: 'bytes' },
      { ...base, name: 'h', type: 'histogram', temporality: 'delta', count: 12, sum: 3.4, min: 0.01, max: 2, bucket_bounds: [0.1, 0.5, 1], bucket_counts: [9, 2, 1, 0] },
      { ...base, name: 'e', type: 'exponential_histogram', temporality: 'delta', count: 5, sum: 10, scale: 2, zero_count: 1, positive: { offset: -3, bucket_counts: [1, 2, 1] }, negative: { offset: 0, bucket_counts: [] } },
      { ...base, name: 'q', type: 'summary', count: 3, sum: 6, quantiles: [{ quantile: 0.5, value: 2 }, { quantile: 1, value: 3 }] },
    ];
    const msgs = encodeOtlpMetrics(points, 900_000);
    expect(msgs).toHaveLength(1);
    const back = metricsToEvents(decodeMetricsRequest(msgs[0]!.value), { now: 0, agentId: 'x' }).events as MetricPoint[];
    expect(back).toHaveLength(5);
    for (const [i, p] of points.entries()) expect(back[i]).toMatchObject(p);
  });
});
