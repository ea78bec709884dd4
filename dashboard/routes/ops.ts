/**
 * JSON API for the operational pages (documented in /api/v1/openapi.json):
 *   GET  /api/v1/session                   the CSRF token a page echoes in x-tidewatch-csrf on POSTs
 *   GET  /api/v1/overview                  lines/s by severity (last complete second), error ratio
 *                                          (5 min), top and new patterns, firing alerts, agents
 *   GET  /api/v1/alerts                    every alert (firing, pending, resolved) and the history
 *   POST /api/v1/alerts/:id/ack            {"by": "name"}
 *   POST /api/v1/alerts/:id/silence        {"minutes": 60, "by": "name"}
 *   GET  /api/v1/patterns?sort=count|new&limit=N
 *   GET  /api/v1/agents                    per agent: last seen, lines/s, lag bytes, drops, status
 *   GET  /api/v1/logs?after=SEQ&severity=&host=&pattern=&contains=&limit=N
 *                                          tail lines newer than SEQ (poll with the last seq seen)
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { RouteDeps } from '../server.js';
import { repeatedParam } from './api.js';

const LINES_METRIC = 'log.records';

function bad(reply: FastifyReply, message: string): unknown {
  return reply.code(400).send({ error: { code: 'TW_HTTP_REQUEST', message } });
}

function intParam(v: unknown, def: number, min: number, max: number): number | undefined {
  if (v === undefined) return def;
  if (typeof v !== 'string' || !/^\d{1,12}$/.test(v)) return undefined;
  const n = Number(v);
  return n >= min && n <= max ? n : undefined;
}

function str(v: unknown, max = 256): string | undefined {
  return typeof v === 'string' && v.length <= max ? v : undefined;
}

/** Lines per second by severity for the last complete second, and the 5 minute error ratio. */
export function lineRates(deps: RouteDeps, now: number): { rate: Record<string, number>; total5m: number; errors5m: number; second: number | null; byHost: Record<string, number> } {
  const series = deps.store.query(LINES_METRIC, now - 300_000, now);
  let last = -Infinity;
  for (const s of series) for (const [t] of s.points) if (t <= now && t > last) last = t;
  const rate: Record<string, number> = {};
  const byHost: Record<string, number> = {};
  let total5m = 0;
  let errors5m = 0;
  for (const s of series) {
    const sev = s.series.labels['severity'] ?? 'unspecified';
    const host = s.series.labels['host.name'] ?? s.series.labels['host'];
    for (const [t, v] of s.points) {
      total5m += v;
      if (sev === 'error' || sev === 'fatal') errors5m += v;
      if (t === last) {
        rate[sev] = (rate[sev] ?? 0) + v;
        if (host !== undefined) byHost[host] = (byHost[host] ?? 0) + v;
      }
    }
  }
  return { rate, total5m, errors5m, second: last === -Infinity ? null : last, byHost };
}

export function registerOps(app: FastifyInstance, deps: RouteDeps): void {
  const { ops } = deps;

  app.get('/api/v1/session', async () => ({ csrf: deps.csrf }));

  app.get('/api/v1/overview', async () => {
    const now = deps.now();
    const r = lineRates(deps, now);
    return {
      time: now,
      second: r.second,
      lines_per_second: r.rate,
      error_ratio_5m: r.total5m > 0 ? r.errors5m / r.total5m : null,
      lines_5m: r.total5m,
      top_patterns: ops.listPatterns(now, 'count', 10),
      new_patterns: ops.listPatterns(now, 'new', 10),
      firing_alerts: ops.listAlerts(now).filter((a) => a.status === 'firing'),
      agents: ops.listAgents(now),
    };
  });

  app.get('/api/v1/alerts', async () => {
    const now = deps.now();
    return { alerts: ops.listAlerts(now), history: ops.alertHistory(500) };
  });

  app.post<{ Params: { id: string }; Body: unknown }>('/api/v1/alerts/:id/ack', async (req, reply) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const by = str(body['by'], 128) ?? 'anonymous';
    const at = deps.now();
    const v = ops.acknowledge(req.params.id, by, at);
    if (v === undefined) return reply.code(404).send({ error: { code: 'TW_HTTP_REQUEST', message: 'no such alert' } });
    deps.persist?.action({ alert_id: req.params.id, action: 'ack', by, at });
    return { alert: v };
  });

  app.post<{ Params: { id: string }; Body: unknown }>('/api/v1/alerts/:id/silence', async (req, reply) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const minutes = body['minutes'] ?? 60;
    if (typeof minutes !== 'number' || !Number.isFinite(minutes) || minutes <= 0 || minutes > 30 * 24 * 60) return bad(reply, 'minutes: expected a number from 1 to 43200');
    const by = str(body['by'], 128) ?? 'anonymous';
    const now = deps.now();
    const until = now + minutes * 60_000;
    const v = ops.silence(req.params.id, until, by, now);
    if (v === undefined) return reply.code(404).send({ error: { code: 'TW_HTTP_REQUEST', message: 'no such alert' } });
    deps.persist?.action({ alert_id: req.params.id, action: 'silence', by, at: now, until });
    return { alert: v };
  });

  app.get<{ Querystring: Record<string, string | undefined> }>('/api/v1/patterns', async (req, reply) => {
    const repeated = repeatedParam(req.query);
    if (repeated !== undefined) return bad(reply, `${repeated}: given more than once`);
    const sort = req.query['sort'] ?? 'count';
    if (sort !== 'count' && sort !== 'new') return bad(reply, 'sort: expected count or new');
    const limit = intParam(req.query['limit'], 200, 1, 5000);
    if (limit === undefined) return bad(reply, 'limit: expected 1 to 5000');
    return { patterns: ops.listPatterns(deps.now(), sort, limit) };
  });

  app.get('/api/v1/agents', async () => {
    const now = deps.now();
    const rates = lineRates(deps, now).byHost;
    return { agents: ops.listAgents(now).map((a) => ({ ...a, lines_per_second: rates[a.host] ?? null })) };
  });

  app.get<{ Querystring: Record<string, string | undefined> }>('/api/v1/logs', async (req, reply) => {
    const q = req.query;
    const repeated = repeatedParam(q);
    if (repeated !== undefined) return bad(reply, `${repeated}: given more than once`);
    const after = intParam(q['after'], 0, 0, Number.MAX_SAFE_INTEGER);
    if (after === undefined) return bad(reply, 'after: expected a sequence number');
    const limit = intParam(q['limit'], 500, 1, 5000);
    if (limit === undefined) return bad(reply, 'limit: expected 1 to 5000');
    const filter = { afterSeq: after, severity: str(q['severity']), host: str(q['host']), pattern_id: str(q['pattern']), contains: str(q['contains'], 1024) };
    const clean = Object.fromEntries(Object.entries(filter).filter(([, v]) => v !== undefined));
    return { lines: ops.queryTail(clean, limit) };
  });
}
