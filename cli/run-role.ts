/**
 * Runs one role (agent or collector) from a config file until SIGTERM/SIGINT, then stops the
 * pipelines in order (flushing and committing) and returns 0.
 */
import type { ComponentEntry } from '../core/component.js';
import { loadConfig } from '../core/config/load.js';
import type { TidewatchConfig } from '../core/config/load.js';
import { TidewatchError } from '../core/errors.js';
import { resolveIdentity } from '../core/identity.js';
import { createLogger } from '../core/log.js';
import { PipelineRunner } from '../core/runner.js';
import { parseArgs, stringFlag } from './args.js';
import type { FlagSpec } from './args.js';

/** A role's own flags (collector --stage) and how they adjust the loaded config. */
export interface RoleExtras {
  flags: Record<string, FlagSpec>;
  usage: string;
  prepare(config: TidewatchConfig, flags: Map<string, string | true>): void;
}
import type { CommandIO } from './io.js';

export async function runRole(role: string, argv: string[], io: CommandIO, components: readonly ComponentEntry[], extras?: RoleExtras): Promise<number> {
  const flags = parseArgs(argv, { config: { value: true }, help: { value: false }, ...extras?.flags }, role);
  if (flags.has('help')) {
    io.stdout(`Usage: tidewatch ${role} --config FILE${extras?.usage ?? ''}\n\nRuns the ${role}'s pipelines until SIGTERM, then flushes, commits and exits 0.\n`);
    return 0;
  }
  const file = stringFlag(flags, 'config');
  if (file === undefined) throw new TidewatchError('TW_USAGE', `${role}: --config FILE is required`);
  const config = await loadConfig(file, { env: io.env, components });
  extras?.prepare(config, flags);
  const log = createLogger({ level: config.log.level, write: io.stderr, base: { role } });
  const { agentId, hostName } = await resolveIdentity(config.data_dir, config.agent);
  const runner = new PipelineRunner({ config, components, agentId, hostName, log });
  // waitForStop holds the event loop open, so it is called only once start succeeded: a failed
  // start must let the process exit with its error.
  await runner.start();
  const stop = io.waitForStop();
  log.info('started', { config: file, agent_id: agentId, pipelines: Object.keys(config.pipelines) });
  const signal = await stop;
  log.info('stopping', { signal });
  await runner.stop();
  log.info('stopped');
  return 0;
}
