/**
 * Decodes OTLP/JSON requests per the OTLP specification's JSON rules: lowerCamelCase keys (the
 * proto field names are accepted too, as protobuf's JSON mapping allows), trace and span ids as
 * hex (not base64), 64-bit integers as decimal strings or numbers, enums as integers (names are
 * accepted too), doubles as numbers or "NaN"/"Infinity"/"-Infinity", unknown keys ignored.
 * Throws WireError naming the JSON path of the first problem.
 */
import type { AttrValue, Attributes } from '../../../core/model.js';
import { WireError } from './wire.js';
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
  OSummaryPoint,
} from './types.js';
import { emptyScope, setAttr } from './types.js';

type Obj = Record<string, unknown>;

const MAX_DEPTH = 32;

export function parseJsonBody(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new WireError(`invalid JSON: ${(err as Error).message}`);
  }
}

export function metricsFromJson(body: unknown): OResourceMetrics[] {
  const root = obj(body, '$');
  return arr(field(root, 'resourceMetrics', 'resource_metrics'), '$.resourceMetrics').map((rm, i) => {
    const path = `$.resourceMetrics[${i}]`;
    const o = obj(rm, path);
    return {
      resource: resourceOf(field(o, 'resource'), `${path}.resource`),
      scopes: arr(field(o, 'scopeMetrics', 'scope_metrics'), `${path}.scopeMetrics`).map((sm, j) => {
        const sp = `${path}.scopeMetrics[${j}]`;
        const so = obj(sm, sp);
        return {
          scope: scopeOf(field(so, 'scope'), `${sp}.scope`),
          metrics: arr(field(so, 'metrics'), `${sp}.metrics`).map((m, k) => metricOf(m, `${sp}.metrics[${k}]`)),
        };
      }),
    };
  });
}

export function logsFromJson(body: unknown): OResourceLogs[] {
  const root = obj(body, '$');
  return arr(field(root, 'resourceLogs', 'resource_logs'), '$.resourceLogs').map((rl, i) => {
    const path = `$.resourceLogs[${i}]`;
    const o = obj(rl, path);
    return {
      resource: resourceOf(field(o, 'resource'), `${path}.resource`),
      scopes: arr(field(o, 'scopeLogs', 'scope_logs'), `${path}.scopeLogs`).map((sl, j) => {
        const sp = `${path}.scopeLogs[${j}]`;
        const so = obj(sl, sp);
        return {
          scope: scopeOf(field(so, 'scope'), `${sp}.scope`),
          records: arr(field(so, 'logRecords', 'log_records'), `${sp}.logRecords`).map((r, k) => logOf(r, `${sp}.logRecords[${k}]`)),
        };
      }),
    };
  });
}

function field(o: Obj, camel: string, snake?: string): unknown {
  const v = o[camel];
  return v === undefined && snake !== undefined ? o[snake] : v;
}

function obj(v: unknown, path: string): Obj {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new WireError(`${path}: expected an object`);
  return v as Obj;
}

function arr(v: unknown, path: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new WireError(`${path}: expected an array`);
  return v;
}

function str(v: unknown, path: string): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new WireError(`${path}: expected a string`);
  return v;
}

function bool(v: unknown, path: string): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw new WireError(`${path}: expected true or false`);
  return v;
}

/** int64/uint64/fixed64: a decimal string or a number. */
function int(v: unknown, path: string): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string' && /^-?\d{1,20}$/.test(v)) return Number(v);
  throw new WireError(`${path}: expected an integer (number or decimal string)`);
}

// The points of one export share their timestamps: remembering the last conversion skips most of
// them (bench/otlp.mjs, "decode + map only").
let lastNanos = '';
let lastMs = 0;

/** fixed64 nanoseconds as epoch ms, exact to the microsecond for present-day times without BigInt. */
function nanos(v: unknown, path: string): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v / 1e6;
  if (typeof v === 'string') {
    if (v === lastNanos) return lastMs;
    if (/^\d{1,20}$/.test(v)) {
      lastMs = v.length <= 6 ? Number(v) / 1e6 : Number(v.slice(0, -6)) + Number(v.slice(-6)) / 1e6;
      lastNanos = v;
      return lastMs;
    }
  }
  throw new WireError(`${path}: expected nanoseconds since the epoch (decimal string or number)`);
}

function dbl(v: unknown, path: string): number {
  if (typeof v === 'number') return v;
  if (v === 'NaN') return Number.NaN;
  if (v === 'Infinity') return Number.POSITIVE_INFINITY;
  if (v === '-Infinity') return Number.NEGATIVE_INFINITY;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  throw new WireError(`${path}: expected a number`);
}

function optDbl(v: unknown, path: string): number | undefined {
  return v === undefined || v === null ? undefined : dbl(v, path);
}

/** An enum as its integer or its name (`AGGREGATION_TEMPORALITY_DELTA`). */
function enumOf(v: unknown, names: readonly string[], path: string): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
  if (typeof v === 'string') {
    const i = names.indexOf(v);
    if (i >= 0) return i;
  }
  throw new WireError(`${path}: expected an enum value (integer${names.length > 0 ? ` or ${names[0]}…` : ''})`);
}

const TEMPORALITY = ['AGGREGATION_TEMPORALITY_UNSPECIFIED', 'AGGREGATION_TEMPORALITY_DELTA', 'AGGREGATION_TEMPORALITY_CUMULATIVE'] as const;
const SEVERITY: readonly string[] = [
  'SEVERITY_NUMBER_UNSPECIFIED',
  ...['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'].flatMap((s) => [`SEVERITY_NUMBER_${s}`, `SEVERITY_NUMBER_${s}2`, `SEVERITY_NUMBER_${s}3`, `SEVERITY_NUMBER_${s}4`]),
];

function hexId(v: unknown, bytes: number, path: string): string {
  const s = str(v, path);
  if (s === '') return '';
  if (s.length !== bytes * 2 || !/^[0-9a-fA-F]+$/.test(s)) throw new WireError(`${path}: expected ${bytes * 2} hex digits`);
  return s.toLowerCase();
}

function attributes(v: unknown, path: string, depth = 0): Attributes {
  const out: Attributes = {};
  arr(v, path).forEach((kv, i) => {
    const o = obj(kv, `${path}[${i}]`);
    setAttr(out, str(o['key'], `${path}[${i}].key`), anyValue(o['value'], `${path}[${i}].value`, depth + 1));
  });
  return out;
}

function anyValue(v: unknown, path: string, depth: number): AttrValue {
  if (depth > MAX_DEPTH) throw new WireError(`${path}: attribute values nested deeper than ${MAX_DEPTH}`);
  const o = obj(v, path);
  if ('stringValue' in o || 'string_value' in o) return str(field(o, 'stringValue', 'string_value'), `${path}.stringValue`);
  if ('boolValue' in o || 'bool_value' in o) return bool(field(o, 'boolValue', 'bool_value'), `${path}.boolValue`);
  if ('intValue' in o || 'int_value' in o) return int(field(o, 'intValue', 'int_value'), `${path}.intValue`);
  if ('doubleValue' in o || 'double_value' in o) return dbl(field(o, 'doubleValue', 'double_value'), `${path}.doubleValue`);
  if ('arrayValue' in o || 'array_value' in o) {
    const a = obj(field(o, 'arrayValue', 'array_value'), `${path}.arrayValue`);
    return arr(a['values'], `${path}.arrayValue.values`).map((x, i) => anyValue(x, `${path}.arrayValue.values[${i}]`, depth + 1));
  }
  if ('kvlistValue' in o || 'kvlist_value' in o) {
    const m = obj(field(o, 'kvlistValue', 'kvlist_value'), `${path}.kvlistValue`);
    return attributes(m['values'], `${path}.kvlistValue.values`, depth + 1);
  }
  if ('bytesValue' in o || 'bytes_value' in o) return str(field(o, 'bytesValue', 'bytes_value'), `${path}.bytesValue`);
  return null;
}

function resourceOf(v: unknown, path: string): Attributes {
  return attributes(obj(v, path)['attributes'], `${path}.attributes`);
}

function scopeOf(v: unknown, path: string): OScope {
  if (v === undefined || v === null) return emptyScope();
  const o = obj(v, path);
  return { name: str(o['name'], `${path}.name`), version: str(o['version'], `${path}.version`), attributes: attributes(o['attributes'], `${path}.attributes`) };
}

function metricOf(v: unknown, path: string): OMetric {
  const o = obj(v, path);
  const m: OMetric = {
    name: str(o['name'], `${path}.name`),
    description: str(o['description'], `${path}.description`),
    unit: str(o['unit'], `${path}.unit`),
    data: { kind: 'none' },
  };
  const kinds: [OData['kind'], unknown][] = [
    ['gauge', o['gauge']],
    ['sum', o['sum']],
    ['histogram', o['histogram']],
    ['exponential_histogram', field(o, 'exponentialHistogram', 'exponential_histogram')],
    ['summary', o['summary']],
  ];
  for (const [kind, d] of kinds) {
    if (d === undefined || d === null) continue;
    m.data = dataOf(kind, obj(d, `${path}.${kind}`), `${path}.${kind}`);
  }
  return m;
}

function dataOf(kind: OData['kind'], d: Obj, path: string): OData {
  const pts = arr(field(d, 'dataPoints', 'data_points'), `${path}.dataPoints`);
  const temporality = enumOf(field(d, 'aggregationTemporality', 'aggregation_temporality'), TEMPORALITY, `${path}.aggregationTemporality`);
  const pp = (i: number): string => `${path}.dataPoints[${i}]`;
  switch (kind) {
    case 'gauge':
      return { kind, points: pts.map((p, i) => numberPoint(obj(p, pp(i)), pp(i))) };
    case 'sum':
      return {
        kind,
        temporality,
        monotonic: bool(field(d, 'isMonotonic', 'is_monotonic'), `${path}.isMonotonic`),
        points: pts.map((p, i) => numberPoint(obj(p, pp(i)), pp(i))),
      };
    case 'histogram':
      return { kind, temporality, points: pts.map((p, i) => histogramPoint(obj(p, pp(i)), pp(i))) };
    case 'exponential_histogram':
      return { kind, temporality, points: pts.map((p, i) => expPoint(obj(p, pp(i)), pp(i))) };
    case 'summary':
      return { kind, points: pts.map((p, i) => summaryPoint(obj(p, pp(i)), pp(i))) };
    case 'none':
      return { kind };
  }
}

// Points are completed by assignment onto the object base() returns, not by spreading it: the
// spread was the largest single cost of JSON decoding (bench/otlp.mjs, "decode + map only").
function base(o: Obj, path: string): Record<string, unknown> & { attributes: Attributes; start_time: number; time: number; flags: number } {
  return {
    attributes: attributes(o['attributes'], `${path}.attributes`),
    start_time: nanos(field(o, 'startTimeUnixNano', 'start_time_unix_nano'), `${path}.startTimeUnixNano`),
    time: nanos(field(o, 'timeUnixNano', 'time_unix_nano'), `${path}.timeUnixNano`),
    flags: int(o['flags'], `${path}.flags`),
  };
}

function numberPoint(o: Obj, path: string): ONumberPoint {
  const d = field(o, 'asDouble', 'as_double');
  const i = field(o, 'asInt', 'as_int');
  const value = d !== undefined && d !== null ? dbl(d, `${path}.asDouble`) : i !== undefined && i !== null ? int(i, `${path}.asInt`) : undefined;
  const p = base(o, path);
  p['value'] = value;
  return p as unknown as ONumberPoint;
}

function numbers(v: unknown, path: string, each: (x: unknown, p: string) => number): number[] {
  return arr(v, path).map((x, i) => each(x, `${path}[${i}]`));
}

function histogramPoint(o: Obj, path: string): OHistogramPoint {
  const p = base(o, path);
  p['count'] = int(o['count'], `${path}.count`);
  p['sum'] = optDbl(o['sum'], `${path}.sum`);
  p['min'] = optDbl(o['min'], `${path}.min`);
  p['max'] = optDbl(o['max'], `${path}.max`);
  p['bounds'] = numbers(field(o, 'explicitBounds', 'explicit_bounds'), `${path}.explicitBounds`, dbl);
  p['counts'] = numbers(field(o, 'bucketCounts', 'bucket_counts'), `${path}.bucketCounts`, int);
  return p as unknown as OHistogramPoint;
}

function expBuckets(v: unknown, path: string): OExpBuckets {
  const o = obj(v, path);
  return { offset: int(o['offset'], `${path}.offset`), counts: numbers(field(o, 'bucketCounts', 'bucket_counts'), `${path}.bucketCounts`, int) };
}

function expPoint(o: Obj, path: string): OExpHistogramPoint {
  const p = base(o, path);
  p['count'] = int(o['count'], `${path}.count`);
  p['sum'] = optDbl(o['sum'], `${path}.sum`);
  p['min'] = optDbl(o['min'], `${path}.min`);
  p['max'] = optDbl(o['max'], `${path}.max`);
  p['scale'] = int(o['scale'], `${path}.scale`);
  p['zero_count'] = int(field(o, 'zeroCount', 'zero_count'), `${path}.zeroCount`);
  p['positive'] = expBuckets(o['positive'], `${path}.positive`);
  p['negative'] = expBuckets(o['negative'], `${path}.negative`);
  return p as unknown as OExpHistogramPoint;
}

function summaryPoint(o: Obj, path: string): OSummaryPoint {
  const p = base(o, path);
  p['count'] = int(o['count'], `${path}.count`);
  p['sum'] = optDbl(o['sum'], `${path}.sum`) ?? 0;
  p['quantiles'] = arr(field(o, 'quantileValues', 'quantile_values'), `${path}.quantileValues`).map((q, i) => {
      const qo = obj(q, `${path}.quantileValues[${i}]`);
      return { quantile: optDbl(qo['quantile'], `${path}.quantileValues[${i}].quantile`) ?? 0, value: optDbl(qo['value'], `${path}.quantileValues[${i}].value`) ?? 0 };
    });
  return p as unknown as OSummaryPoint;
}

function logOf(v: unknown, path: string): OLogRecord {
  const o = obj(v, path);
  return {
    time: nanos(field(o, 'timeUnixNano', 'time_unix_nano'), `${path}.timeUnixNano`),
    observed_time: nanos(field(o, 'observedTimeUnixNano', 'observed_time_unix_nano'), `${path}.observedTimeUnixNano`),
    severity_number: enumOf(field(o, 'severityNumber', 'severity_number'), SEVERITY, `${path}.severityNumber`),
    severity_text: str(field(o, 'severityText', 'severity_text'), `${path}.severityText`),
    body: o['body'] === undefined || o['body'] === null ? null : anyValue(o['body'], `${path}.body`, 1),
    attributes: attributes(o['attributes'], `${path}.attributes`),
    trace_id: hexId(field(o, 'traceId', 'trace_id'), 16, `${path}.traceId`),
    span_id: hexId(field(o, 'spanId', 'span_id'), 8, `${path}.spanId`),
    event_name: str(field(o, 'eventName', 'event_name'), `${path}.eventName`),
  };
}
