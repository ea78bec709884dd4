/**
 * `internal_metrics` source: the agent's own telemetry (the runner's received / sent / dropped /
 * errors counters and every component's counters and gauges), through @opentelemetry/sdk-metrics
 * (agent/self-telemetry.ts), two ways:
 *   - served at `GET /metrics` in Prometheus text on `listen` (127.0.0.1:9471 by default: next to
 *     the dashboard's 9470, loopback only; "" turns the endpoint off), plus `GET /healthz`;
 *   - emitted into its pipelines every `interval_ms` as metric points (resource
 *     service.name = tidewatch-agent), so the dashboard charts the agent itself.
 * Self-telemetry exists only when this source is configured: off by default, one line to add.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Type } from '@sinclair/typebox';
import { TidewatchError } from '../../core/errors.js';
import { BearerCheck, ServerTlsSchema, checkListener, isLoopbackHost, readServerTls } from '../../core/listen-security.js';
import type { Source, SourceFactory } from '../../core/component.js';
import type { Attributes } from '../../core/model.js';
import { agentVersion } from '../heartbeat.js';
import { SelfTelemetry } from '../self-telemetry.js';
import { parseEndpoint } from './otlp/endpoint.js';
import { TEXT_CONTENT_TYPE, renderPrometheusText } from './prometheus/render.js';

export const InternalMetricsSchema = Type.Object(
  {
    listen: Type.String({ default: '127.0.0.1:9471', description: 'host:port serving GET /metrics (Prometheus text) and /healthz; loopback by default; "" serves nothing.' }),
    auth_token: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'When set, GET /metrics needs `Authorization: Bearer <token>` (Prometheus: `authorization: { credentials: ... }`); /healthz stays open. Required (16+ characters) when listen is not loopback; write ${ENV_VAR}.',
      }),
    ),
    tls: Type.Optional(ServerTlsSchema),
    interval_ms: Type.Integer({ default: 10_000, minimum: 100, description: 'How often the agent\'s own metrics enter its pipelines.' }),
    emit: Type.Boolean({ default: true, description: 'Feed the agent\'s metrics into its pipelines (off: only /metrics).' }),
    temporality: Type.Union([Type.Literal('delta'), Type.Literal('cumulative')], {
      default: 'delta',
      description: 'Temporality of counters emitted into the pipeline (deltas add up across agents); /metrics is always cumulative.',
    }),
  },
  { additionalProperties: false },
);

export interface InternalMetricsSource extends Source {
  /** Bound port of /metrics once started (0 when off). */
  readonly port: () => number;
}

export const internalMetricsSource: SourceFactory<typeof InternalMetricsSchema> = {
  type: 'internal_metrics',
  role: 'source',
  description: 'The agent\'s own telemetry: served at /metrics (Prometheus text) and fed into its pipelines.',
  schema: InternalMetricsSchema,
  create(config, ctx): InternalMetricsSource {
    const endpoint = config.listen === '' ? undefined : parseEndpoint(config.listen, `sources.${ctx.name}.listen`);
    // Off loopback, a token is required (TW_LISTEN_UNPROTECTED), checked before anything listens.
    if (endpoint !== undefined) checkListener(`sources.${ctx.name}.listen`, endpoint.host, config.auth_token, `sources.${ctx.name}.auth_token`);
    const bearer = new BearerCheck(config.auth_token);
    const self = new SelfTelemetry(ctx.telemetry, config.temporality);
    const resource: Attributes = { 'service.name': 'tidewatch-agent', 'service.version': agentVersion(), 'host.name': ctx.hostName, 'tidewatch.agent.id': ctx.agentId };
    let server: Server | undefined;
    let timer: NodeJS.Timeout | undefined;
    let pending: Promise<void> | undefined;
    let port = 0;

    const tick = (): void => {
      if (pending !== undefined) return;
      pending = (async () => {
        const points = await self.collectForPipeline();
        for (const p of points) p.resource = resource;
        if (points.length === 0) return;
        try {
          await ctx.emit(points);
        } catch {
          ctx.telemetry.add('tidewatch_events_dropped_total', { component: ctx.name, reason: 'sink_failed' }, points.length);
        }
      })().finally(() => (pending = undefined));
    };

    return {
      port: () => port,
      async start() {
        // Always one series (restarts become visible), and a process whose other sources
        // count nothing yet (a collector) still emits, so its pipeline counters appear.
        ctx.telemetry.set('tidewatch_process_start_time_seconds', {}, Math.floor(Date.now() / 1000));
        if (endpoint !== undefined) {
          const handler = (req: IncomingMessage, res: ServerResponse): void => {
            const path = (req.url ?? '/').split('?')[0];
            if (req.method !== 'GET' && req.method !== 'HEAD') return void res.writeHead(405, { allow: 'GET' }).end();
            if (path === '/healthz') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
            if (path !== '/metrics') return void res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: GET /metrics or /healthz\n');
            if (!bearer.allows(req.headers.authorization)) {
              ctx.telemetry.add('tidewatch_metrics_requests_rejected_total', { component: ctx.name, reason: 'token' });
              return void res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer' }).end('missing or wrong bearer token\n');
            }
            self.collectCumulative().then(
              (points) => res.writeHead(200, { 'content-type': TEXT_CONTENT_TYPE }).end(renderPrometheusText(points)),
              (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`collect failed: ${(err as Error).message}\n`),
            );
          };
          const tls = config.tls === undefined ? undefined : await readServerTls(config.tls, `sources.${ctx.name}`);
          const s: Server = tls === undefined ? createServer(handler) : createTlsServer(tls, handler);
          server = s;
          await new Promise<void>((resolve, reject) => {
            s.once('error', (err: NodeJS.ErrnoException) =>
              reject(new TidewatchError('TW_LISTEN', `internal_metrics cannot listen on ${config.listen}: ${err.code ?? err.message}`, {}, { cause: err })),
            );
            s.listen(endpoint.port, endpoint.host, () => resolve());
          });
          port = (s.address() as AddressInfo).port;
          const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host;
          ctx.log.info('internal metrics listening', { metrics: `${tls ? 'https' : 'http'}://${host}:${port}/metrics`, auth: !bearer.open, tls: tls !== undefined });
          if (tls === undefined && !isLoopbackHost(endpoint.host)) ctx.log.warn('internal metrics listen off loopback without tls: the bearer token crosses the network in clear', {});
        }
        if (config.emit) {
          timer = setInterval(tick, config.interval_ms);
          timer.unref();
        }
      },
      async stop() {
        clearInterval(timer);
        timer = undefined;
        await pending;
        if (config.emit) {
          // A last collection so the pipeline sees the final counts.
          tick();
          await pending;
        }
        const s = server;
        server = undefined;
        if (s) {
          const closed = new Promise<void>((r) => s.close(() => r()));
          s.closeAllConnections();
          await closed;
        }
        await self.shutdown();
      },
    };
  },
};
