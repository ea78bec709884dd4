/**
 * `tidewatch dashboard --config FILE [--host H] [--port N] [--token T]`: the dashboard role on
 * its own, reading the rollups, alerts, patterns, agents and tail topics from Kafka.
 *
 * The connection (brokers, TLS, SASL, topic prefix) is the config's first `kafka` source or sink,
 * so one config file serves the collector and the dashboard. Its data_dir holds the dashboard's
 * embedded store (`<data_dir>/dashboard`). The dashboard is not a member of the collectors'
 * groups: it reads every partition under a group id of its own (DESIGN.md).
 *
 * Binds 127.0.0.1:9470 by default. Any other address needs a token (--token, or the
 * TIDEWATCH_DASHBOARD_TOKEN environment variable, which keeps it out of `ps`).
 */
import { components as agentComponents } from '../../agent/components.js';
import { components as collectorComponents } from '../../collector/components.js';
import type { ComponentEntry } from '../../core/component.js';
import { loadConfig } from '../../core/config/load.js';
import { TidewatchError } from '../../core/errors.js';
import { isLoopbackHost } from '../../core/listen-security.js';
import { createLogger } from '../../core/log.js';
import { registerSecret } from '../../core/secrets.js';
import { MemoryTelemetry } from '../../core/telemetry.js';
import { createKafkaTransport } from '../../core/transports/kafka.js';
import { topicName, transportOptions, type KafkaCommonConfig } from '../../core/transports/kafka-config.js';
import { checkBind, startDashboard } from '../../dashboard/service.js';
import { parseArgs, stringFlag } from '../args.js';
import type { CommandIO } from '../io.js';

const USAGE = [
  'Usage: tidewatch dashboard --config FILE [--host ADDR] [--port N] [--token TOKEN] [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE]]',
  '',
  'Serves the dashboard, reading rollups, alerts, patterns, agents and the log tail from the',
  'Kafka cluster of the config\'s first kafka source or sink. Data (rollups, alerts, patterns)',
  'persists under DATA_DIR/dashboard. SIGTERM stops it cleanly (exit 0).',
  '',
  'Options:',
  '  --host ADDR   listen address (default 127.0.0.1); a non-loopback address needs a token',
  '  --port N      port (default 9470; 0 picks a free one)',
  '  --token T     require this token (16+ characters); or set TIDEWATCH_DASHBOARD_TOKEN',
  '  --tls-cert FILE, --tls-key FILE',
  '                serve HTTPS with this PEM certificate and key (advised off loopback: the token',
  '                crosses the network otherwise); --tls-client-ca FILE also requires client',
  '                certificates signed by that CA (mutual TLS)',
  '',
].join('\n');

const ALL: readonly ComponentEntry[] = [...agentComponents, ...collectorComponents.filter((c) => !agentComponents.some((a) => a.role === c.role && a.type === c.type))];

export async function run(argv: string[], io: CommandIO): Promise<number> {
  const flags = parseArgs(
    argv,
    {
      config: { value: true },
      host: { value: true },
      port: { value: true },
      token: { value: true },
      'tls-cert': { value: true },
      'tls-key': { value: true },
      'tls-client-ca': { value: true },
      help: { value: false },
    },
    'dashboard',
  );
  if (flags.has('help')) {
    io.stdout(USAGE);
    return 0;
  }
  const file = stringFlag(flags, 'config');
  if (file === undefined) throw new TidewatchError('TW_USAGE', 'dashboard: --config FILE is required');
  const portText = stringFlag(flags, 'port') ?? '9470';
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65_535) throw new TidewatchError('TW_USAGE', `dashboard: --port expects 0 to 65535, got '${portText}'`);
  const host = stringFlag(flags, 'host') ?? '127.0.0.1';
  const tokenEnv = io.env['TIDEWATCH_DASHBOARD_TOKEN'];
  const token = stringFlag(flags, 'token') ?? (tokenEnv !== undefined && tokenEnv !== '' ? tokenEnv : undefined);

  if (token !== undefined) registerSecret(token);
  checkBind(host, token);
  const certFile = stringFlag(flags, 'tls-cert');
  const keyFile = stringFlag(flags, 'tls-key');
  const clientCa = stringFlag(flags, 'tls-client-ca');
  if ((certFile === undefined) !== (keyFile === undefined)) throw new TidewatchError('TW_USAGE', 'dashboard: --tls-cert and --tls-key go together');
  if (clientCa !== undefined && certFile === undefined) throw new TidewatchError('TW_USAGE', 'dashboard: --tls-client-ca needs --tls-cert and --tls-key');
  const tls = certFile !== undefined && keyFile !== undefined ? { cert_file: certFile, key_file: keyFile, ...(clientCa !== undefined ? { client_ca_file: clientCa } : {}) } : undefined;
  const config = await loadConfig(file, { env: io.env, components: ALL });
  const kafka = [...Object.values(config.sources), ...Object.values(config.sinks)].find((c) => c.type === 'kafka') as (KafkaCommonConfig & { type: string }) | undefined;
  if (kafka === undefined) throw new TidewatchError('TW_CONFIG_WIRING', `${file}: the dashboard reads from Kafka, but the config has no kafka source or sink to take the connection from`);
  const log = createLogger({ level: config.log.level, write: io.stderr, base: { role: 'dashboard' } });
  const telemetry = new MemoryTelemetry();
  const transport = createKafkaTransport(await transportOptions(kafka, { log: log.child({ component: 'kafka' }), telemetry }));
  const prefix = kafka.topic_prefix;
  await transport.start();
  let d;
  try {
    d = await startDashboard({
      transport,
      host,
      port: Number(portText),
      ...(token !== undefined ? { token } : {}),
      ...(tls !== undefined ? { tls } : {}),
      dataDir: config.data_dir,
      rollupsTopic: topicName(prefix, 'rollups'),
      opsTopics: [topicName(prefix, 'alerts'), topicName(prefix, 'patterns'), topicName(prefix, 'agents'), `${prefix}tail`],
      telemetry,
      log,
    });
  } catch (err) {
    await transport.stop();
    throw err;
  }
  const stop = io.waitForStop();
  log.info('started', { url: d.url, data_dir: config.data_dir, auth: token !== undefined, tls: tls === undefined ? 'off' : tls.client_ca_file !== undefined ? 'mutual' : 'on' });
  if (tls === undefined && !isLoopbackHost(host)) log.warn('dashboard listens off loopback without tls: the token crosses the network in clear (--tls-cert, --tls-key)', {});
  io.stdout(`tidewatch dashboard: ${d.url}\n`);
  const signal = await stop;
  log.info('stopping', { signal });
  await d.stop();
  await transport.stop();
  return 0;
}
