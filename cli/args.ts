/** A small argv parser: `--flag value`, `--flag=value`, boolean flags. Unknown flags are usage errors. */
import { TidewatchError } from '../core/errors.js';

export interface FlagSpec {
  /** true when the flag takes a value. */
  readonly value: boolean;
}

export function parseArgs(argv: string[], spec: Readonly<Record<string, FlagSpec>>, command: string): Map<string, string | true> {
  const out = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new TidewatchError('TW_USAGE', `${command}: unexpected argument '${arg}'`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const s = spec[name];
    if (s === undefined) throw new TidewatchError('TW_USAGE', `${command}: unknown option --${name}`);
    if (!s.value) {
      if (eq >= 0) throw new TidewatchError('TW_USAGE', `${command}: --${name} takes no value`);
      out.set(name, true);
      continue;
    }
    const v = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (v === undefined) throw new TidewatchError('TW_USAGE', `${command}: --${name} needs a value`);
    out.set(name, v);
  }
  return out;
}

export function stringFlag(flags: Map<string, string | true>, name: string): string | undefined {
  const v = flags.get(name);
  return typeof v === 'string' ? v : undefined;
}
