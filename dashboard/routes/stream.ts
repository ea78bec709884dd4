/**
 * `GET /api/v1/stream[?name=N]`: server-sent events carrying only new points (a point whose
 * value changed counts as new: the open second's early values replace each other).
 *
 * Each client gets its own bounded buffer, sent every `flushMs` as one `data:` message:
 *   {"series":[{id,name,labels,type,temporality,unit}...], "points":[[id,time,value]...]}
 * where `series` describes the ids this connection has not seen yet. When a client's buffer
 * overflows, or the socket stops draining, the server sends `event: resync` and closes it; the
 * browser reconnects and reloads through /api/v1/query. Streams end when the server closes.
 */
import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { SECURITY_HEADERS } from '../server.js';
import type { RouteDeps } from '../server.js';
import type { PointUpdate, SeriesInfo } from '../store.js';

export interface StreamOptions {
  /** How often buffered points go out (default 250 ms: a point reaches the page well within 1 s). */
  flushMs?: number;
  /** Comment line sent this often so proxies keep the stream open (default 15 s). */
  heartbeatMs?: number;
  /** Concurrent streams at most (default 100); more get 503. */
  maxClients?: number;
  /** Point updates buffered per client between flushes (default 20 000). */
  maxPending?: number;
  /** Bytes a client may leave unread in its socket before it is dropped (default 1 MiB). */
  maxUnreadBytes?: number;
}

interface Client {
  readonly res: ServerResponse;
  readonly name: string | undefined;
  readonly seen: Set<string>;
  /** Latest value per (series, time) since the last flush. */
  pending: Map<string, PointUpdate>;
  closed: boolean;
}

function describe(s: SeriesInfo): Record<string, unknown> {
  return { id: s.id, name: s.name, labels: s.labels, type: s.type, temporality: s.temporality ?? null, unit: s.unit ?? null };
}

export function registerStream(app: FastifyInstance, deps: RouteDeps, opts: StreamOptions): void {
  const flushMs = opts.flushMs ?? 250;
  const heartbeatMs = opts.heartbeatMs ?? 15_000;
  const maxClients = opts.maxClients ?? 100;
  const maxPending = opts.maxPending ?? 20_000;
  const maxUnread = opts.maxUnreadBytes ?? 1024 * 1024;
  const clients = new Set<Client>();
  const count = (reason: string): void => deps.telemetry?.add('tidewatch_dashboard_stream_dropped_total', { reason });

  const close = (c: Client, reason: string | undefined): void => {
    if (c.closed) return;
    c.closed = true;
    clients.delete(c);
    deps.telemetry?.set('tidewatch_dashboard_sse_clients', {}, clients.size);
    if (reason !== undefined) {
      count(reason);
      if (!c.res.destroyed) c.res.write(`event: resync\ndata: ${JSON.stringify({ reason })}\n\n`);
    }
    c.res.end();
  };

  const flush = (c: Client): void => {
    if (c.closed || c.pending.size === 0) return;
    if (c.res.writableLength > maxUnread) return close(c, 'slow_client');
    const series: Record<string, unknown>[] = [];
    const points: Array<[string, number, number]> = [];
    for (const u of c.pending.values()) {
      if (!c.seen.has(u.series.id)) {
        c.seen.add(u.series.id);
        series.push(describe(u.series));
      }
      points.push([u.series.id, u.time, u.value]);
    }
    c.pending = new Map();
    points.sort((a, b) => a[1] - b[1]);
    c.res.write(`data: ${JSON.stringify({ series, points })}\n\n`);
  };

  const unsubscribe = deps.store.subscribe((u) => {
    for (const c of clients) {
      if (c.name !== undefined && c.name !== u.series.name) continue;
      if (c.pending.size >= maxPending) {
        close(c, 'overflow');
        continue;
      }
      c.pending.set(`${u.series.id}|${u.time}`, u);
    }
  });

  const flushTimer = setInterval(() => {
    for (const c of clients) flush(c);
  }, flushMs);
  flushTimer.unref();
  const heartbeat = setInterval(() => {
    for (const c of clients) if (!c.closed) c.res.write(': ping\n\n');
  }, heartbeatMs);
  heartbeat.unref();

  app.addHook('preClose', async () => {
    clearInterval(flushTimer);
    clearInterval(heartbeat);
    unsubscribe();
    for (const c of [...clients]) {
      flush(c);
      close(c, undefined);
    }
  });

  app.get<{ Querystring: { name?: string } }>('/api/v1/stream', (req, reply) => {
    if (clients.size >= maxClients) {
      count('max_clients');
      return reply.code(503).send({ error: { code: 'TW_HTTP_REQUEST', message: 'too many live streams' } });
    }
    // `?name=a&name=b` would otherwise stream every series instead of the one asked for.
    if (Array.isArray(req.query.name)) return reply.code(400).send({ error: { code: 'TW_HTTP_REQUEST', message: 'name: given more than once' } });
    const name = typeof req.query.name === 'string' && req.query.name.length > 0 ? req.query.name : undefined;
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    const c: Client = { res, name, seen: new Set(), pending: new Map(), closed: false };
    clients.add(c);
    deps.telemetry?.set('tidewatch_dashboard_sse_clients', {}, clients.size);
    res.write(`retry: 2000\nevent: hello\ndata: ${JSON.stringify({ time: deps.now() })}\n\n`);
    res.on('close', () => close(c, undefined));
    return reply;
  });
}
