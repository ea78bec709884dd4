/**
 * Runs one role (agent or collector) from a config file until SIGTERM/SIGINT, then stops the
 * pipelines in order (flushing and committing) and returns 0, or 1 when the drain did not finish
 * within --stop-timeout-ms (the log line says what was not confirmed).
 *
 * SIGHUP reloads the config file. An invalid config (or one that cannot start) leaves the old
 * pipelines running and is logged with its TW_* code. A valid one replaces the runner: the old one
 * stops (its sources save their checkpoints), then the new one starts from those checkpoints, so
 * lines written meanwhile are read by the new runner and no file position is lost. Lines sent but
 * not yet confirmed when the old runner stopped are sent again (at least once, DESIGN.md).
 *
 * While it runs, <data_dir>/status.json is rewritten every second for `tidewatch status`.
 */
import { join, relative, resolve } from 'node:path';
import type { ComponentEntry } from '../core/component.js';
import { loadConfig } from '../core/config/load.js';
import type { TidewatchConfig } from '../core/config/load.js';
import { TidewatchError, errorCodeOf } from '../core/errors.js';
import { resolveIdentity } from '../core/identity.js';
import { createLogger } from '../core/log.js';
import type { Level, Logger } from '../core/log.js';
import { PipelineRunner } from '../core/runner.js';
import { within } from '../core/within.js';
import { MemoryTelemetry } from '../core/telemetry.js';
import type { TelemetrySample } from '../core/telemetry.js';
import { parseArgs, stringFlag } from './args.js';
import { exitBackstop } from './exit.js';
import type { FlagSpec } from './args.js';
import type { CommandIO } from './io.js';
import { keptTelemetry, writeStatus } from './status-file.js';
import type { LastError, SourceStatus, StatusSnapshot } from './status-file.js';

/** A role's own flags (collector --stage) and how they adjust the loaded config. */
export interface RoleExtras {
  flags: Record<string, FlagSpec>;
  usage: string;
  prepare(config: TidewatchConfig, flags: Map<string, string | true>): void;
}

const LEVELS: readonly Level[] = ['debug', 'info', 'warn', 'error'];
const DEFAULT_STOP_TIMEOUT_MS = 10_000;
const STATUS_INTERVAL_MS = 1000;

/** TW_LOG_LEVEL (the environment, e.g. a systemd drop-in) wins over the config's log.level. */
function levelOf(config: TidewatchConfig, env: CommandIO['env']): Level {
  const fromEnv = env['TW_LOG_LEVEL'];
  if (fromEnv === undefined || fromEnv === '') return config.log.level;
  if (!(LEVELS as readonly string[]).includes(fromEnv)) throw new TidewatchError('TW_USAGE', `TW_LOG_LEVEL must be one of ${LEVELS.join(', ')}, not '${fromEnv}'`);
  return fromEnv as Level;
}

function sourcesOf(config: TidewatchConfig): SourceStatus[] {
  return Object.entries(config.sources).map(([name, c]) => {
    const s: SourceStatus = { name, type: c.type };
    if (c.type === 'file') {
      // The file source keeps its checkpoint in <data_dir>/source/<name> (agent/sources/file.ts).
      s.state_dir = relative(config.data_dir, join(config.data_dir, 'source', name));
      if (typeof c['max_inflight_bytes'] === 'number') s.max_inflight_bytes = c['max_inflight_bytes'];
    }
    return s;
  });
}

/** What the runner took in and did not confirm or drop: what a timed-out drain leaves behind. */
function unconfirmed(samples: TelemetrySample[]): Record<string, number> {
  const sum = (name: string): number => samples.filter((s) => s.name === name).reduce((a, s) => a + s.value, 0);
  const gauge = (name: string): number => sum(name);
  return {
    events_received: sum('tidewatch_events_received_total'),
    events_sent: sum('tidewatch_events_sent_total'),
    events_dropped: sum('tidewatch_events_dropped_total'),
    file_unconfirmed_bytes: gauge('tidewatch_file_unconfirmed_bytes'),
    file_inflight_bytes: gauge('tidewatch_file_inflight_bytes'),
  };
}

export async function runRole(role: string, argv: string[], io: CommandIO, components: readonly ComponentEntry[], extras?: RoleExtras): Promise<number> {
  const flags = parseArgs(argv, { config: { value: true }, help: { value: false }, 'stop-timeout-ms': { value: true }, ...extras?.flags }, role);
  if (flags.has('help')) {
    io.stdout(
      `Usage: tidewatch ${role} --config FILE [--stop-timeout-ms N]${extras?.usage ?? ''}\n\n` +
        `Runs the ${role}'s pipelines until SIGTERM, then flushes, commits and exits 0.\n` +
        `SIGHUP re-reads the config: an invalid one is logged and the running pipelines go on.\n` +
        `--stop-timeout-ms: how long SIGTERM may take to drain (default ${DEFAULT_STOP_TIMEOUT_MS}); after it, exit 1.\n` +
        `TW_LOG_LEVEL=debug|info|warn|error overrides the config's log.level.\n`,
    );
    return 0;
  }
  const file = stringFlag(flags, 'config');
  if (file === undefined) throw new TidewatchError('TW_USAGE', `${role}: --config FILE is required`);
  const stopRaw = stringFlag(flags, 'stop-timeout-ms');
  const stopTimeoutMs = stopRaw === undefined ? DEFAULT_STOP_TIMEOUT_MS : Number(stopRaw);
  if (!Number.isInteger(stopTimeoutMs) || stopTimeoutMs < 0) throw new TidewatchError('TW_USAGE', `${role}: --stop-timeout-ms must be a whole number of milliseconds`);

  const load = async (): Promise<TidewatchConfig> => {
    const c = await loadConfig(file, { env: io.env, components });
    extras?.prepare(c, flags);
    return c;
  };
  let config = await load();

  // The last warning or error logged, for `tidewatch status`. Logs are rare (never per event), so
  // looking at each line costs nothing.
  let lastError: LastError | undefined;
  const write = (line: string): void => {
    io.stderr(line);
    if (line.includes('"level":"error"') || line.includes('"level":"warn"')) {
      try {
        const rec = JSON.parse(line) as Record<string, unknown>;
        const err = rec['err'] as { message?: string; code?: string } | undefined;
        lastError = { time: String(rec['time']), level: String(rec['level']), msg: String(rec['msg']) };
        const code = typeof rec['code'] === 'string' ? rec['code'] : err?.code;
        if (code !== undefined) lastError.code = code;
        if (err?.message !== undefined) lastError.error = err.message;
      } catch {
        // not one of ours: nothing to record
      }
    }
  };
  const makeLog = (c: TidewatchConfig): Logger => createLogger({ level: levelOf(c, io.env), write, base: { role } });
  let log = makeLog(config);

  // One telemetry for every runner a reload creates: counters keep counting across reloads.
  const telemetry = new MemoryTelemetry();
  const makeRunner = async (c: TidewatchConfig, l: Logger): Promise<PipelineRunner> => {
    const { agentId, hostName } = await resolveIdentity(c.data_dir, c.agent);
    return new PipelineRunner({ config: c, components, agentId, hostName, log: l, telemetry });
  };
  let runner = await makeRunner(config, log);
  // Signals are caught from before the start: one that arrives while the components start stops
  // them in order once they have (exit 0), instead of killing the process mid-start; a start that
  // then outlasts the stop timeout exits 1. The event loop is held open only once the start
  // succeeded: a failed start must let the process exit with its error.
  const stop = io.waitForStop({ hold: false });
  const starting = runner.start();
  if (await Promise.race([starting.then(() => false), stop.then(() => true)])) {
    if (!(await within(starting.then(() => true), stopTimeoutMs))) {
      log.error('stop timed out: the start had not finished', { code: 'TW_STOP_TIMEOUT', stop_timeout_ms: stopTimeoutMs });
      exitBackstop(1, (n) => log.error('a file system call does not return; killing the process', { code: 'TW_STOP_TIMEOUT', fs_calls_pending: n }));
      return 1;
    }
  }
  io.waitForStop();

  const startedAt = new Date().toISOString();
  let state: StatusSnapshot['state'] = 'running';
  const reloads: StatusSnapshot['reloads'] = { ok: 0, failed: 0 };
  const snapshot = (): StatusSnapshot => ({
    v: 1,
    role,
    pid: process.pid,
    config: resolve(file),
    data_dir: config.data_dir,
    started_at: startedAt,
    updated_at: new Date().toISOString(),
    state,
    reloads: { ...reloads },
    ...(lastError !== undefined ? { last_error: lastError } : {}),
    sources: sourcesOf(config),
    telemetry: keptTelemetry(runner.telemetry.snapshot()),
  });
  let statusWrite: Promise<void> = Promise.resolve();
  const publish = (): Promise<void> => {
    const snap = snapshot();
    statusWrite = statusWrite.then(() => writeStatus(snap.data_dir, snap)).catch((err: unknown) => log.debug('status file not written', { err }));
    return statusWrite;
  };
  void publish();
  const statusTimer = setInterval(() => void publish(), STATUS_INTERVAL_MS);
  statusTimer.unref();

  const reject = (err: unknown, why: string): void => {
    reloads.failed++;
    log.error('reload rejected; the previous config keeps running', { config: file, code: errorCodeOf(err), reason: why, err });
    void publish();
  };
  const reload = async (): Promise<void> => {
    if (state !== 'running') return;
    log.info('reloading', { config: file });
    let next: TidewatchConfig;
    let nextLog: Logger;
    try {
      next = await load();
      nextLog = makeLog(next);
      if (next.data_dir !== config.data_dir) {
        // File positions live under data_dir: a new one would restart every file from start_at.
        throw new TidewatchError('TW_CONFIG_RELOAD', `data_dir changed (${config.data_dir} → ${next.data_dir}); that needs a restart`);
      }
    } catch (err) {
      reject(err, err instanceof Error ? err.message : String(err));
      return;
    }
    state = 'reloading';
    let nextRunner: PipelineRunner;
    try {
      nextRunner = await makeRunner(next, nextLog);
    } catch (err) {
      state = 'running';
      reject(err, err instanceof Error ? err.message : String(err));
      return;
    }
    // Old stops first, so its checkpoints are on disk before the new sources read them.
    await runner.stop();
    try {
      await nextRunner.start();
    } catch (err) {
      // The new config passed validation but cannot start (a sink path that cannot be opened):
      // bring the previous config back from the checkpoints just saved.
      reject(err, `the new config did not start: ${err instanceof Error ? err.message : String(err)}`);
      runner = await makeRunner(config, log);
      await runner.start();
      state = 'running';
      return;
    }
    runner = nextRunner;
    config = next;
    log = nextLog;
    reloads.ok++;
    reloads.last_at = new Date().toISOString();
    state = 'running';
    log.info('reloaded', { config: file, pipelines: Object.keys(config.pipelines) });
    void publish();
  };
  // Reloads run one after another; SIGTERM waits for the one in progress.
  let reloading: Promise<void> = Promise.resolve();
  let reloadFailure: unknown;
  const onHup = (): void => {
    reloading = reloading.then(reload).catch((err: unknown) => {
      // Only restarting the previous config can get here: nothing runs any more.
      reloadFailure = err;
      log.error('reload failed and the previous config could not be restarted', { code: errorCodeOf(err), err });
      process.emit('SIGTERM', 'SIGTERM');
    });
  };
  process.on('SIGHUP', onHup);

  log.info('started', { config: file, data_dir: config.data_dir, pipelines: Object.keys(config.pipelines), stop_timeout_ms: stopTimeoutMs });
  const signal = await stop;
  log.info('stopping', { signal, stop_timeout_ms: stopTimeoutMs });
  const drained = await within(
    (async () => {
      await reloading;
      state = 'stopping';
      await runner.stop();
      return true;
    })(),
    stopTimeoutMs,
  );
  process.off('SIGHUP', onHup);
  clearInterval(statusTimer);
  if (!drained) {
    state = 'stopping';
    await publish();
    log.error('stop timed out: not everything was confirmed; unconfirmed file lines are read again from the checkpoint at the next start', {
      code: 'TW_STOP_TIMEOUT',
      stop_timeout_ms: stopTimeoutMs,
      ...unconfirmed(runner.telemetry.snapshot()),
    });
    // A component still waiting (a broker that does not answer) may hold the event loop open;
    // the exit code is ours to give, so the process must not outlive the timeout by much.
    exitBackstop(1, (n) => log.error('a file system call does not return; killing the process', { code: 'TW_STOP_TIMEOUT', fs_calls_pending: n }));
    return 1;
  }
  state = 'stopped';
  await publish();
  if (reloadFailure !== undefined) return 1;
  log.info('stopped');
  return 0;
}
