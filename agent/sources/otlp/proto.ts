/**
 * Decodes OTLP protobuf requests (ExportMetricsServiceRequest, ExportLogsServiceRequest) and
 * encodes the responses, from the field numbers of opentelemetry-proto v1 (common, resource,
 * metrics, logs, collector/*). Unknown fields are skipped, as protobuf requires, so newer senders
 * still decode. Throws WireError on malformed input; the caller answers 400 / INVALID_ARGUMENT.
 */
import type { AttrValue, Attributes } from '../../../core/model.js';
import { Reader, WireError, Writer, expectWire } from './wire.js';
import type {
  OData,
  OExpBuckets,
  OExpHistogramPoint,
  OHistogramPoint,
  OLogRecord,
  OMetric,
  ONumberPoint,
  OResourceLogs,
  OResourceMetrics,
  OScope,
  OScopeLogs,
  OScopeMetrics,
  OSummaryPoint,
} from './types.js';
import { emptyScope, setAttr } from './types.js';

/** Nesting limit of AnyValue arrays and maps: a crafted deep body must not exhaust the stack. */
const MAX_DEPTH = 32;

export function decodeMetricsRequest(buf: Buffer): OResourceMetrics[] {
  const r = new Reader(buf);
  const out: OResourceMetrics[] = [];
  while (!r.done()) {
    const { field, wire } = r.tag();
    if (field === 1) {
      expectWire(wire, 2);
      out.push(resourceMetrics(r.sub()));
    } else r.skip(wire);
  }
  return out;
}

export function decodeLogsRequest(buf: Buffer): OResourceLogs[] {
  const r = new Reader(buf);
  const out: OResourceLogs[] = [];
  while (!r.done()) {
    const { field, wire } = r.tag();
    if (field === 1) {
      expectWire(wire, 2);
      out.push(resourceLogs(r.sub()));
    } else r.skip(wire);
  }
  return out;
}

function resource(r: Reader, into: Attributes): void {
  while (!r.done()) {
    const { field, wire } = r.tag();
    if (field === 1) keyValue(r, wire, into, 0);
    else r.skip(wire);
  }
}

function scope(r: Reader): OScope {
  const s = emptyScope();
  while (!r.done()) {
    const { field, wire } = r.tag();
    if (field === 1) s.name = str(r, wire);
    else if (field === 2) s.version = str(r, wire);
    else if (field === 3) keyValue(r, wire, s.attributes, 0);
    else r.skip(wire);
  }
  return s;
}

function str(r: Reader, wire: number): string {
  expectWire(wire, 2);
  return r.string();
}

function sub(r: Reader, wire: number): Reader {
  expectWire(wire, 2);
  return r.sub();
}

/** KeyValue (key = 1, value = 2) into a flat map; a later duplicate key wins. */
function keyValue(r: Reader, wire: number, into: Attributes, depth: number): void {
  const kv = sub(r, wire);
  let key = '';
  let value: AttrValue = null;
  while (!kv.done()) {
    const t = kv.tag();
    if (t.field === 1) key = str(kv, t.wire);
    else if (t.field === 2) value = anyValue(sub(kv, t.wire), depth + 1);
    else kv.skip(t.wire);
  }
  setAttr(into, key, value);
}

/** AnyValue: string 1, bool 2, int 3, double 4, array 5, kvlist 6, bytes 7 (as base64). */
function anyValue(r: Reader, depth: number): AttrValue {
  if (depth > MAX_DEPTH) throw new WireError(`attribute values nested deeper than ${MAX_DEPTH}`);
  let v: AttrValue = null;
  while (!r.done()) {
    const { field, wire } = r.tag();
    switch (field) {
      case 1:
        v = str(r, wire);
        break;
      case 2:
        expectWire(wire, 0);
        v = r.bool();
        break;
      case 3:
        expectWire(wire, 0);
        v = r.int64();
        break;
      case 4:
        expectWire(wire, 1);
        v = r.double();
        break;
      case 5: {
        const arr: AttrValue[] = [];
        const a = sub(r, wire);
        while (!a.done()) {
          const t = a.tag();
          if (t.field === 1) arr.push(anyValue(sub(a, t.wire), depth + 1));
          else a.skip(t.wire);
        }
        v = arr;
        break;
      }
      case 6: {
        const map: Attributes = {};
        const m = sub(r, wire);
        while (!m.done()) {
          const t = m.tag();
          if (t.field === 1) keyValue(m, t.wire, map, depth + 1);
          else m.skip(t.wire);
        }
        v = map;
        break;
      }
      case 7: {
        expectWire(wire, 2);
        const [s, e] = r.bytes();
        v = r.buf.toString('base64', s, e);
        break;
      }
      default:
        r.skip(wire);
    }
  }
  return v;
}

function resourceMetrics(r: Reader): OResourceMetrics {
  const out: OResourceMetrics = { resource: {}, scopes: [] };
  while (!r.done()) {
    const { field, wire } = r.tag();
    if (field === 1) resource(sub(r, wire), out.resource);
    else if (field === 2) out.scopes.push(scopeMetrics(sub(r, wire)));
    else r.skip(wire);
  }
  return out;
}

function scopeMetrics(r: Reader): OScopeMetrics {
  const out: OScopeMetrics = { scope: emptyScope(), metrics: [] };
  while (!r.done()) {
    const { field, wire } = r.tag();
    if (field === 1) out.scope = scope(sub(r, wire));
    else if (field === 2) out.metrics.push(metric(sub(r, wire)));
    else r.skip(wire);
  }
  return out;
}

function metric(r: Reader): OMetric {
  const m: OMetric = { name: '', description: '', unit: '', data: { kind: 'none' } };
  while (!r.done()) {
    const { field, wire } = r.tag();
    switch (field) {
      case 1:
        m.name = str(r, wire);
        break;
      case 2:
        m.description = str(r, wire);
        break;
      case 3:
        m.unit = str(r, wire);
        break;
      case 5:
        m.data = dataOf('gauge', sub(r, wire));
        break;
      case 7:
        m.data = dataOf('sum', sub(r, wire));
        break;
      case 9:
        m.data = dataOf('histogram', sub(r, wire));
        break;
      case 10:
        m.data = dataOf('exponential_histogram', sub(r, wire));
        break;
      case 11:
        m.data = dataOf('summary', sub(r, wire));
        break;
      default:
        r.skip(wire);
    }
  }
  return m;
}

/** Gauge, Sum, Histogram, ExponentialHistogram, Summary: data_points = 1, temporality = 2, is_monotonic = 3. */
function dataOf(kind: Exclude<OData['kind'], 'none'>, r: Reader): OData {
  let temporality = 0;
  let monotonic = false;
  const points: unknown[] = [];
  while (!r.done()) {
    const { field, wire } = r.tag();
    if (field === 1) {
      const p = sub(r, wire);
      points.push(
        kind === 'gauge' || kind === 'sum' ? numberPoint(p) : kind === 'histogram' ? histogramPoint(p) : kind === 'exponential_histogram' ? expPoint(p) : summaryPoint(p),
      );
    } else if (field === 2 && kind !== 'gauge' && kind !== 'summary') {
      expectWire(wire, 0);
      temporality = r.uint32();
    } else if (field === 3 && kind === 'sum') {
      expectWire(wire, 0);
      monotonic = r.bool();
    } else r.skip(wire);
  }
  switch (kind) {
    case 'gauge':
      return { kind, points: points as ONumberPoint[] };
    case 'sum':
      return { kind, temporality, monotonic, points: points as ONumberPoint[] };
    case 'histogram':
      return { kind, temporality, points: points as OHistogramPoint[] };
    case 'exponential_histogram':
      return { kind, temporality, points: points as OExpHistogramPoint[] };
    case 'summary':
      return { kind, points: points as OSummaryPoint[] };
  }
}

function time(r: Reader, wire: number): number {
  expectWire(wire, 1);
  return r.nanosAsMs();
}

function dbl(r: Reader, wire: number): number {
  expectWire(wire, 1);
  return r.double();
}

function f64(r: Reader, wire: number): number {
  expectWire(wire, 1);
  return r.fixed64();
}

function u32(r: Reader, wire: number): number {
  if (wire === 5) return r.fixed32();
  expectWire(wire, 0);
  return r.uint32();
}

/** NumberDataPoint: start 2, time 3, as_double 4, exemplars 5, as_int 6, attributes 7, flags 8. */
function numberPoint(r: Reader): ONumberPoint {
  const p: ONumberPoint = { attributes: {}, start_time: 0, time: 0, flags: 0, value: undefined };
  while (!r.done()) {
    const { field, wire } = r.tag();
    if (field === 2) p.start_time = time(r, wire);
    else if (field === 3) p.time = time(r, wire);
    else if (field === 4) p.value = dbl(r, wire);
    else if (field === 6) {
      expectWire(wire, 1);
      p.value = r.sfixed64();
    } else if (field === 7) keyValue(r, wire, p.attributes, 0);
    else if (field === 8) p.flags = u32(r, wire);
    else r.skip(wire);
  }
  return p;
}

/** HistogramDataPoint: start 2, time 3, count 4, sum 5, bucket_counts 6, explicit_bounds 7, attributes 9, flags 10, min 11, max 12. */
function histogramPoint(r: Reader): OHistogramPoint {
  const p: OHistogramPoint = { attributes: {}, start_time: 0, time: 0, flags: 0, count: 0, sum: undefined, min: undefined, max: undefined, bounds: [], counts: [] };
  while (!r.done()) {
    const { field, wire } = r.tag();
    switch (field) {
      case 2:
        p.start_time = time(r, wire);
        break;
      case 3:
        p.time = time(r, wire);
        break;
      case 4:
        p.count = f64(r, wire);
        break;
      case 5:
        p.sum = dbl(r, wire);
        break;
      case 6:
        r.repeatedFixed64(wire, p.counts);
        break;
      case 7:
        r.repeatedDouble(wire, p.bounds);
        break;
      case 9:
        keyValue(r, wire, p.attributes, 0);
        break;
      case 10:
        p.flags = u32(r, wire);
        break;
      case 11:
        p.min = dbl(r, wire);
        break;
      case 12:
        p.max = dbl(r, wire);
        break;
      default:
        r.skip(wire);
    }
  }
  return p;
}

/** Buckets: offset 1 (sint32), bucket_counts 2 (packed uint64). */
function expBuckets(r: Reader): OExpBuckets {
  const b: OExpBuckets = { offset: 0, counts: [] };
  while (!r.done()) {
    const { field, wire } = r.tag();
    if (field === 1) {
      expectWire(wire, 0);
      b.offset = r.sint32();
    } else if (field === 2) r.repeatedUint64(wire, b.counts);
    else r.skip(wire);
  }
  return b;
}

/**
 * ExponentialHistogramDataPoint: attributes 1, start 2, time 3, count 4, sum 5, scale 6 (sint32),
 * zero_count 7, positive 8, negative 9, flags 10, exemplars 11, min 12, max 13, zero_threshold 14.
 */
function expPoint(r: Reader): OExpHistogramPoint {
  const p: OExpHistogramPoint = {
    attributes: {}, start_time: 0, time: 0, flags: 0, count: 0, sum: undefined, min: undefined, max: undefined,
    scale: 0, zero_count: 0, positive: { offset: 0, counts: [] }, negative: { offset: 0, counts: [] },
  };
  while (!r.done()) {
    const { field, wire } = r.tag();
    switch (field) {
      case 1:
        keyValue(r, wire, p.attributes, 0);
        break;
      case 2:
        p.start_time = time(r, wire);
        break;
      case 3:
        p.time = time(r, wire);
        break;
      case 4:
        p.count = f64(r, wire);
        break;
      case 5:
        p.sum = dbl(r, wire);
        break;
      case 6:
        expectWire(wire, 0);
        p.scale = r.sint32();
        break;
      case 7:
        p.zero_count = f64(r, wire);
        break;
      case 8:
        p.positive = expBuckets(sub(r, wire));
        break;
      case 9:
        p.negative = expBuckets(sub(r, wire));
        break;
      case 10:
        p.flags = u32(r, wire);
        break;
      case 12:
        p.min = dbl(r, wire);
        break;
      case 13:
        p.max = dbl(r, wire);
        break;
      default:
        r.skip(wire);
    }
  }
  return p;
}

/** SummaryDataPoint: start 2, time 3, count 4, sum 5, quantile_values 6 (quantile 1, value 2), attributes 7, flags 8. */
function summaryPoint(r: Reader): OSummaryPoint {
  const p: OSummaryPoint = { attributes: {}, start_time: 0, time: 0, flags: 0, count: 0, sum: 0, quantiles: [] };
  while (!r.done()) {
    const { field, wire } = r.tag();
    if (field === 2) p.start_time = time(r, wire);
    else if (field === 3) p.time = time(r, wire);
    else if (field === 4) p.count = f64(r, wire);
    else if (field === 5) p.sum = dbl(r, wire);
    else if (field === 6) {
      const q = sub(r, wire);
      const v = { quantile: 0, value: 0 };
      while (!q.done()) {
        const t = q.tag();
        if (t.field === 1) v.quantile = dbl(q, t.wire);
        else if (t.field === 2) v.value = dbl(q, t.wire);
        else q.skip(t.wire);
      }
      p.quantiles.push(v);
    } else if (field === 7) keyValue(r, wire, p.attributes, 0);
    else if (field === 8) p.flags = u32(r, wire);
    else r.skip(wire);
  }
  return p;
}

function resourceLogs(r: Reader): OResourceLogs {
  const out: OResourceLogs = { resource: {}, scopes: [] };
  while (!r.done()) {
    const { field, wire } = r.tag();
    if (field === 1) resource(sub(r, wire), out.resource);
    else if (field === 2) out.scopes.push(scopeLogs(sub(r, wire)));
    else r.skip(wire);
  }
  return out;
}

function scopeLogs(r: Reader): OScopeLogs {
  const out: OScopeLogs = { scope: emptyScope(), records: [] };
  while (!r.done()) {
    const { field, wire } = r.tag();
    if (field === 1) out.scope = scope(sub(r, wire));
    else if (field === 2) out.records.push(logRecord(sub(r, wire)));
    else r.skip(wire);
  }
  return out;
}

/**
 * LogRecord: time 1, severity_number 2, severity_text 3, body 5, attributes 6, dropped 7,
 * flags 8, trace_id 9, span_id 10, observed_time 11, event_name 12.
 */
function logRecord(r: Reader): OLogRecord {
  const l: OLogRecord = { time: 0, observed_time: 0, severity_number: 0, severity_text: '', body: null, attributes: {}, trace_id: '', span_id: '', event_name: '' };
  while (!r.done()) {
    const { field, wire } = r.tag();
    switch (field) {
      case 1:
        l.time = time(r, wire);
        break;
      case 2:
        expectWire(wire, 0);
        l.severity_number = r.uint32();
        break;
      case 3:
        l.severity_text = str(r, wire);
        break;
      case 5:
        l.body = anyValue(sub(r, wire), 1);
        break;
      case 6:
        keyValue(r, wire, l.attributes, 0);
        break;
      case 9:
        l.trace_id = hexBytes(r, wire);
        break;
      case 10:
        l.span_id = hexBytes(r, wire);
        break;
      case 11:
        l.observed_time = time(r, wire);
        break;
      case 12:
        l.event_name = str(r, wire);
        break;
      default:
        r.skip(wire);
    }
  }
  return l;
}

function hexBytes(r: Reader, wire: number): string {
  expectWire(wire, 2);
  const [s, e] = r.bytes();
  return r.buf.toString('hex', s, e);
}

/**
 * Export*ServiceResponse with partial_success (field 1): rejected count (1) and message (2).
 * An empty message (all accepted) encodes to zero bytes.
 */
export function encodeExportResponse(rejected: number, message: string): Buffer {
  if (rejected === 0 && message === '') return Buffer.alloc(0);
  const partial = new Writer().uint(1, rejected).string(2, message).finish();
  return new Writer().bytes(1, partial).finish();
}

/** google.rpc.Status: code 1, message 2; the body of an OTLP/HTTP protobuf error response. */
export function encodeStatus(code: number, message: string): Buffer {
  return new Writer().uint(1, code).string(2, message).finish();
}
