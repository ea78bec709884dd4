/**
 * `${VAR}` expansion in config values (pure: the environment is passed in).
 *
 *   ${VAR}            the variable's value; an unset variable is an error (a silent empty string
 *                     would turn `brokers: ["${KAFKA}"]` into a confusing connection error later)
 *   ${VAR:-default}   the default when VAR is unset or empty (as in POSIX shells)
 *   $${               a literal `${` (so `$${HOME}` stays `${HOME}`)
 *
 * A `$` not followed by `{` is literal. Expansion is not recursive: a value or default that
 * contains `${` is kept as it is, so the environment cannot inject further references.
 */

export type Env = Readonly<Record<string, string | undefined>>;

export type ExpandResult =
  | { ok: true; value: string; expanded: boolean }
  | { ok: false; reason: 'missing'; name: string }
  | { ok: false; reason: 'malformed'; text: string };

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function expandEnv(text: string, env: Env): ExpandResult {
  // Fast path: most values have no `$` at all.
  if (!text.includes('${')) return { ok: true, value: text, expanded: false };
  let out = '';
  let expanded = false;
  let i = 0;
  while (i < text.length) {
    const at = text.indexOf('$', i);
    if (at < 0) {
      out += text.slice(i);
      break;
    }
    out += text.slice(i, at);
    if (text.startsWith('$${', at)) {
      out += '${';
      i = at + 3;
      expanded = true;
      continue;
    }
    if (text[at + 1] !== '{') {
      out += '$';
      i = at + 1;
      continue;
    }
    const close = text.indexOf('}', at + 2);
    if (close < 0) return { ok: false, reason: 'malformed', text: text.slice(at) };
    const inner = text.slice(at + 2, close);
    const sep = inner.indexOf(':-');
    const name = sep < 0 ? inner : inner.slice(0, sep);
    if (!NAME.test(name)) return { ok: false, reason: 'malformed', text: text.slice(at, close + 1) };
    const value = env[name];
    if (sep >= 0) out += value === undefined || value === '' ? inner.slice(sep + 2) : value;
    else if (value === undefined) return { ok: false, reason: 'missing', name };
    else out += value;
    expanded = true;
    i = close + 1;
  }
  return { ok: true, value: out, expanded };
}
