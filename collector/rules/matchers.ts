/**
 * Label matchers in Prometheus / Alertmanager syntax: `name="value"`, `name!="value"`,
 * `name=~"regex"`, `name!~"regex"` (quotes optional for plain values). Regexes are anchored at
 * both ends, as Prometheus does. A missing label matches as the empty string, so `x=""` selects
 * series without `x` and `x!=""` those with it. Regexes pass the same safety check as parse
 * patterns (collector/parsers/regex.ts): no nested or overlapping adjacent repetitions, no
 * backreferences.
 */
import { TidewatchError } from '../../core/errors.js';
import { unsafeReason } from '../parsers/regex.js';

export interface Matcher {
  readonly name: string;
  readonly op: '=' | '!=' | '=~' | '!~';
  readonly value: string;
  readonly re: RegExp | undefined;
}

const SYNTAX = /^\s*([A-Za-z_][\w.]*)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|([^"\s]*))\s*$/;

export function parseMatcher(text: string, where: string): Matcher {
  const m = SYNTAX.exec(text);
  if (m === null) throw new TidewatchError('TW_CONFIG_SCHEMA', `${where}: matcher ${JSON.stringify(text)} is not name="value", name!="value", name=~"regex" or name!~"regex"`);
  const name = m[1]!;
  const op = m[2] as Matcher['op'];
  const value = m[3] !== undefined ? (JSON.parse(`"${m[3]}"`) as string) : (m[4] ?? '');
  let re: RegExp | undefined;
  if (op === '=~' || op === '!~') {
    // Label values come from agents and scrapes: the same backtracking limits as parse patterns,
    // checked on the anchored form that runs (`\w*\w*` only costs when `$` can fail after it).
    const why = unsafeReason(`^(?:${value})$`);
    if (why !== undefined) throw new TidewatchError('TW_CONFIG_SCHEMA', `${where}: matcher ${JSON.stringify(text)} has an unsafe regex: ${why}`);
    try {
      re = new RegExp(`^(?:${value})$`);
    } catch (err) {
      throw new TidewatchError('TW_CONFIG_SCHEMA', `${where}: matcher ${JSON.stringify(text)} has an invalid regex: ${(err as Error).message}`);
    }
  }
  return { name, op, value, re };
}

export function parseMatchers(texts: readonly string[] | undefined, where: string): Matcher[] {
  return (texts ?? []).map((t) => parseMatcher(t, where));
}

export function matches(ms: readonly Matcher[], labels: Readonly<Record<string, string>>): boolean {
  for (const m of ms) {
    const v = labels[m.name] ?? '';
    switch (m.op) {
      case '=':
        if (v !== m.value) return false;
        break;
      case '!=':
        if (v === m.value) return false;
        break;
      case '=~':
        if (!m.re!.test(v)) return false;
        break;
      case '!~':
        if (m.re!.test(v)) return false;
        break;
    }
  }
  return true;
}
