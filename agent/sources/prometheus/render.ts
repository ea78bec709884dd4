/**
 * Renders metric points as Prometheus text exposition format 0.0.4 (the agent's `/metrics`).
 * Pure. Names and label names are sanitised to the Prometheus charset (`.` → `_`); monotonic
 * sums are counters (with a `_total` suffix), other sums and gauges are gauges, histograms are
 * cumulative `_bucket{le}` / `_sum` / `_count`, summaries `{quantile}` / `_sum` / `_count`.
 * Exponential histograms have no text-format form and are left out. Points of one name must share
 * a type (the first one seen decides; others are left out rather than breaking the exposition).
 */
import type { MetricPoint } from '../../../core/model.js';

export const TEXT_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

function sanitize(name: string): string {
  const s = name.replace(/[^a-zA-Z0-9_:]/g, '_');
  return /^[0-9]/.test(s) ? `_${s}` : s;
}

function labelName(name: string): string {
  const s = name.replace(/[^a-zA-Z0-9_]/g, '_');
  return /^[0-9]/.test(s) ? `_${s}` : s;
}

function escapeValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function num(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(v);
}

function labels(attrs: Record<string, unknown>, extra?: [string, string]): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined) continue;
    parts.push(`${labelName(k)}="${escapeValue(typeof v === 'string' ? v : JSON.stringify(v))}"`);
  }
  if (extra) parts.push(`${extra[0]}="${extra[1]}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

type PromKind = 'counter' | 'gauge' | 'histogram' | 'summary';

function kindOf(p: MetricPoint): PromKind | undefined {
  switch (p.type) {
    case 'sum':
      return p.monotonic ? 'counter' : 'gauge';
    case 'gauge':
      return 'gauge';
    case 'histogram':
      return 'histogram';
    case 'summary':
      return 'summary';
    default:
      return undefined;
  }
}

export function renderPrometheusText(points: readonly MetricPoint[]): string {
  const families = new Map<string, { kind: PromKind; help: string; points: MetricPoint[] }>();
  for (const p of points) {
    const kind = kindOf(p);
    if (kind === undefined) continue;
    let name = sanitize(p.name);
    if (kind === 'counter' && !name.endsWith('_total')) name += '_total';
    const f = families.get(name);
    if (f === undefined) families.set(name, { kind, help: p.description ?? '', points: [p] });
    else if (f.kind === kind) f.points.push(p);
  }
  let out = '';
  for (const [name, f] of families) {
    if (f.help !== '') out += `# HELP ${name} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n`;
    out += `# TYPE ${name} ${f.kind}\n`;
    for (const p of f.points) {
      if (p.type === 'sum' || p.type === 'gauge') out += `${name}${labels(p.attributes)} ${num(p.value)}\n`;
      else if (p.type === 'histogram') {
        let cum = 0;
        p.bucket_bounds.forEach((b, i) => {
          cum += p.bucket_counts[i] ?? 0;
          out += `${name}_bucket${labels(p.attributes, ['le', num(b)])} ${cum}\n`;
        });
        out += `${name}_bucket${labels(p.attributes, ['le', '+Inf'])} ${p.count}\n`;
        if (p.sum !== undefined) out += `${name}_sum${labels(p.attributes)} ${num(p.sum)}\n`;
        out += `${name}_count${labels(p.attributes)} ${p.count}\n`;
      } else if (p.type === 'summary') {
        for (const q of p.quantiles) out += `${name}${labels(p.attributes, ['quantile', num(q.quantile)])} ${num(q.value)}\n`;
        out += `${name}_sum${labels(p.attributes)} ${num(p.sum)}\n`;
        out += `${name}_count${labels(p.attributes)} ${p.count}\n`;
      }
    }
  }
  return out;
}
