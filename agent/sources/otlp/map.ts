/**
 * Maps decoded OTLP requests to tidewatch events. Pure: `now` and the agent id are passed in.
 *
 * - Resource attributes become the event's `resource`; `tidewatch.agent.id` is added (the agent
 *   that took the data in), nothing the sender set is overwritten.
 * - The instrumentation scope's name and version become `scope`; scope attributes, which the
 *   event model has no slot for, are kept on each point as `otel.scope.<key>` attributes.
 * - A point that cannot be represented (no metric name, unspecified temporality, bucket counts
 *   that do not match the bounds, no value, severity out of range) is rejected and counted: the
 *   response reports it as OTLP partial success, the rest of the request goes on.
 * - Points flagged NO_RECORDED_VALUE carry no data (they mark a gap) and are skipped silently.
 */
import type { Attributes, Event, LogRecord, MetricPoint, Scope, Temporality } from '../../../core/model.js';
import type { OMetric, OResourceLogs, OResourceMetrics, OScope } from './types.js';
import { FLAG_NO_RECORDED_VALUE } from './types.js';

export interface MapResult {
  events: Event[];
  /** Points or log records that could not be represented. */
  rejected: number;
  /** The first reason, for the partial-success message. */
  message: string;
  /** Points skipped because they carried no recorded value. */
  noValue: number;
}

export interface MapContext {
  now: number;
  agentId: string;
}

function resourceOf(attrs: Attributes, ctx: MapContext): Attributes {
  if (attrs['tidewatch.agent.id'] !== undefined) return attrs;
  return { ...attrs, 'tidewatch.agent.id': ctx.agentId };
}

function scopeOf(s: OScope): Scope | undefined {
  if (s.name === '' && s.version === '') return undefined;
  return s.version === '' ? { name: s.name } : { name: s.name, version: s.version };
}

function scopeAttrs(s: OScope): [string, Attributes[string]][] {
  return Object.entries(s.attributes).map(([k, v]) => [`otel.scope.${k}`, v]);
}

function withScope(attrs: Attributes, extra: [string, Attributes[string]][]): Attributes {
  if (extra.length === 0) return attrs;
  const out: Attributes = { ...attrs };
  for (const [k, v] of extra) if (out[k] === undefined) out[k] = v;
  return out;
}

function temporalityOf(t: number): Temporality | undefined {
  return t === 1 ? 'delta' : t === 2 ? 'cumulative' : undefined;
}

export function metricsToEvents(req: OResourceMetrics[], ctx: MapContext): MapResult {
  const out: MapResult = { events: [], rejected: 0, message: '', noValue: 0 };
  const reject = (n: number, why: string): void => {
    out.rejected += n;
    if (out.message === '') out.message = why;
  };
  for (const rm of req) {
    const resource = resourceOf(rm.resource, ctx);
    for (const sm of rm.scopes) {
      const scope = scopeOf(sm.scope);
      const sattrs = scopeAttrs(sm.scope);
      for (const m of sm.metrics) mapMetric(m, resource, scope, sattrs, ctx, out, reject);
    }
  }
  return out;
}

function pointCount(m: OMetric): number {
  return m.data.kind === 'none' ? 0 : m.data.points.length;
}

function mapMetric(
  m: OMetric,
  resource: Attributes,
  scope: Scope | undefined,
  sattrs: [string, Attributes[string]][],
  ctx: MapContext,
  out: MapResult,
  reject: (n: number, why: string) => void,
): void {
  const d = m.data;
  if (d.kind === 'none') return;
  if (m.name === '') return reject(pointCount(m), 'metric without a name');
  const temporality = d.kind === 'gauge' || d.kind === 'summary' ? undefined : temporalityOf(d.temporality);
  if (d.kind !== 'gauge' && d.kind !== 'summary' && temporality === undefined) {
    return reject(d.points.length, `metric ${m.name}: aggregation temporality unspecified`);
  }
  // Points are built by assigning onto one object rather than spreading: spreading a dozen keys per
  // point was most of the mapping cost (bench/otlp.mjs, "decode + map only").
  const common = (p: { attributes: Attributes; start_time: number; time: number }): Record<string, unknown> => {
    const c: Record<string, unknown> = {
      kind: 'metric',
      name: m.name,
      time: p.time > 0 ? p.time : ctx.now,
      attributes: withScope(p.attributes, sattrs),
      resource,
    };
    if (m.description !== '') c['description'] = m.description;
    if (m.unit !== '') c['unit'] = m.unit;
    if (p.start_time > 0) c['start_time'] = p.start_time;
    if (scope !== undefined) c['scope'] = scope;
    return c;
  };
  const skip = (flags: number): boolean => {
    if ((flags & FLAG_NO_RECORDED_VALUE) === 0) return false;
    out.noValue++;
    return true;
  };
  const push = (e: MetricPoint): void => void out.events.push(e);
  switch (d.kind) {
    case 'gauge':
    case 'sum':
      for (const p of d.points) {
        if (skip(p.flags)) continue;
        if (p.value === undefined) {
          reject(1, `metric ${m.name}: data point without a value`);
          continue;
        }
        const c = common(p);
        c['type'] = d.kind;
        if (d.kind === 'sum') {
          c['temporality'] = temporality;
          c['monotonic'] = d.monotonic;
        }
        c['value'] = p.value;
        push(c as unknown as MetricPoint);
      }
      return;
    case 'histogram':
      for (const p of d.points) {
        if (skip(p.flags)) continue;
        if (p.counts.length !== 0 && p.counts.length !== p.bounds.length + 1) {
          reject(1, `metric ${m.name}: ${p.counts.length} bucket counts for ${p.bounds.length} bounds (expected ${p.bounds.length + 1})`);
          continue;
        }
        const c = common(p);
        c['type'] = 'histogram';
        c['temporality'] = temporality;
        c['count'] = p.count;
        if (p.sum !== undefined) c['sum'] = p.sum;
        if (p.min !== undefined) c['min'] = p.min;
        if (p.max !== undefined) c['max'] = p.max;
        c['bucket_bounds'] = p.bounds;
        c['bucket_counts'] = p.counts;
        push(c as unknown as MetricPoint);
      }
      return;
    case 'exponential_histogram':
      for (const p of d.points) {
        if (skip(p.flags)) continue;
        const c = common(p);
        c['type'] = 'exponential_histogram';
        c['temporality'] = temporality;
        c['count'] = p.count;
        if (p.sum !== undefined) c['sum'] = p.sum;
        if (p.min !== undefined) c['min'] = p.min;
        if (p.max !== undefined) c['max'] = p.max;
        c['scale'] = p.scale;
        c['zero_count'] = p.zero_count;
        c['positive'] = { offset: p.positive.offset, bucket_counts: p.positive.counts };
        c['negative'] = { offset: p.negative.offset, bucket_counts: p.negative.counts };
        push(c as unknown as MetricPoint);
      }
      return;
    case 'summary':
      for (const p of d.points) {
        if (skip(p.flags)) continue;
        const c = common(p);
        c['type'] = 'summary';
        c['count'] = p.count;
        c['sum'] = p.sum;
        c['quantiles'] = p.quantiles;
        push(c as unknown as MetricPoint);
      }
      return;
  }
}

export function logsToEvents(req: OResourceLogs[], ctx: MapContext): MapResult {
  const out: MapResult = { events: [], rejected: 0, message: '', noValue: 0 };
  for (const rl of req) {
    const resource = resourceOf(rl.resource, ctx);
    for (const sl of rl.scopes) {
      const scope = scopeOf(sl.scope);
      const sattrs = scopeAttrs(sl.scope);
      for (const l of sl.records) {
        if (!Number.isInteger(l.severity_number) || l.severity_number < 0 || l.severity_number > 24) {
          out.rejected++;
          if (out.message === '') out.message = `log record severity_number ${l.severity_number} is outside 0..24`;
          continue;
        }
        let attributes = withScope(l.attributes, sattrs);
        if (l.event_name !== '' && attributes['event.name'] === undefined) attributes = { ...attributes, 'event.name': l.event_name };
        const rec: LogRecord = {
          kind: 'log',
          observed_time: l.observed_time > 0 ? l.observed_time : ctx.now,
          severity_number: l.severity_number,
          severity_text: l.severity_text,
          body: l.body,
          attributes,
          resource,
        };
        if (l.time > 0) rec.time = l.time;
        if (scope !== undefined) rec.scope = scope;
        if (l.trace_id !== '' && !/^0+$/.test(l.trace_id)) rec.trace_id = l.trace_id;
        if (l.span_id !== '' && !/^0+$/.test(l.span_id)) rec.span_id = l.span_id;
        out.events.push(rec);
      }
    }
  }
  return out;
}
