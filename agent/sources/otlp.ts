/**
 * `otlp` source: the agent as an OpenTelemetry exporter target. OTLP/HTTP (`POST /v1/metrics`,
 * `POST /v1/logs`, JSON or protobuf, gzip or deflate) on 127.0.0.1:4318 and OTLP/gRPC on
 * 127.0.0.1:4317 by default. A request is answered 200 only after every sink downstream made its
 * data durable (SourceContext.emit resolved); otherwise the sender is told to retry.
 *
 * The gRPC stack is imported only when the grpc endpoint is enabled (start()), so an agent
 * without gRPC never loads @grpc/grpc-js.
 */
import { Type } from '@sinclair/typebox';
import { TidewatchError } from '../../core/errors.js';
import { ServerTlsSchema, checkListener, isLoopbackHost, readServerTls } from '../../core/listen-security.js';
import type { Source, SourceFactory } from '../../core/component.js';
import { CumulativeToDelta } from './otlp/delta.js';
import { parseEndpoint } from './otlp/endpoint.js';
import { OtlpHttpServer } from './otlp/http.js';
import type { OtlpGrpcServer } from './otlp/grpc.js';
import { Receiver } from './otlp/receiver.js';

export const OtlpSourceSchema = Type.Object(
  {
    http_endpoint: Type.String({
      default: '127.0.0.1:4318',
      description: 'host:port for OTLP/HTTP; loopback by default so nothing is exposed unless asked; "" disables HTTP.',
    }),
    grpc_endpoint: Type.String({
      default: '127.0.0.1:4317',
      description: 'host:port for OTLP/gRPC (several SDKs default to it); "" disables gRPC and never loads the gRPC library.',
    }),
    max_body_bytes: Type.Integer({
      default: 4 * 1024 * 1024,
      minimum: 1024,
      description: 'Largest request body, enforced while reading and again on the decompressed size (413 / RESOURCE_EXHAUSTED).',
    }),
    max_in_flight: Type.Integer({
      default: 16,
      minimum: 1,
      description: 'Requests decoded and awaiting durability at once, HTTP and gRPC together; beyond it 429 / UNAVAILABLE with Retry-After. Bounds memory.',
    }),
    max_in_flight_bytes: Type.Integer({
      default: 32 * 1024 * 1024,
      minimum: 1024,
      description: 'Decompressed request bytes in flight, all requests together; decoded data takes several times its wire size, so this bounds memory where a count cannot. Beyond it 429 / UNAVAILABLE.',
    }),
    retry_after_s: Type.Integer({ default: 5, minimum: 1, description: 'Retry-After seconds sent with 429 and 503, which the OpenTelemetry exporters honour.' }),
    read_timeout_ms: Type.Integer({ default: 30_000, minimum: 100, description: 'Time allowed to receive a whole HTTP request or gRPC request message; a slow client cannot hold a slot forever.' }),
    max_connections: Type.Integer({ default: 1024, minimum: 1, description: 'Open connections at most, on each listener (HTTP and gRPC); the rest are refused and counted.' }),
    grpc_idle_timeout_ms: Type.Integer({ default: 300_000, minimum: 100, description: 'A gRPC connection with no call for this long is closed (GOAWAY); clients reconnect when they next export.' }),
    auth_token: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'When set, requests need `Authorization: Bearer <token>` (HTTP header or gRPC metadata); 401 / UNAUTHENTICATED otherwise. Required (16+ characters) when an endpoint is not loopback; write ${ENV_VAR}.',
      }),
    ),
    tls: Type.Optional(ServerTlsSchema),
    cumulative_to_delta: Type.Boolean({
      default: false,
      description: 'Turn cumulative sums and histograms into deltas (first point of a series is a baseline, sender restarts are detected); off keeps what the sender sent.',
    }),
    max_delta_series: Type.Integer({ default: 100_000, minimum: 1, description: 'Series remembered for cumulative_to_delta; the least recently seen is forgotten beyond it (counted).' }),
  },
  { additionalProperties: false },
);

export { parseEndpoint };

export interface OtlpSource extends Source {
  /** Bound ports once started (0 when that protocol is disabled); for tests and logs. */
  readonly ports: { http: number; grpc: number };
}

export const otlpSource: SourceFactory<typeof OtlpSourceSchema> = {
  type: 'otlp',
  role: 'source',
  description: 'Receives OpenTelemetry metrics and logs over OTLP/HTTP (JSON, protobuf) and OTLP/gRPC.',
  schema: OtlpSourceSchema,
  create(config, ctx): OtlpSource {
    const http = config.http_endpoint === '' ? undefined : parseEndpoint(config.http_endpoint, `sources.${ctx.name}.http_endpoint`);
    const grpc = config.grpc_endpoint === '' ? undefined : parseEndpoint(config.grpc_endpoint, `sources.${ctx.name}.grpc_endpoint`);
    // Off loopback, a token is required (TW_LISTEN_UNPROTECTED), checked before anything listens.
    if (http !== undefined) checkListener(`sources.${ctx.name}.http_endpoint`, http.host, config.auth_token, `sources.${ctx.name}.auth_token`);
    if (grpc !== undefined) checkListener(`sources.${ctx.name}.grpc_endpoint`, grpc.host, config.auth_token, `sources.${ctx.name}.auth_token`);
    let delta: CumulativeToDelta | undefined;
    // Series whose start time is later than this are known complete: their first point is a whole delta.
    let startedAt = ctx.now();
    const receiver = new Receiver(ctx, {
      maxInFlight: config.max_in_flight,
      maxInFlightBytes: config.max_in_flight_bytes,
      authToken: config.auth_token,
      ...(config.cumulative_to_delta
        ? {
            transform: (events) => {
              delta ??= new CumulativeToDelta(startedAt, config.max_delta_series);
              const before = { ...delta.stats };
              const out = delta.convertAll(events);
              for (const reason of ['baseline', 'outOfOrder', 'evicted'] as const) {
                const n = delta.stats[reason] - before[reason];
                if (n > 0) ctx.telemetry.add('tidewatch_events_dropped_total', { component: ctx.name, reason: `delta_${reason}` }, n);
              }
              return out;
            },
          }
        : {}),
    });
    let httpServer: OtlpHttpServer | undefined;
    let grpcServer: OtlpGrpcServer | undefined;
    const ports = { http: 0, grpc: 0 };
    const log = ctx.log;
    return {
      ports,
      async start() {
        startedAt = ctx.now();
        if (http === undefined && grpc === undefined) {
          throw new TidewatchError('TW_CONFIG_SCHEMA', `sources.${ctx.name}: both http_endpoint and grpc_endpoint are disabled`);
        }
        const tls = config.tls === undefined ? undefined : await readServerTls(config.tls, `sources.${ctx.name}`);
        if (http !== undefined) {
          httpServer = new OtlpHttpServer(
            receiver,
            { ...http, maxBodyBytes: config.max_body_bytes, retryAfterS: config.retry_after_s, readTimeoutMs: config.read_timeout_ms, maxConnections: config.max_connections, ...(tls ? { tls } : {}) },
            log,
          );
          ports.http = (await httpServer.start()).port;
        }
        if (grpc !== undefined) {
          const { OtlpGrpcServer } = await import('./otlp/grpc.js');
          grpcServer = new OtlpGrpcServer(receiver, { ...grpc, maxBodyBytes: config.max_body_bytes, readTimeoutMs: config.read_timeout_ms, maxConnections: config.max_connections, idleTimeoutMs: config.grpc_idle_timeout_ms, ...(tls ? { tls } : {}) }, log);
          try {
            ports.grpc = await grpcServer.start();
          } catch (err) {
            await httpServer?.stop();
            throw err;
          }
        }
        log.info('otlp listening', {
          ...(http ? { http: `${http.host}:${ports.http}` } : {}),
          ...(grpc ? { grpc: `${grpc.host}:${ports.grpc}` } : {}),
          auth: config.auth_token !== undefined,
          tls: tls !== undefined ? (tls.requestCert ? 'mutual' : 'on') : 'off',
        });
        const exposed = [http, grpc].some((e) => e !== undefined && !isLoopbackHost(e.host));
        if (exposed && tls === undefined) log.warn('otlp listens off loopback without tls: the bearer token and the data cross the network in clear', {});
      },
      async stop() {
        await Promise.all([httpServer?.stop(), grpcServer?.stop()]);
        httpServer = undefined;
        grpcServer = undefined;
      },
    };
  },
};
