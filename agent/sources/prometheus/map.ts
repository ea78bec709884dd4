/**
 * Prometheus metric families → tidewatch metric points. Pure: the scrape time, resource and
 * extra labels are passed in.
 *
 * counter → cumulative monotonic `sum` (named as exposed, e.g. `http_requests_total`; `_created`
 * becomes start_time); histogram → cumulative `histogram` (bucket counts de-cumulated, `+Inf`
 * last); summary → `summary`; gauge, unknown, untyped, info, stateset and gaugehistogram samples
 * → `gauge` per sample. HELP becomes description, UNIT unit.
 */
import type { Attributes, HistogramPoint, MetricPoint, SummaryPoint } from '../../../core/model.js';
import type { PromFamily, PromSample } from './parse.js';
import { parseValue } from './parse.js';

export interface PromMapOptions {
  /** Scrape time, epoch ms: the time of samples without their own timestamp. */
  time: number;
  resource: Attributes;
  /** Added to every sample's labels (target labels); a sample's own label of the same name wins. */
  labels: Record<string, string>;
  honorTimestamps: boolean;
}

export interface PromMapResult {
  points: MetricPoint[];
  /** Histogram or summary groups that did not add up (e.g. decreasing buckets), skipped. */
  invalid: number;
}

function without(labels: Record<string, string>, key: string): Record<string, string> {
  if (!(key in labels)) return labels;
  const { [key]: _drop, ...rest } = labels;
  return rest;
}

function keyOf(labels: Record<string, string>): string {
  return JSON.stringify(Object.keys(labels).sort().map((k) => [k, labels[k]]));
}

export function familiesToPoints(families: readonly PromFamily[], o: PromMapOptions): PromMapResult {
  const out: PromMapResult = { points: [], invalid: 0 };
  const attrs = (labels: Record<string, string>): Attributes => ({ ...o.labels, ...labels });
  const timeOf = (s: PromSample): number => (o.honorTimestamps && s.timestamp !== undefined ? s.timestamp : o.time);
  for (const f of families) {
    const meta: { description?: string; unit?: string } = {};
    if (f.help !== '') meta.description = f.help;
    if (f.unit !== '') meta.unit = f.unit;
    const base = (name: string, s: PromSample) => ({ kind: 'metric' as const, name, time: timeOf(s), resource: o.resource, ...meta });
    switch (f.type) {
      case 'counter': {
        const created = new Map<string, number>();
        for (const s of f.samples) if (s.name.endsWith('_created') && s.name !== f.name && startTime(s.value) !== undefined) created.set(keyOf(s.labels), startTime(s.value)!);
        for (const s of f.samples) {
          if (s.name.endsWith('_created') && s.name !== f.name) continue;
          const p: MetricPoint = { ...base(s.name, s), type: 'sum', temporality: 'cumulative', monotonic: true, value: s.value, attributes: attrs(s.labels) };
          const c = created.get(keyOf(s.labels));
          if (c !== undefined) p.start_time = c;
          out.points.push(p);
        }
        break;
      }
      case 'histogram':
        histograms(f, o, attrs, base, out);
        break;
      case 'summary':
        summaries(f, attrs, base, out);
        break;
      default:
        for (const s of f.samples) out.points.push({ ...base(s.name, s), type: 'gauge', value: s.value, attributes: attrs(s.labels) });
    }
  }
  return out;
}

function isCount(v: number): boolean {
  return Number.isSafeInteger(v) && v >= 0;
}

/** A `_created` value (seconds) as a start time in ms, or undefined when it is not a usable time. */
function startTime(seconds: number): number | undefined {
  const ms = seconds * 1000;
  return Number.isFinite(ms) && ms >= 0 ? ms : undefined;
}

type Base = (name: string, s: PromSample) => { kind: 'metric'; name: string; time: number; resource: Attributes; description?: string; unit?: string };

interface Group {
  first: PromSample;
  labels: Record<string, string>;
  parts: Map<string, number>;
  buckets: [number, number][];
  created?: number;
}

function groupBy(f: PromFamily, split: string): Map<string, Group> {
  const groups = new Map<string, Group>();
  for (const s of f.samples) {
    const labels = without(s.labels, split);
    const k = keyOf(labels);
    let g = groups.get(k);
    if (g === undefined) {
      g = { first: s, labels, parts: new Map(), buckets: [] };
      groups.set(k, g);
    }
    const suffix = s.name.slice(f.name.length);
    if (suffix === '_created') {
      const c = startTime(s.value);
      if (c !== undefined) g.created = c;
    }
    else if (s.labels[split] !== undefined && (suffix === '_bucket' || suffix === '')) {
      const b = parseValue(s.labels[split]);
      if (b !== undefined) g.buckets.push([b, s.value]);
    } else g.parts.set(suffix, s.value);
  }
  return groups;
}

function histograms(f: PromFamily, _o: PromMapOptions, attrs: (l: Record<string, string>) => Attributes, base: Base, out: PromMapResult): void {
  for (const g of groupBy(f, 'le').values()) {
    g.buckets.sort((a, b) => a[0] - b[0]);
    const finite = g.buckets.filter(([le]) => le !== Number.POSITIVE_INFINITY);
    const inf = g.buckets.find(([le]) => le === Number.POSITIVE_INFINITY)?.[1];
    const count = g.parts.get('_count') ?? inf ?? finite.at(-1)?.[1] ?? 0;
    const counts: number[] = [];
    let prev = 0;
    let ok = true;
    for (const [, cum] of finite) {
      if (cum < prev) ok = false;
      counts.push(cum - prev);
      prev = cum;
    }
    const total = inf ?? count;
    if (total < prev) ok = false;
    counts.push(total - prev);
    // Counts must be whole and bounds finite to be carried at all (wire format v1); NaN or Inf
    // there used to make the whole scrape's batch undecodable (found by test/fuzz/prometheus.test.ts).
    if (!isCount(count) || !counts.every(isCount) || !finite.every(([le]) => Number.isFinite(le))) ok = false;
    if (!ok) {
      out.invalid++;
      continue;
    }
    const p: HistogramPoint = { ...base(f.name, g.first), type: 'histogram', temporality: 'cumulative', count, bucket_bounds: finite.map(([le]) => le), bucket_counts: counts, attributes: attrs(g.labels) };
    const sum = g.parts.get('_sum');
    if (sum !== undefined) p.sum = sum;
    if (g.created !== undefined) p.start_time = g.created;
    out.points.push(p);
  }
}

function summaries(f: PromFamily, attrs: (l: Record<string, string>) => Attributes, base: Base, out: PromMapResult): void {
  for (const g of groupBy(f, 'quantile').values()) {
    g.buckets.sort((a, b) => a[0] - b[0]);
    const count = g.parts.get('_count') ?? 0;
    if (!isCount(count) || !g.buckets.every(([q]) => q >= 0 && q <= 1)) {
      out.invalid++;
      continue;
    }
    const p: SummaryPoint = {
      ...base(f.name, g.first),
      type: 'summary',
      count,
      sum: g.parts.get('_sum') ?? 0,
      quantiles: g.buckets.map(([quantile, value]) => ({ quantile, value })),
      attributes: attrs(g.labels),
    };
    if (g.created !== undefined) p.start_time = g.created;
    out.points.push(p);
  }
}
