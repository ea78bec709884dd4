/**
 * The dashboard role, assembled: stores, persistence under `<data_dir>/dashboard`, the feeds
 * that read the rollups, alerts, patterns, agents and tail topics from a transport, and the HTTP
 * server. `tidewatch dashboard` runs it over the configured transport; tests run it over a bus.
 *
 * Binding to a non-loopback address without a token is refused (TW_USAGE): anyone on the
 * network could otherwise read the logs.
 */
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { TidewatchError } from '../core/errors.js';
import { isLoopbackHost, readServerTls, type ServerTls } from '../core/listen-security.js';
import type { Logger } from '../core/log.js';
import type { Telemetry } from '../core/telemetry.js';
import type { Subscription, Transport } from '../core/transport.js';
import { feedStore } from './feed.js';
import { OpsState } from './ops.js';
import { DEFAULT_OPS_TOPICS, feedOps } from './ops-feed.js';
import { Persistence } from './persist.js';
import { buildServer } from './server.js';
import type { StreamOptions } from './routes/stream.js';
import { SeriesStore } from './store.js';

export interface DashboardServiceOptions {
  transport: Transport;
  host?: string;
  port?: number;
  token?: string;
  /** Serve HTTPS (files read at start); with client_ca_file, clients need a certificate too. */
  tls?: ServerTls;
  /** Persistence under `<dataDir>/dashboard`; none when undefined. */
  dataDir?: string;
  rollupsTopic?: string;
  opsTopics?: readonly string[];
  groupId?: string;
  telemetry?: Telemetry;
  log?: Logger;
  now?: () => number;
  stream?: StreamOptions;
}

export interface DashboardService {
  readonly url: string;
  readonly server: FastifyInstance;
  readonly store: SeriesStore;
  readonly coarse: SeriesStore;
  readonly ops: OpsState;
  readonly persistence: Persistence | undefined;
  stop(): Promise<void>;
}

/** Refuses a non-loopback listen address without a token of at least 16 characters. */
export function checkBind(host: string, token: string | undefined): void {
  if (!isLoopbackHost(host) && (token === undefined || token.length < 16)) {
    throw new TidewatchError('TW_USAGE', `dashboard: listening on ${host} (not loopback) needs a token of at least 16 characters (--token or TIDEWATCH_DASHBOARD_TOKEN)`);
  }
  if (token !== undefined && token.length < 16) throw new TidewatchError('TW_USAGE', 'dashboard: the token must have at least 16 characters');
}

export async function startDashboard(o: DashboardServiceOptions): Promise<DashboardService> {
  const host = o.host ?? '127.0.0.1';
  const loopback = isLoopbackHost(host);
  checkBind(host, o.token);
  const tls = o.tls === undefined ? undefined : await readServerTls(o.tls, 'dashboard');
  const store = new SeriesStore();
  // One point a minute for 7 days.
  const coarse = new SeriesStore({ pointsPerSeries: 7 * 24 * 60 });
  const ops = new OpsState();
  const persistence = o.dataDir === undefined ? undefined : new Persistence({ dir: join(o.dataDir, 'dashboard'), ...(o.now ? { now: o.now } : {}) });
  persistence?.attach(store, coarse, ops);
  const server = buildServer({
    store,
    coarse,
    ops,
    ...(o.telemetry ? { telemetry: o.telemetry } : {}),
    ...(o.log ? { log: o.log } : {}),
    ...(o.now ? { now: o.now } : {}),
    ...(o.stream ? { stream: o.stream } : {}),
    ...(o.token !== undefined ? { token: o.token } : {}),
    ...(tls !== undefined ? { tls } : {}),
    ...(persistence !== undefined ? { persist: persistence } : {}),
    // Behind a non-loopback address the Host check cannot list every name; the token protects it.
    allowedHosts: loopback ? undefined : null,
  } as Parameters<typeof buildServer>[0]);
  const subs: Subscription[] = [];
  const stop = async (): Promise<void> => {
    for (const s of subs.splice(0)) await s.close();
    await server.close();
    persistence?.close();
  };
  try {
    subs.push(await feedStore({ transport: o.transport, store, topic: o.rollupsTopic ?? 'tidewatch.rollups', groupId: `${o.groupId ?? 'tidewatch.dashboard'}`, ...(o.telemetry ? { telemetry: o.telemetry } : {}) }));
    subs.push(
      await feedOps({
        transport: o.transport,
        ops,
        topics: o.opsTopics ?? Object.values(DEFAULT_OPS_TOPICS),
        groupId: `${o.groupId ?? 'tidewatch.dashboard'}.ops`,
        ...(o.telemetry ? { telemetry: o.telemetry } : {}),
        ...(persistence ? { persist: persistence } : {}),
      }),
    );
    try {
      await server.listen({ host, port: o.port ?? 9470 });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new TidewatchError('TW_LISTEN', `dashboard: cannot listen on ${host}:${o.port ?? 9470} (${code ?? String(err)})`, { port: o.port ?? 9470 }, { cause: err });
    }
  } catch (err) {
    await stop();
    throw err;
  }
  const { port } = server.server.address() as AddressInfo;
  const url = `${tls !== undefined ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}/`;
  return { url, server, store, coarse, ops, persistence, stop };
}
