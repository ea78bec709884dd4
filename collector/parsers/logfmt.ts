/**
 * logfmt (`level=info msg="user logged in" user_id=42 cached`), as go-logfmt and Heroku read
 * it: pairs separated by spaces; a value is bare (up to the next space) or double-quoted with
 * backslash escapes; a key alone is `true`; `key=` is the empty string. One forward pass over
 * the characters, no regular expression. Values stay strings: logfmt has no types, and a later
 * step (or log_to_metric) converts what it needs.
 *
 * A line with no `key=` pair at all is not logfmt (reason `no_pairs`): free text would
 * otherwise become a map of words set to true. An unterminated quote fails (`unterminated_quote`).
 */
import { fail, text, type Fields, type ParseResult } from './result.js';

export interface LogfmtOptions {
  readonly prefix?: string;
  /** Longer inputs are refused with reason `too_long` (default 64 KiB of characters). */
  readonly maxChars?: number;
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

export function parseLogfmt(input: string | Buffer, opts: LogfmtOptions = {}, into: Fields = {}): ParseResult {
  const s = text(input);
  if (s.length > (opts.maxChars ?? 65_536)) return fail('too_long');
  const prefix = opts.prefix ?? '';
  const n = s.length;
  let i = 0;
  let pairs = 0;
  while (i < n) {
    while (i < n && isSpace(s.charCodeAt(i))) i++;
    if (i >= n) break;
    const ks = i;
    // A key runs to '=', a space, or a quote (a stray quote ends it: `a"b` is not a key).
    while (i < n) {
      const c = s.charCodeAt(i);
      if (c === 61 /* = */ || isSpace(c) || c === 34 /* " */) break;
      i++;
    }
    if (i === ks) {
      // A quote where a key should be: free text, skip the quoted run.
      if (s.charCodeAt(i) === 34) {
        const end = s.indexOf('"', i + 1);
        if (end < 0) return fail('unterminated_quote');
        i = end + 1;
      } else i++;
      continue;
    }
    const key = prefix + s.slice(ks, i);
    if (s.charCodeAt(i) !== 61) {
      if (s.charCodeAt(i) === 34) {
        // `a"b` : not a key=value token; skip to the next space.
        while (i < n && !isSpace(s.charCodeAt(i))) i++;
        continue;
      }
      put(into, key, true);
      continue;
    }
    i++; // '='
    if (s.charCodeAt(i) === 34) {
      i++;
      let start = i;
      let out: string | undefined;
      while (i < n) {
        const c = s.charCodeAt(i);
        if (c === 34) break;
        if (c === 92 /* \ */ && i + 1 < n) {
          out = (out ?? '') + s.slice(start, i) + unescape(s.charCodeAt(i + 1));
          i += 2;
          start = i;
          continue;
        }
        i++;
      }
      if (i >= n) return fail('unterminated_quote');
      put(into, key, out === undefined ? s.slice(start, i) : out + s.slice(start, i));
      i++;
    } else {
      const vs = i;
      while (i < n && !isSpace(s.charCodeAt(i))) i++;
      put(into, key, s.slice(vs, i));
    }
    pairs++;
  }
  return pairs === 0 ? fail('no_pairs') : { ok: true, fields: into };
}

function unescape(c: number): string {
  switch (c) {
    case 110: return '\n';
    case 116: return '\t';
    case 114: return '\r';
    default: return String.fromCharCode(c);
  }
}

function put(into: Fields, key: string, v: string | boolean): void {
  if (key === '__proto__') Object.defineProperty(into, key, { value: v, enumerable: true, writable: true, configurable: true });
  else into[key] = v;
}
