/**
 * The dashboard's HTTP server: `buildServer()` returns a fastify instance with every route
 * registered and does not listen (tests use `inject`; `tidewatch up` listens on 127.0.0.1).
 *
 * Safety: every response carries security headers and a strict Content-Security-Policy (no
 * inline script or style, nothing from other origins); static files come from a fixed list, so no
 * request path ever reaches the filesystem; and the Host header must name a loopback address by
 * default, so a web page cannot read the API through DNS rebinding.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import type { ServerTlsMaterial } from '../core/listen-security.js';
import type { Logger } from '../core/log.js';
import { silentLogger } from '../core/log.js';
import type { Telemetry } from '../core/telemetry.js';
import { OpsState } from './ops.js';
import type { Persistence } from './persist.js';
import { registerApi } from './routes/api.js';
import { registerOps } from './routes/ops.js';
import { registerOpenApi } from './routes/openapi.js';
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
  /** Alerts, patterns, agents and the tail; an empty state by default. */
  ops?: OpsState;
  /** The one-point-a-minute tier, for ranges older than `store` holds. */
  coarse?: SeriesStore;
  /**
   * Access token. When set, every request but /healthz must present it: an
   * `Authorization: Bearer` header, or the `tw_token` cookie that `/?token=…` sets (HttpOnly,
   * SameSite=Strict). Required when the dashboard listens on a non-loopback address.
   */
  token?: string;
  /** Serve HTTPS with this certificate (and client CA: mutual TLS). */
  tls?: ServerTlsMaterial;
  /** Where acknowledgements and silences are kept across restarts. */
  persist?: Persistence;
}

/** What every route module gets. */
export interface RouteDeps {
  readonly store: SeriesStore;
  readonly telemetry: Telemetry | undefined;
  readonly log: Logger;
  readonly now: () => number;
  readonly ops: OpsState;
  readonly coarse: SeriesStore | undefined;
  /** Per-process token a page must echo in `x-tidewatch-csrf` on every POST. */
  readonly csrf: string;
  readonly persist: Persistence | undefined;
}

/** Host names that mean the loopback interface, as a listen address. */
export function isLoopbackAddress(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127(\.\d{1,3}){3}$/.test(host);
}

function sameToken(given: string, want: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(want);
  return a.length === b.length && timingSafeEqual(a, b);
}

function hostOf(origin: string): string | undefined {
  try {
    return new URL(origin).host;
  } catch {
    return undefined;
  }
}

function httpsFactory(tls: ServerTlsMaterial): (handler: (req: IncomingMessage, res: ServerResponse) => void) => HttpServer {
  return (handler) => createHttpsServer({ ...tls }, handler) as unknown as HttpServer;
}

function cookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return decodeURIComponent(part.slice(i + 1).trim());
  }
  return undefined;
}

export function buildServer(opts: DashboardOptions): FastifyInstance {
  const app = Fastify({
    logger: false,
    // Request bodies are never needed by these routes; keep what a client may send small.
    bodyLimit: 64 * 1024,
    // Idle keep-alive sockets do not hold up close(); live streams are ended by the stream route.
    forceCloseConnections: 'idle',
    // A path parameter over 100 characters or a bad %-escape in the path is refused by the router
    // before any hook runs; answer it in the API's error shape, with the security headers, and
    // without echoing the path (found by test/fuzz/dashboard.test.ts).
    frameworkErrors: (err, _req, res) => {
      const long = err.code === 'FST_ERR_MAX_PARAM_LENGTH';
      void (res as unknown as FastifyReply)
        .code(long ? 414 : 400)
        .headers(SECURITY_HEADERS)
        .send({ error: { code: 'TW_HTTP_REQUEST', message: long ? 'a path segment is longer than 100 characters' : 'malformed percent-encoding in the path' } });
    },
    // HTTPS through a server factory: an https.Server handles requests exactly as an http.Server
    // does, and the instance keeps its plain type (no route depends on the server's type).
    ...(opts.tls !== undefined ? { serverFactory: httpsFactory(opts.tls) } : {}),
  });
  const deps: RouteDeps = {
    store: opts.store,
    telemetry: opts.telemetry,
    log: opts.log ?? silentLogger,
    now: opts.now ?? Date.now,
    ops: opts.ops ?? new OpsState(),
    coarse: opts.coarse,
    csrf: randomBytes(24).toString('base64url'),
    persist: opts.persist,
  };
  const token = opts.token;
  const allowed = opts.allowedHosts === undefined ? LOOPBACK_HOSTS : opts.allowedHosts;

  app.addHook('onRequest', async (req, reply) => {
    reply.headers(SECURITY_HEADERS);
    if (allowed !== null && !allowed.includes(req.hostname)) {
      deps.telemetry?.add('tidewatch_dashboard_requests_rejected_total', { reason: 'host' });
      return reply.code(403).send({ error: { code: 'TW_HTTP_REQUEST', message: 'unexpected Host header' } });
    }
    if (token !== undefined && req.url !== '/healthz') {
      const auth = req.headers.authorization;
      const bearer = auth !== undefined && auth.startsWith('Bearer ') ? auth.slice(7) : undefined;
      const fromQuery = req.method === 'GET' && req.url.split('?')[0] === '/' ? new URLSearchParams(req.url.split('?')[1] ?? '').get('token') : null;
      if (fromQuery !== null && sameToken(fromQuery, token)) {
        // Trade the token in the address for a cookie, and drop it from the address bar.
        return reply
          // Secure over HTTPS: the browser then never sends the token over plain HTTP.
          .header('set-cookie', `tw_token=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Strict${opts.tls !== undefined ? '; Secure' : ''}`)
          .redirect('/', 303);
      }
      const given = bearer ?? cookie(req.headers.cookie, 'tw_token');
      if (given === undefined || !sameToken(given, token)) {
        deps.telemetry?.add('tidewatch_dashboard_requests_rejected_total', { reason: 'token' });
        return reply.code(401).header('www-authenticate', 'Bearer').send({ error: { code: 'TW_HTTP_REQUEST', message: 'token required: open /?token=… once, or send Authorization: Bearer …' } });
      }
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      // CSRF: a state-changing request must carry the page's token in a custom header (which a
      // cross-site form cannot send, and a cross-site script cannot read), and come from this origin.
      const origin = req.headers.origin;
      if (origin !== undefined && origin !== 'null' && hostOf(origin) !== req.headers.host) {
        deps.telemetry?.add('tidewatch_dashboard_requests_rejected_total', { reason: 'origin' });
        return reply.code(403).send({ error: { code: 'TW_HTTP_REQUEST', message: 'cross-origin request refused' } });
      }
      const csrf = req.headers['x-tidewatch-csrf'];
      if (typeof csrf !== 'string' || !sameToken(csrf, deps.csrf)) {
        deps.telemetry?.add('tidewatch_dashboard_requests_rejected_total', { reason: 'csrf' });
        return reply.code(403).send({ error: { code: 'TW_HTTP_REQUEST', message: 'missing or wrong x-tidewatch-csrf header (GET /api/v1/session gives it)' } });
      }
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
  registerOps(app, deps);
  registerOpenApi(app);
  registerStream(app, deps, opts.stream ?? {});
  registerStatic(app, opts.uiDir);
  return app;
}
