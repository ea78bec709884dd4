/**
 * The event model, aligned with the OpenTelemetry logs and metrics data models.
 *
 * Times are Unix epoch milliseconds as a JS number (fractional parts allowed: a double keeps
 * sub-microsecond precision for present-day epochs, which is all OTLP senders give in practice).
 * Attribute maps are flat, with dotted keys (`log.file.path`), as the OpenTelemetry semantic
 * conventions name them. Records are plain data: no methods, safe to JSON-encode and to share
 * between stages (a stage that wants to change a record copies it first).
 */

export type AttrValue = string | number | boolean | null | AttrValue[] | { [key: string]: AttrValue };
export type Attributes = Record<string, AttrValue>;

export interface Scope {
  name: string;
  version?: string;
}

/** OpenTelemetry SeverityNumber ranges: TRACE 1-4, DEBUG 5-8, INFO 9-12, WARN 13-16, ERROR 17-20, FATAL 21-24. */
export const Severity = {
  UNSPECIFIED: 0,
  TRACE: 1,
  DEBUG: 5,
  INFO: 9,
  WARN: 13,
  ERROR: 17,
  FATAL: 21,
} as const;

export interface LogRecord {
  kind: 'log';
  /** Event time (when it happened), epoch ms; undefined when the source did not say. */
  time?: number;
  /** When tidewatch first saw it, epoch ms. */
  observed_time: number;
  severity_number: number;
  severity_text: string;
  body: AttrValue;
  attributes: Attributes;
  resource: Attributes;
  scope?: Scope;
  trace_id?: string;
  span_id?: string;
}

export type Temporality = 'delta' | 'cumulative';
export type MetricType = 'gauge' | 'sum' | 'histogram' | 'exponential_histogram' | 'summary';

interface MetricBase {
  kind: 'metric';
  name: string;
  description?: string;
  unit?: string;
  /** End of the point's interval (or the sample time of a gauge), epoch ms. */
  time: number;
  /** Start of the interval for sums and histograms, epoch ms. */
  start_time?: number;
  attributes: Attributes;
  resource: Attributes;
  scope?: Scope;
}

export interface GaugePoint extends MetricBase {
  type: 'gauge';
  value: number;
}

export interface SumPoint extends MetricBase {
  type: 'sum';
  temporality: Temporality;
  monotonic: boolean;
  value: number;
}

export interface HistogramPoint extends MetricBase {
  type: 'histogram';
  temporality: Temporality;
  count: number;
  sum?: number;
  min?: number;
  max?: number;
  /** Upper bounds, ascending; bucket_counts has one more entry (the +Inf bucket). */
  bucket_bounds: number[];
  bucket_counts: number[];
}

export interface ExpBuckets {
  offset: number;
  bucket_counts: number[];
}

export interface ExponentialHistogramPoint extends MetricBase {
  type: 'exponential_histogram';
  temporality: Temporality;
  count: number;
  sum?: number;
  min?: number;
  max?: number;
  scale: number;
  zero_count: number;
  positive: ExpBuckets;
  negative: ExpBuckets;
}

export interface SummaryPoint extends MetricBase {
  type: 'summary';
  count: number;
  sum: number;
  quantiles: { quantile: number; value: number }[];
}

export type MetricPoint = GaugePoint | SumPoint | HistogramPoint | ExponentialHistogramPoint | SummaryPoint;

export type Event = LogRecord | MetricPoint;

/** Attribute and resource keys that tidewatch itself sets (DESIGN.md, line identity). */
export const AttrKeys = {
  filePath: 'log.file.path',
  streamId: 'tidewatch.stream_id',
  generation: 'tidewatch.generation',
  offset: 'tidewatch.offset',
  hostName: 'host.name',
  agentId: 'tidewatch.agent.id',
  serviceName: 'service.name',
} as const;
