/**
 * `GET /metrics`: the collected series and the dashboard's own counters in the Prometheus text
 * exposition format (version 0.0.4). Delta sums are exposed as counters of everything the
 * dashboard has taken since it started (`log.records` → `log_records_total`); cumulative sums
 * and gauges as their last value. Names and label names are mapped to the Prometheus character
 * set; label values are escaped.
 */
import type { FastifyInstance } from 'fastify';
import type { TelemetrySample } from '../../core/telemetry.js';
import type { RouteDeps } from '../server.js';
import type { SeriesInfo, SeriesStore } from '../store.js';

export function metricName(name: string): string {
  const s = name.replace(/[^a-zA-Z0-9_:]/g, '_');
  return /^[a-zA-Z_:]/.test(s) ? s : `_${s}`;
}

export function labelName(name: string): string {
  const s = name.replace(/[^a-zA-Z0-9_]/g, '_');
  const t = /^[a-zA-Z_]/.test(s) ? s : `_${s}`;
  // Names starting with __ are reserved for Prometheus itself.
  return t.startsWith('__') ? `x${t}` : t;
}

function escapeValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function labelSet(labels: Readonly<Record<string, string>>): string {
  const merged = new Map<string, string>();
  for (const [k, v] of Object.entries(labels)) merged.set(labelName(k), v);
  if (merged.size === 0) return '';
  const parts = [...merged.keys()].sort().map((k) => `${k}="${escapeValue(merged.get(k) ?? '')}"`);
  return `{${parts.join(',')}}`;
}

function formatNumber(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

interface Family {
  type: 'counter' | 'gauge';
  help: string;
  lines: string[];
}

function familyOf(s: SeriesInfo): { name: string; type: 'counter' | 'gauge'; help: string } {
  const base = metricName(s.name);
  if (s.type === 'sum' && s.temporality === 'delta') {
    return { name: base.endsWith('_total') ? base : `${base}_total`, type: 'counter', help: `${s.name}: sum of the delta points taken since the dashboard started.` };
  }
  return { name: base, type: 'gauge', help: `${s.name}: last value.` };
}

/** The exposition text for a store and a telemetry snapshot. Pure. */
export function formatPrometheus(store: SeriesStore, telemetry: readonly TelemetrySample[] = []): string {
  const families = new Map<string, Family>();
  const add = (name: string, type: 'counter' | 'gauge', help: string, line: string): void => {
    let f = families.get(name);
    if (f === undefined) {
      f = { type, help, lines: [] };
      families.set(name, f);
    }
    // One name, one type: a clash (a gauge and a counter mapping to one name) keeps the first.
    if (f.type === type) f.lines.push(line);
  };
  for (const { series, total } of store.totals()) {
    const f = familyOf(series);
    add(f.name, f.type, f.help, `${f.name}${labelSet(series.labels)} ${formatNumber(total)}`);
  }
  const c = store.counters;
  const points = 'tidewatch_dashboard_points_total';
  const pointsHelp = 'Points the dashboard store was given, by outcome.';
  for (const [result, n] of Object.entries(c)) add(points, 'counter', pointsHelp, `${points}{result="${result}"} ${n}`);
  add('tidewatch_dashboard_series', 'gauge', 'Series held in memory.', `tidewatch_dashboard_series ${store.size}`);
  for (const s of telemetry) {
    const base = metricName(s.name);
    const name = s.kind === 'counter' && !base.endsWith('_total') ? `${base}_total` : base;
    add(name, s.kind, `tidewatch self-telemetry: ${s.name}.`, `${name}${labelSet(s.labels)} ${formatNumber(s.value)}`);
  }
  const out: string[] = [];
  for (const [name, f] of families) {
    out.push(`# HELP ${name} ${escapeHelp(f.help)}`, `# TYPE ${name} ${f.type}`, ...f.lines);
  }
  return `${out.join('\n')}\n`;
}

export function registerMetrics(app: FastifyInstance, deps: RouteDeps): void {
  app.get('/metrics', async (_req, reply) => {
    void reply.header('content-type', 'text/plain; version=0.0.4; charset=utf-8').header('cache-control', 'no-store');
    return formatPrometheus(deps.store, deps.telemetry?.snapshot() ?? []);
  });
}
