/**
 * The `tidewatch` command frame. Each subcommand lives in cli/commands/<name>.ts and exports
 * `run(argv: string[], io: CommandIO): Promise<number>` (the exit code). Subcommands are imported
 * lazily, so `tidewatch agent` never loads the dashboard or the OTLP stacks.
 * Only this file (through bin/tidewatch.js) decides the process's exit code.
 */
import { readFileSync } from 'node:fs';
import { TidewatchError, isTidewatchError } from '../core/errors.js';
import { redactSecrets } from '../core/secrets.js';
import type { CommandIO } from './io.js';
import { processIO } from './io.js';

export interface CommandModule {
  run(argv: string[], io: CommandIO): Promise<number>;
}

interface CommandEntry {
  readonly summary: string;
  readonly load: () => Promise<CommandModule>;
}

/** Only commands that work are listed; each issue adds its own line when it lands. */
export const COMMANDS: Readonly<Record<string, CommandEntry>> = {
  agent: { summary: 'run the agent pipelines of a config until SIGTERM', load: () => import('./commands/agent.js') },
  collector: { summary: 'run the collector pipelines of a config until SIGTERM', load: () => import('./commands/collector.js') },
  dashboard: { summary: 'serve the dashboard, reading rollups, alerts, patterns and agents from the config\'s Kafka', load: () => import('./commands/dashboard.js') },
  detect: { summary: 'score a timestamp,value CSV with the anomaly detector (NAB-style output)', load: () => import('./commands/detect.js') },
  patterns: { summary: 'mine log templates from a file, one JSON line per input line (cluster id and template)', load: () => import('./commands/patterns.js') },
  status: { summary: 'show a running agent or collector: files, offsets, lag, buffer use, last error (--data-dir or --config)', load: () => import('./commands/status.js') },
  up: { summary: 'agent + collector + dashboard in one process, on demo logs or --config sources; prints the URL', load: () => import('./commands/up.js') },
  validate: { summary: 'check a config file (YAML, ${VAR}, option schemas, pipeline wiring)', load: () => import('./commands/validate.js') },
};

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length), 8);
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return [
    'Usage: tidewatch <command> [options]',
    '',
    'Commands:',
    ...lines,
    '',
    'Options:',
    '  --help, -h     show this help (or `tidewatch <command> --help`)',
    '  --version, -v  print the version',
    '',
  ].join('\n');
}

export async function main(argv: string[], io: CommandIO = processIO()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    io.stdout(`tidewatch ${version()}\n`);
    return 0;
  }
  const entry = COMMANDS[name];
  if (entry === undefined) {
    io.stderr(`tidewatch: unknown command '${name}' [TW_USAGE]\n\n${usage()}`);
    return 2;
  }
  try {
    const mod = await entry.load();
    return await mod.run(rest, io);
  } catch (err) {
    if (isTidewatchError(err)) {
      io.stderr(redactSecrets(`tidewatch ${name}: ${err.message} [${err.code}]\n`));
      return err.code === 'TW_USAGE' ? 2 : 1;
    }
    io.stderr(redactSecrets(`tidewatch ${name}: internal error [TW_INTERNAL]: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`));
    return 70;
  }
}

export { TidewatchError };
