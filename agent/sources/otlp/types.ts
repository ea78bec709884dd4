/**
 * The OTLP request subset both decoders (protobuf and JSON) produce, close to the wire messages
 * so that one mapping (map.ts) serves both. Times are already epoch ms (0 = not set), attribute
 * lists are already flat maps, ids are lowercase hex ('' = not set).
 */
import type { AttrValue, Attributes } from '../../../core/model.js';

export interface OScope {
  name: string;
  version: string;
  attributes: Attributes;
}

/** AggregationTemporality: 0 unspecified, 1 delta, 2 cumulative. */
export type OTemporality = number;

/** DataPointFlags.FLAG_NO_RECORDED_VALUE: the point marks a gap (a stale series), it has no value. */
export const FLAG_NO_RECORDED_VALUE = 1;

interface OPointBase {
  attributes: Attributes;
  start_time: number;
  time: number;
  flags: number;
}

export interface ONumberPoint extends OPointBase {
  /** undefined when neither as_double nor as_int was set. */
  value: number | undefined;
}

export interface OHistogramPoint extends OPointBase {
  count: number;
  sum: number | undefined;
  min: number | undefined;
  max: number | undefined;
  bounds: number[];
  counts: number[];
}

export interface OExpBuckets {
  offset: number;
  counts: number[];
}

export interface OExpHistogramPoint extends OPointBase {
  count: number;
  sum: number | undefined;
  min: number | undefined;
  max: number | undefined;
  scale: number;
  zero_count: number;
  positive: OExpBuckets;
  negative: OExpBuckets;
}

export interface OSummaryPoint extends OPointBase {
  count: number;
  sum: number;
  quantiles: { quantile: number; value: number }[];
}

export type OData =
  | { kind: 'gauge'; points: ONumberPoint[] }
  | { kind: 'sum'; temporality: OTemporality; monotonic: boolean; points: ONumberPoint[] }
  | { kind: 'histogram'; temporality: OTemporality; points: OHistogramPoint[] }
  | { kind: 'exponential_histogram'; temporality: OTemporality; points: OExpHistogramPoint[] }
  | { kind: 'summary'; points: OSummaryPoint[] }
  | { kind: 'none' };

export interface OMetric {
  name: string;
  description: string;
  unit: string;
  data: OData;
}

export interface OScopeMetrics {
  scope: OScope;
  metrics: OMetric[];
}

export interface OResourceMetrics {
  resource: Attributes;
  scopes: OScopeMetrics[];
}

export interface OLogRecord {
  time: number;
  observed_time: number;
  severity_number: number;
  severity_text: string;
  body: AttrValue;
  attributes: Attributes;
  trace_id: string;
  span_id: string;
  event_name: string;
}

export interface OScopeLogs {
  scope: OScope;
  records: OLogRecord[];
}

export interface OResourceLogs {
  resource: Attributes;
  scopes: OScopeLogs[];
}

export function emptyScope(): OScope {
  return { name: '', version: '', attributes: {} };
}

/**
 * Sets a key on an attribute map as an own, enumerable property, even when the key is
 * `__proto__` (a plain assignment would replace the map's prototype and lose the attribute).
 */
export function setAttr<T>(into: Record<string, T>, key: string, value: T): void {
  if (key === '__proto__') Object.defineProperty(into, key, { value, enumerable: true, writable: true, configurable: true });
  else into[key] = value;
}
