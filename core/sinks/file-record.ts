/**
 * The `file` sink's record: one JSON object per line, flat dotted attribute keys, times as
 * RFC 3339 strings (DESIGN.md). Other tools read these files, so the shape is a contract: its
 * JSON Schema is kept in schemas/file-record.schema.json, generated from the TypeBox schema
 * below (test/core/sinks/file.test.ts checks both the file and what the sink writes).
 */
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import type { Event, MetricPoint } from '../model.js';

const Rfc3339 = Type.String({
  pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?(Z|[+-]\\d{2}:\\d{2})$',
  description: 'RFC 3339 time',
});
const AttrMap = Type.Record(Type.String(), Type.Unknown(), { description: 'flat map, dotted keys' });
const ScopeT = Type.Object({ name: Type.String(), version: Type.Optional(Type.String()) });

export const LogFileRecordSchema = Type.Object(
  {
    kind: Type.Literal('log'),
    time: Type.Optional(Rfc3339),
    observed_time: Rfc3339,
    severity_number: Type.Integer({ minimum: 0, maximum: 24 }),
    severity_text: Type.String(),
    body: Type.Unknown(),
    attributes: AttrMap,
    resource: AttrMap,
    scope: Type.Optional(ScopeT),
    trace_id: Type.Optional(Type.String()),
    span_id: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

const metricCommon = {
  kind: Type.Literal('metric'),
  name: Type.String({ minLength: 1 }),
  description: Type.Optional(Type.String()),
  unit: Type.Optional(Type.String()),
  time: Rfc3339,
  start_time: Type.Optional(Rfc3339),
  attributes: AttrMap,
  resource: AttrMap,
  scope: Type.Optional(ScopeT),
};
const Temporality = Type.Union([Type.Literal('delta'), Type.Literal('cumulative')]);
const ExpBuckets = Type.Object({ offset: Type.Integer(), bucket_counts: Type.Array(Type.Number({ minimum: 0 })) });

export const MetricFileRecordSchema = Type.Union([
  Type.Object({ ...metricCommon, type: Type.Literal('gauge'), value: Type.Number() }, { additionalProperties: false }),
  Type.Object(
    { ...metricCommon, type: Type.Literal('sum'), temporality: Temporality, monotonic: Type.Boolean(), value: Type.Number() },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      ...metricCommon,
      type: Type.Literal('histogram'),
      temporality: Temporality,
      count: Type.Number({ minimum: 0 }),
      sum: Type.Optional(Type.Number()),
      min: Type.Optional(Type.Number()),
      max: Type.Optional(Type.Number()),
      bucket_bounds: Type.Array(Type.Number()),
      bucket_counts: Type.Array(Type.Number({ minimum: 0 })),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      ...metricCommon,
      type: Type.Literal('exponential_histogram'),
      temporality: Temporality,
      count: Type.Number({ minimum: 0 }),
      sum: Type.Optional(Type.Number()),
      min: Type.Optional(Type.Number()),
      max: Type.Optional(Type.Number()),
      scale: Type.Integer(),
      zero_count: Type.Number({ minimum: 0 }),
      positive: ExpBuckets,
      negative: ExpBuckets,
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      ...metricCommon,
      type: Type.Literal('summary'),
      count: Type.Number({ minimum: 0 }),
      sum: Type.Number(),
      quantiles: Type.Array(Type.Object({ quantile: Type.Number({ minimum: 0, maximum: 1 }), value: Type.Number() })),
    },
    { additionalProperties: false },
  ),
]);

export const FileRecordSchema = Type.Union([LogFileRecordSchema, MetricFileRecordSchema], {
  $id: 'https://tidewatch.dev/schemas/file-record.schema.json',
  title: 'tidewatch file sink record',
  description: 'One line of a tidewatch `file` sink: a log record or a metric point.',
});

export type FileRecord = Static<typeof FileRecordSchema>;

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Event → the file sink's JSON object. Key order follows DESIGN.md's examples. */
export function toFileRecord(e: Event): Record<string, unknown> {
  if (e.kind === 'log') {
    const r: Record<string, unknown> = { kind: 'log' };
    if (e.time !== undefined) r['time'] = iso(e.time);
    r['observed_time'] = iso(e.observed_time);
    r['severity_number'] = e.severity_number;
    r['severity_text'] = e.severity_text;
    r['body'] = e.body;
    r['attributes'] = e.attributes;
    r['resource'] = e.resource;
    if (e.scope !== undefined) r['scope'] = e.scope;
    if (e.trace_id !== undefined) r['trace_id'] = e.trace_id;
    if (e.span_id !== undefined) r['span_id'] = e.span_id;
    return r;
  }
  return metricRecord(e);
}

function metricRecord(m: MetricPoint): Record<string, unknown> {
  const { kind, name, type, time, start_time, attributes, resource, ...rest } = m;
  const r: Record<string, unknown> = { kind, name, type };
  if ('temporality' in rest) {
    r['temporality'] = rest.temporality;
  }
  r['time'] = iso(time);
  if (start_time !== undefined) r['start_time'] = iso(start_time);
  r['attributes'] = attributes;
  r['resource'] = resource;
  for (const [k, v] of Object.entries(rest)) if (k !== 'temporality' && v !== undefined) r[k] = v;
  return r;
}
