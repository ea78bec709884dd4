/**
 * `tidewatch validate --config FILE`: loads the config exactly as a program would (YAML, `${VAR}`
 * expansion, schemas, wiring), builds every component without starting it (what a factory checks
 * beyond its schema: patterns, presets, listeners off loopback without a token) and prints `FILE: ok`, or fails with the first problem's file, line
 * and key (TidewatchError, printed by cli/main.ts with its code).
 *
 * One config format serves every role, so the file is checked against every component the
 * agent or the collector ships: a type that neither ships is an error.
 */
import { components as agentComponents } from '../../agent/components.js';
import { components as collectorComponents } from '../../collector/components.js';
import type { ComponentEntry } from '../../core/component.js';
import { loadConfig } from '../../core/config/load.js';
import type { Program } from '../../core/config/reference.js';
import { TidewatchError } from '../../core/errors.js';
import { parseArgs, stringFlag } from '../args.js';
import type { CommandIO } from '../io.js';

/** Every program's component list: what `validate` accepts and the configuration reference lists. */
export const PROGRAMS: readonly Program[] = [
  { name: 'agent', components: agentComponents },
  { name: 'collector', components: collectorComponents },
];

/** Every component of every program, once per (role, type); the agent's entry wins a tie. */
export function allComponents(): ComponentEntry[] {
  const seen = new Set<string>();
  const out: ComponentEntry[] = [];
  for (const c of PROGRAMS.flatMap((p) => p.components)) {
    const key = `${c.role}\u0000${c.type}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(c);
  }
  return out;
}

export async function run(argv: string[], io: CommandIO): Promise<number> {
  const flags = parseArgs(argv, { config: { value: true }, help: { value: false } }, 'validate');
  if (flags.has('help')) {
    io.stdout('Usage: tidewatch validate --config FILE\n\nChecks a config (YAML, ${VAR} expansion, option schemas, pipeline wiring) and exits 0, or names the file, line and key of the problem.\n');
    return 0;
  }
  const file = stringFlag(flags, 'config');
  if (file === undefined) throw new TidewatchError('TW_USAGE', 'validate: --config FILE is required');
  await loadConfig(file, { env: io.env, components: allComponents(), build: true });
  io.stdout(`${file}: ok\n`);
  return 0;
}
