/**
 * `tidewatch validate --config FILE`: loads the config exactly as a program would (YAML, `${VAR}`
 * expansion, schemas, wiring), builds every component without starting it (what a factory checks
 * beyond its schema: patterns, presets, listeners off loopback without a token) and prints
 * `FILE: ok`, or fails with the first problem's file, line and key (TidewatchError, printed by
 * cli/main.ts with its code). A file naming only sources is checked as `tidewatch up` takes it.
 *
 * One config format serves every role, so the file is checked against every component the
 * agent or the collector ships: a type that neither ships is an error.
 */
import { readFile } from 'node:fs/promises';
import { isMap, isScalar, parseDocument } from 'yaml';
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
    io.stdout(
      'Usage: tidewatch validate --config FILE\n\nChecks a config (YAML, ${VAR} expansion, option schemas, pipeline wiring; each component is built, never started) and exits 0, or names the file, line and key of the problem. A file naming only sources (and agent, log) is checked as tidewatch up takes it.\n',
    );
    return 0;
  }
  const file = stringFlag(flags, 'config');
  if (file === undefined) throw new TidewatchError('TW_USAGE', 'validate: --config FILE is required');
  if (await isUpConfig(file)) {
    // `tidewatch up --config FILE` takes only sources and supplies data_dir and the pipelines.
    const { embeddedConfigs, loadUpConfig } = await import('./up.js');
    const user = await loadUpConfig(file, '/var/lib/tidewatch', io.env, true);
    await embeddedConfigs(user.sources, { data_dir: user.data_dir, agent: user.agent, log: user.log }, io.env);
    io.stdout(`${file}: ok (for tidewatch up, which adds data_dir and the pipelines)\n`);
    return 0;
  }
  await loadConfig(file, { env: io.env, components: allComponents(), build: true });
  io.stdout(`${file}: ok\n`);
  return 0;
}

/**
 * A config made for `tidewatch up`: a map naming sources and nothing an agent or collector also
 * needs (no data_dir, sinks, transforms or pipelines). Unreadable or malformed files are not:
 * the loader reports them in its usual words.
 */
async function isUpConfig(file: string): Promise<boolean> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return false;
  }
  const doc = parseDocument(text);
  const top = doc.contents;
  if (doc.errors.length > 0 || !isMap(top) || !top.has('sources')) return false;
  return top.items.every((p) => isScalar(p.key) && ['sources', 'agent', 'log'].includes(String(p.key.value)));
}
