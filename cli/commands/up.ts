/**
 * `tidewatch up`: agent + collector + dashboard in one process over one in-process bus.
 *
 *   files ─ file source ─► bus: tidewatch.logs ─► sniff_severity → rollup ─► bus: tidewatch.rollups ─► dashboard
 *
 * With no `--config`, a bundled generator writes realistic nginx and application logs under
 * `<data_dir>/demo/`, and the agent tails them with the real `file` source. With `--config FILE`,
 * the sources come from the file and everything else gets the defaults above (DESIGN.md).
 *
 * Durability: the file source advances a checkpoint only when the bus publish resolved, which is
 * when the collector's rollup has taken the lines. On SIGTERM everything stops in order (demo
 * writer, agent: final checkpoints; collector: final rollup values onto the bus; dashboard), so
 * a restart resumes each file where the last run stopped and counts every line once. After a
 * crash (SIGKILL, power loss), counts of the last open seconds are lost; the lines are not re-read.
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { mkdir, readFile } from 'node:fs/promises';
import { isMap, parseDocument } from 'yaml';
import { DemoLogWriter } from '../../agent/demo-logs.js';
import { components as agentComponents } from '../../agent/components.js';
import { components as collectorComponents } from '../../collector/components.js';
import type { ComponentEntry } from '../../core/component.js';
import { loadConfig, parseConfig, type ComponentConfig, type TidewatchConfig } from '../../core/config/load.js';
import { TidewatchError } from '../../core/errors.js';
import { resolveIdentity } from '../../core/identity.js';
import { createLogger, type Logger } from '../../core/log.js';
import { PipelineRunner } from '../../core/runner.js';
import { MemoryTelemetry } from '../../core/telemetry.js';
import type { Subscription } from '../../core/transport.js';
import { createBus } from '../../core/transports/bus.js';
import { feedStore } from '../../dashboard/feed.js';
import { OpsState } from '../../dashboard/ops.js';
import { DEFAULT_OPS_TOPICS, feedOps } from '../../dashboard/ops-feed.js';
import { buildServer } from '../../dashboard/server.js';
import { SeriesStore } from '../../dashboard/store.js';
import { parseArgs, stringFlag } from '../args.js';
import type { CommandIO } from '../io.js';

export const LOGS_TOPIC = 'tidewatch.logs';
export const ROLLUPS_TOPIC = 'tidewatch.rollups';
export const AGENTS_TOPIC = DEFAULT_OPS_TOPICS.agents;
export const ALERTS_TOPIC = DEFAULT_OPS_TOPICS.alerts;
/**
 * The rules `up` judges by default, on its per-second counts of log lines by severity: a share
 * of error lines that stays high, and an error rate unlike its own learned baseline.
 */
const DEFAULT_RULES = [
  {
    name: 'error_ratio_high',
    kind: 'ratio',
    numerator: { metric: 'log.records', matchers: ['severity=~"error|fatal"'] },
    denominator: { metric: 'log.records' },
    range_ms: 30_000,
    threshold: 0.1,
    for_ms: 5_000,
    severity: 'warning',
    summary: 'error lines are {{ $value }} of all lines over 30 s',
  },
  {
    name: 'error_rate_anomaly',
    kind: 'anomaly',
    metric: 'log.records',
    matchers: ['severity="error"'],
    severity: 'warning',
    summary: 'error lines per second unlike their baseline',
  },
];
/** Reserved name of the agent's heartbeat source in the embedded agent config. */
const HEARTBEAT_SOURCE = 'tidewatch_heartbeat';
export const DEFAULT_PORT = 9470;
const HOST = '127.0.0.1';

/** `$XDG_STATE_HOME/tidewatch`, else `~/.local/state/tidewatch` (the XDG base directory default). */
export function defaultDataDir(env: Readonly<Record<string, string | undefined>>): string {
  const xdg = env['XDG_STATE_HOME'];
  if (xdg !== undefined && xdg !== '' && xdg.startsWith('/')) return join(xdg, 'tidewatch');
  return join(env['HOME'] ?? homedir(), '.local', 'state', 'tidewatch');
}

function usage(env: Readonly<Record<string, string | undefined>>): string {
  return [
    'Usage: tidewatch up [--config FILE] [--port N] [--data-dir DIR]',
    '',
    'Runs agent, collector and dashboard in one process over an in-process bus, and prints the',
    'dashboard URL. Without --config it tails bundled demo logs (nginx and application logs,',
    'written under DATA_DIR/demo/, rotated at 4 MiB). SIGTERM or Ctrl-C stops it cleanly (exit 0).',
    '',
    'Options:',
    '  --config FILE    take the sources from FILE (its sinks and pipelines are not used);',
    '                   everything else gets the defaults: severity sniff, per-second rollup, dashboard',
    `  --port N         dashboard port on ${HOST} (default ${DEFAULT_PORT}; 0 picks a free one)`,
    '  --data-dir DIR   checkpoints, agent id and demo logs (default: $XDG_STATE_HOME/tidewatch when',
    `                   XDG_STATE_HOME is set, else ~/.local/state/tidewatch; here: ${defaultDataDir(env)});`,
    '                   with --config, the config\'s data_dir unless --data-dir is given',
    '',
  ].join('\n');
}

function parsePort(text: string | undefined): number {
  if (text === undefined) return DEFAULT_PORT;
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65_535) throw new TidewatchError('TW_USAGE', `up: --port expects 0 to 65535, got '${text}'`);
  return Number(text);
}

const ALL_COMPONENTS: readonly ComponentEntry[] = [
  ...agentComponents,
  ...collectorComponents.filter((c) => !agentComponents.some((a) => a.role === c.role && a.type === c.type)),
];

/** The embedded programs' configs, validated and with defaults applied by the one config loader. */
export async function embeddedConfigs(
  sources: Record<string, ComponentConfig>,
  base: { data_dir: string; agent: TidewatchConfig['agent']; log: TidewatchConfig['log'] },
  env: Readonly<Record<string, string | undefined>>,
): Promise<{ agent: TidewatchConfig; collector: TidewatchConfig }> {
  const names = Object.keys(sources);
  if (names.includes(HEARTBEAT_SOURCE)) throw new TidewatchError('TW_CONFIG_WIRING', `up: the source name ${HEARTBEAT_SOURCE} is reserved for the agent's heartbeat`);
  if (names.length === 0) throw new TidewatchError('TW_CONFIG_WIRING', 'up: the config names no sources');
  const agent = {
    data_dir: base.data_dir,
    agent: base.agent,
    log: base.log,
    // The agent's own heartbeat, so the Agents page shows this host (and its file lag).
    sources: { ...sources, [HEARTBEAT_SOURCE]: { type: 'heartbeat', interval_ms: 2000 } },
    sinks: { bus_logs: { type: 'bus', topic: LOGS_TOPIC }, bus_agents: { type: 'bus', topic: AGENTS_TOPIC } },
    pipelines: { logs: { sources: names, sinks: ['bus_logs'] }, agents: { sources: [HEARTBEAT_SOURCE], sinks: ['bus_agents'] } },
  };
  const collector = {
    data_dir: base.data_dir,
    agent: base.agent,
    log: base.log,
    sources: {
      bus_logs: { type: 'bus', topic: LOGS_TOPIC, group_id: 'tidewatch.ingest' },
      bus_rollups: { type: 'bus', topic: ROLLUPS_TOPIC, group_id: 'tidewatch.rules' },
    },
    transforms: {
      sniff: { type: 'sniff_severity' },
      rollup: { type: 'rollup' },
      // The patterns sink takes log records only (it would count log.patterns points as dropped).
      // Lines reach the dashboard only through this path (tail, pattern samples): personal data and
      // secrets (e-mail, card numbers, tokens, keys, passwords, URL credentials) are masked first.
      // IP addresses are kept: an operator reading a tail needs them, and they are not credentials.
      redact: { type: 'redact', rules: ['email', 'credit_card', 'bearer', 'jwt', 'aws_key', 'api_key', 'password', 'url_credentials'] },
      mine: { type: 'mine_templates', emit_metrics: false },
      rules: { type: 'detect_anomalies', pass_through: false, rules: DEFAULT_RULES },
    },
    sinks: {
      bus_rollups: { type: 'bus', topic: ROLLUPS_TOPIC },
      alerts: { type: 'alerts', topic: ALERTS_TOPIC },
      patterns: { type: 'patterns', topic: DEFAULT_OPS_TOPICS.patterns, tail_topic: DEFAULT_OPS_TOPICS.tail },
    },
    // The ingest stage and the rules stage, as on Kafka: the rules read the rollups topic.
    pipelines: {
      ingest: { sources: ['bus_logs'], transforms: ['sniff', 'rollup'], sinks: ['bus_rollups'] },
      // Transforms are per pipeline: this one mines templates for the Patterns page and the tail.
      patterns: { sources: ['bus_logs'], transforms: ['sniff', 'redact', 'mine'], sinks: ['patterns'] },
      rules: { sources: ['bus_rollups'], transforms: ['rules'], sinks: ['alerts'] },
    },
  };
  // JSON is YAML: going through the loader applies each component's defaults and checks options.
  // `${` is escaped so paths are taken literally (a user config was expanded when it was loaded).
  const text = (o: unknown): string => JSON.stringify(o).replace(/\$\{/g, () => '$${');
  const opts = { env, components: ALL_COMPONENTS };
  return {
    agent: await parseConfig(text(agent), '<up: agent>', opts),
    collector: await parseConfig(text(collector), '<up: collector>', opts),
  };
}

/**
 * Loads the user's config for `up`: a file that names only `sources` is complete here, so a
 * missing `data_dir` is supplied (appended as the last line, so the loader's line numbers in
 * error messages still match the file). `build`: also build the components (validate).
 */
export async function loadUpConfig(file: string, dataDir: string, env: Readonly<Record<string, string | undefined>>, build = false): Promise<TidewatchConfig> {
  const opts = { env, components: ALL_COMPONENTS, build };
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return loadConfig(file, opts); // the loader reports the read error in the usual words
  }
  const doc = parseDocument(text);
  const top = doc.contents;
  if (doc.errors.length === 0 && isMap(top) && top.flow !== true && !top.has('data_dir')) {
    text = `${text.replace(/\n*$/, '')}\ndata_dir: ${JSON.stringify(dataDir).replace(/\$\{/g, () => '$${')}\n`;
  }
  return parseConfig(text, file, opts);
}

interface Stoppable {
  readonly name: string;
  stop(): Promise<unknown>;
}

export async function run(argv: string[], io: CommandIO): Promise<number> {
  const flags = parseArgs(argv, { config: { value: true }, port: { value: true }, 'data-dir': { value: true }, help: { value: false } }, 'up');
  if (flags.has('help')) {
    io.stdout(usage(io.env));
    return 0;
  }
  const port = parsePort(stringFlag(flags, 'port'));
  const configFile = stringFlag(flags, 'config');
  const dataDirFlag = stringFlag(flags, 'data-dir');
  const fallbackDir = resolve(dataDirFlag ?? defaultDataDir(io.env));
  const user = configFile === undefined ? undefined : await loadUpConfig(configFile, fallbackDir, io.env);
  const dataDir = dataDirFlag !== undefined ? fallbackDir : resolve(user?.data_dir ?? fallbackDir);
  const log = createLogger({ level: user?.log.level ?? 'info', write: io.stderr, base: { role: 'up' } });
  if (user !== undefined) {
    const ignored = (['transforms', 'sinks', 'pipelines'] as const).filter((k) => Object.keys(user[k]).length > 0);
    if (ignored.length > 0) log.warn('up takes only the sources of --config; ignoring the rest', { config: configFile, ignored });
  }

  await mkdir(dataDir, { recursive: true });
  const demo = user === undefined ? new DemoLogWriter({ dir: join(dataDir, 'demo') }) : undefined;
  const sources: Record<string, ComponentConfig> =
    user?.sources ?? { demo: { type: 'file', include: [join(dataDir, 'demo', '*.log')], start_at: 'beginning' } };
  const configs = await embeddedConfigs(sources, { data_dir: dataDir, agent: user?.agent ?? {}, log: { level: user?.log.level ?? 'info' } }, io.env);
  const { agentId, hostName } = await resolveIdentity(dataDir, configs.agent.agent);

  const telemetry = new MemoryTelemetry();
  // Every subscriber is attached before any publisher starts, so the bus's replay ring for late
  // subscribers is not needed here: keep it small (it counts messages, and a message is a batch).
  const bus = createBus({ telemetry, retentionMessages: 64 });
  const store = new SeriesStore();
  const ops = new OpsState();
  const server = buildServer({ store, ops, telemetry, log: log.child({ component: 'dashboard' }) });
  const runnerOpts = { agentId, hostName, bus, telemetry };
  const collector = new PipelineRunner({ ...runnerOpts, config: configs.collector, components: collectorComponents, log: log.child({ program: 'collector' }) });
  const agent = new PipelineRunner({ ...runnerOpts, config: configs.agent, components: agentComponents, log: log.child({ program: 'agent' }) });

  // Stopped in reverse: upstream first, so every stage drains into one that is still running.
  const started: Stoppable[] = [];
  // From here a SIGTERM or Ctrl-C waits for the start to finish, then stops in order (exit 0).
  void io.waitForStop({ hold: false });
  let feed: Subscription | undefined;
  try {
    try {
      await server.listen({ host: HOST, port });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new TidewatchError('TW_LISTEN', `up: cannot listen on ${HOST}:${port} (${code ?? String(err)}); choose another port with --port`, { port }, { cause: err });
    }
    started.push({ name: 'dashboard', stop: () => server.close() });
    await bus.start();
    started.push({ name: 'bus', stop: () => bus.stop() });
    feed = await feedStore({ transport: bus, store, topic: ROLLUPS_TOPIC, telemetry });
    const sub = feed;
    started.push({ name: 'dashboard feed', stop: () => sub.close() });
    const opsSub = await feedOps({ transport: bus, ops, telemetry });
    started.push({ name: 'dashboard ops feed', stop: () => opsSub.close() });
    await collector.start();
    started.push({ name: 'collector', stop: () => collector.stop() });
    if (demo !== undefined) {
      await demo.start();
      started.push({ name: 'demo logs', stop: () => demo.stop() });
    }
    await agent.start();
    started.push({ name: 'agent', stop: () => agent.stop() });
  } catch (err) {
    await stopAll(started, log);
    throw err;
  }

  // Only now is the event loop held open: a failed start must let the process exit with its
  // error. Signals were caught from before the start, so one that came during it stops
  // everything in order now.
  const stop = io.waitForStop();
  const { port: actual } = server.server.address() as AddressInfo;
  const url = `http://${HOST}:${actual}/`;
  log.info('started', { url, data_dir: dataDir, agent_id: agentId, sources: Object.keys(sources), ...(demo ? { demo_logs: join(dataDir, 'demo') } : {}) });
  io.stdout(`tidewatch up: dashboard at ${url}\n`);
  io.stdout(`tidewatch up: ${demo ? `tailing demo logs in ${join(dataDir, 'demo')}` : `sources from ${configFile ?? ''}`}; data in ${dataDir}; Ctrl-C to stop\n`);

  const signal = await stop;
  log.info('stopping', { signal });
  const failed = await stopAll(started, log);
  log.info('stopped', { failed });
  return failed === 0 ? 0 : 1;
}

async function stopAll(started: Stoppable[], log: Logger): Promise<number> {
  let failed = 0;
  for (const s of started.reverse()) {
    try {
      await s.stop();
    } catch (err) {
      failed++;
      log.error('stop failed', { component: s.name, err });
    }
  }
  return failed;
}
