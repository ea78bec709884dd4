/**
 * The dashboard's HTTP server: `buildServer()` returns a fastify instance with every route
 * registered and does not listen (tests use `inject`; `tidewatch up` listens on 127.0.0.1).
 *
 * Safety: every response carries security headers and a strict Content-Security-Policy (no
 * inline script or style, nothing from other origins); static files come from a fixed list, so no
 * request path ever reaches the filesystem; and the Host header must name a loopback address by
 * default, so a web page cannot read the API through DNS rebinding.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from '../core/log.js';
import { silentLogger } from '../core/log.js';
import type { Telemetry } from '../core/telemetry.js';
import { registerApi } from './routes/api.js';
import { registerHealth } from './routes/health.js';
import { registerMetrics } from './routes/metrics.js';
import { registerStatic } from './routes/static.js';
import { registerStream, type StreamOptions } from './routes/stream.js';
import type { SeriesStore } from './store.js';

export const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), interest-cohort=()',
};

/** Host names a loopback-bound dashboard answers to. */
export const LOOPBACK_HOSTS: readonly string[] = ['127.0.0.1', 'localhost', '[::1]', '::1'];

export interface DashboardOptions {
  store: SeriesStore;
  /** Self-telemetry shown on /metrics next to the collected series. */
  telemetry?: Telemetry;
  log?: Logger;
  /** Wall clock, epoch ms (relative `from`/`to` in queries). */
  now?: () => number;
  /** Where index.html, app.js and style.css live; found next to this module by default. */
  uiDir?: string;
  /** Host header names accepted (without port); null accepts any. Default: loopback names. */
  allowedHosts?: readonly string[] | null;
  stream?: StreamOptions;
}

/** What every route module gets. */
export interface RouteDeps {
  readonly store: SeriesStore;
  readonly telemetry: Telemetry | undefined;
  readonly log: Logger;
  readonly now: () => number;
}

export function buildServer(opts: DashboardOptions): FastifyInstance {
  const app = Fastify({
    logger: false,
    // Request bodies are never needed by these routes; keep what a client may send small.
    bodyLimit: 64 * 1024,
    // Idle keep-alive sockets do not hold up close(); live streams are ended by the stream route.
    forceCloseConnections: 'idle',
  });
  const deps: RouteDeps = { store: opts.store, telemetry: opts.telemetry, log: opts.log ?? silentLogger, now: opts.now ?? Date.now };
  const allowed = opts.allowedHosts === undefined ? LOOPBACK_HOSTS : opts.allowedHosts;

  app.addHook('onRequest', async (req, reply) => {
    reply.headers(SECURITY_HEADERS);
    if (allowed !== null && !allowed.includes(req.hostname)) {
      deps.telemetry?.add('tidewatch_dashboard_requests_rejected_total', { reason: 'host' });
      return reply.code(403).send({ error: { code: 'TW_HTTP_REQUEST', message: 'unexpected Host header' } });
    }
    return undefined;
  });

  app.setErrorHandler((err: { statusCode?: number; message: string; validation?: unknown }, _req, reply) => {
    const status = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) deps.log.error('dashboard request failed', { err });
    void reply.code(status).send({ error: { code: status === 500 ? 'TW_INTERNAL' : 'TW_HTTP_REQUEST', message: status === 500 ? 'internal error' : err.message } });
  });
  app.setNotFoundHandler((_req, reply) => {
    void reply.code(404).send({ error: { code: 'TW_HTTP_REQUEST', message: 'not found' } });
  });

  registerHealth(app, deps);
  registerMetrics(app, deps);
  registerApi(app, deps);
  registerStream(app, deps, opts.stream ?? {});
  registerStatic(app, opts.uiDir);
  return app;
}
