/**
 * JSON API under /api/v1:
 *   GET /api/v1/series                 every series the dashboard holds, with point counts and totals
 *   GET /api/v1/query?name=N&from=F&to=T
 *       points of the series named N with F <= time <= T, grouped by series; F and T are epoch
 *       milliseconds, `now`, or relative to now (`-5m`, `-300s`, `-1h`, `-500ms`, `now-5m`);
 *       defaults: from -5m, to now. Label filters: `match[severity]=error` (repeatable keys).
 * Times in responses are epoch milliseconds; a point is `[time, value]`.
 */
import type { FastifyInstance } from 'fastify';
import { TidewatchError } from '../../core/errors.js';
import type { RouteDeps } from '../server.js';

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
    const series = deps.store.query(name, from, to, match).map(({ series: s, points }) => ({
      id: s.id,
      labels: s.labels,
      type: s.type,
      temporality: s.temporality ?? null,
      unit: s.unit ?? null,
      points,
    }));
    return { name, from, to, series };
  });
}
