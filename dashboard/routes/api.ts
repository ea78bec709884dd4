/**
 * JSON API under /api/v1:
 *   GET /api/v1/series                 every series the dashboard holds, with point counts and totals
 *   GET /api/v1/query?name=N&from=F&to=T
 *       points of the series named N with F <= time <= T, grouped by series; F and T are epoch
 *       milliseconds, `now`, or relative to now (`-5m`, `-300s`, `-1h`, `-500ms`, `now-5m`);
 *       defaults: from -5m, to now. Label filters: `match[severity]=error` (repeatable keys).
 *       `group_by=a,b` sums the series sharing those labels' values (one series per group);
 *       `width=W` (the chart's width in pixels) downsamples each series to about two points
 *       per pixel: the range is cut into W buckets and each keeps its minimum and maximum point,
 *       so spikes survive. Older than the full-resolution window, points come from the
 *       one-a-minute tier (`resolution_ms` says which).
 * Times in responses are epoch milliseconds; a point is `[time, value]`.
 */
import type { FastifyInstance } from 'fastify';
import { TidewatchError } from '../../core/errors.js';
import type { RouteDeps } from '../server.js';
import type { SeriesInfo } from '../store.js';

type Points = Array<[number, number]>;

/** At most about 2 * width points: per time bucket its min and its max point, in time order. Pure. */
export function downsample(points: Points, from: number, to: number, width: number): Points {
  if (points.length <= 2 * width) return points;
  const span = Math.max(1, to - from + 1);
  const out: Points = [];
  let bucket = -1;
  let lo: [number, number] | undefined;
  let hi: [number, number] | undefined;
  const emit = (): void => {
    if (lo === undefined || hi === undefined) return;
    if (lo === hi) out.push(lo);
    else if (lo[0] < hi[0]) out.push(lo, hi);
    else out.push(hi, lo);
  };
  for (const p of points) {
    const b = Math.min(width - 1, Math.floor(((p[0] - from) * width) / span));
    if (b !== bucket) {
      emit();
      bucket = b;
      lo = p;
      hi = p;
    } else {
      if (p[1] < (lo as [number, number])[1]) lo = p;
      if (p[1] > (hi as [number, number])[1]) hi = p;
    }
  }
  emit();
  return out;
}

/** Sums series by the values of `keys`: one output series per distinct combination. Pure. */
export function groupSeries(series: Array<{ series: SeriesInfo; points: Points }>, keys: readonly string[]): Array<{ labels: Record<string, string>; points: Points }> {
  const groups = new Map<string, { labels: Record<string, string>; sums: Map<number, number> }>();
  for (const s of series) {
    const labels: Record<string, string> = {};
    for (const k of keys) labels[k] = s.series.labels[k] ?? '';
    const key = JSON.stringify(keys.map((k) => labels[k]));
    let g = groups.get(key);
    if (g === undefined) groups.set(key, (g = { labels, sums: new Map() }));
    for (const [t, v] of s.points) g.sums.set(t, (g.sums.get(t) ?? 0) + v);
  }
  return [...groups.values()].map((g) => ({ labels: g.labels, points: [...g.sums.entries()].sort((a, b) => a[0] - b[0]) }));
}

const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses a time parameter; throws TW_HTTP_REQUEST naming `param` when it is not one. Pure. */
export function parseTime(text: string, now: number, param: string): number {
  const s = text.trim();
  if (s === 'now') return now;
  if (/^\d{1,16}$/.test(s)) return Number(s);
  const rel = /^(?:now)?-(\d{1,12})(ms|s|m|h|d)$/.exec(s);
  if (rel !== null) return now - Number(rel[1]) * (UNITS[rel[2] ?? 's'] ?? 1000);
  throw new TidewatchError('TW_HTTP_REQUEST', `${param}: expected epoch milliseconds, "now", or a relative time such as -5m`, { param });
}

interface QueryString {
  name?: string;
  from?: string;
  to?: string;
  [key: string]: string | undefined;
}

/**
 * The first parameter given more than once (`?from=a&from=b` parses to an array), or undefined.
 * Such a parameter is refused, not ignored: a dropped `match[...]` filter would answer with
 * every series instead of the one asked for (found by test/fuzz/dashboard.test.ts).
 */
export function repeatedParam(q: Readonly<Record<string, unknown>>): string | undefined {
  for (const k in q) if (Array.isArray(q[k])) return k;
  return undefined;
}

function badRequest(reply: { code(n: number): { send(b: unknown): unknown } }, message: string): unknown {
  return reply.code(400).send({ error: { code: 'TW_HTTP_REQUEST', message } });
}

export function registerApi(app: FastifyInstance, deps: RouteDeps): void {
  app.addHook('onSend', async (req, reply, payload) => {
    if (req.url.startsWith('/api/')) void reply.header('cache-control', 'no-store');
    return payload;
  });

  app.get('/api/v1/series', async () => ({ series: deps.store.list() }));

  app.get<{ Querystring: QueryString }>('/api/v1/query', async (req, reply) => {
    const q = req.query;
    const repeated = repeatedParam(q);
    if (repeated !== undefined) return badRequest(reply, `${repeated}: given more than once`);
    const name = q.name;
    if (typeof name !== 'string' || name.length === 0 || name.length > 256) return badRequest(reply, 'name: required, 1 to 256 characters');
    const now = deps.now();
    let from: number;
    let to: number;
    try {
      from = parseTime(typeof q.from === 'string' ? q.from : '-5m', now, 'from');
      to = parseTime(typeof q.to === 'string' ? q.to : 'now', now, 'to');
    } catch (err) {
      return badRequest(reply, err instanceof Error ? err.message : String(err));
    }
    if (from > to) return badRequest(reply, 'from: must not be after to');
    const match: Record<string, string> = {};
    for (const [k, v] of Object.entries(q)) {
      const m = /^match\[([^\]]{1,128})\]$/.exec(k);
      if (m?.[1] !== undefined && typeof v === 'string') match[m[1]] = v;
    }
    let width: number | undefined;
    if (typeof q['width'] === 'string') {
      width = Number(q['width']);
      if (!Number.isInteger(width) || width < 10 || width > 10_000) return badRequest(reply, 'width: expected an integer from 10 to 10000 (pixels)');
    }
    const groupBy = typeof q['group_by'] === 'string' && q['group_by'] !== '' ? q['group_by'].split(',').map((k) => k.trim()).filter((k) => k.length > 0).slice(0, 16) : [];
    const fine = width !== undefined && groupBy.length === 0 ? deps.store.queryWidth(name, from, to, width, match) : deps.store.query(name, from, to, match);
    let resolution = 1000;
    // Beyond the full-resolution window the minute tier answers for the older part.
    if (deps.coarse !== undefined) {
      const oldest = fine.reduce((m, s) => Math.min(m, s.points[0]?.[0] ?? Infinity), Infinity);
      if (from < oldest) {
        const older = deps.coarse.query(name, from, Math.min(to, oldest === Infinity ? to : oldest - 1), match);
        if (older.some((s) => s.points.length > 0)) resolution = 60_000;
        for (const o of older) {
          const f = fine.find((s) => s.series.name === o.series.name && JSON.stringify(s.series.labels) === JSON.stringify(o.series.labels));
          if (f !== undefined) f.points.unshift(...o.points.filter((p) => p[0] < (f.points[0]?.[0] ?? Infinity)));
          else fine.push(o);
        }
      }
    }
    if (groupBy.length > 0) {
      const groups = groupSeries(fine, groupBy).map((g) => ({
        id: `g:${JSON.stringify(g.labels)}`,
        labels: g.labels,
        type: fine[0]?.series.type ?? 'gauge',
        temporality: fine[0]?.series.temporality ?? null,
        unit: fine[0]?.series.unit ?? null,
        points: width === undefined ? g.points : downsample(g.points, from, to, width),
      }));
      return { name, from, to, resolution_ms: resolution, group_by: groupBy, series: groups };
    }
    const series = fine.map(({ series: s, points }) => ({
      id: s.id,
      labels: s.labels,
      type: s.type,
      temporality: s.temporality ?? null,
      unit: s.unit ?? null,
      points: width === undefined ? points : downsample(points, from, to, width),
    }));
    return { name, from, to, resolution_ms: resolution, series };
  });
}
