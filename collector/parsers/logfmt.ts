/**
 * logfmt (`level=info msg="user logged in" user_id=42 cached`), as go-logfmt and Heroku read
 * it: pairs separated by spaces; a value is bare (up to the next space) or double-quoted with
 * backslash escapes; a key alone is `true`; `key=` is the empty string. One forward pass over
 * the characters, no regular expression. Values stay strings: logfmt has no types, and a later
 * step (or log_to_metric) converts what it needs.
 *
 * A line with no `key=` pair at all is not logfmt (reason `no_pairs`): free text would
 * otherwise become a map of words set to true. An unterminated quote fails (`unterminated_quote`).
 * A line that fails writes nothing into the `into` map it was given.
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

/**
 * Pairs are collected here and written to `into` only once the whole line has parsed, so a
 * failed line leaves `into` untouched and the parse step can write straight into a record's
 * attributes (no intermediate object to fill and copy per line). Module slots, reused: the
 * parser does not re-enter itself.
 */
const pairKeys: string[] = [];
const pairValues: (string | boolean)[] = [];

export function parseLogfmt(input: string | Buffer, opts: LogfmtOptions = {}, into: Fields = {}): ParseResult {
  const s = text(input);
  if (s.length > (opts.maxChars ?? 65_536)) return fail('too_long');
  const prefix = opts.prefix ?? '';
  const n = s.length;
  let i = 0;
  let pairs = 0;
  let found = 0;
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
    if (s.charCodeAt(i) !== 61) {
      if (s.charCodeAt(i) === 34) {
        // `a"b` : not a key=value token; skip to the next space.
        while (i < n && !isSpace(s.charCodeAt(i))) i++;
        continue;
      }
      pairKeys[found] = keyAt(s, ks, i, found, prefix);
      pairValues[found++] = true;
      continue;
    }
    const key = keyAt(s, ks, i, found, prefix);
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
      pairKeys[found] = key;
      pairValues[found++] = out === undefined ? s.slice(start, i) : out + s.slice(start, i);
      i++;
    } else {
      const vs = i;
      while (i < n && !isSpace(s.charCodeAt(i))) i++;
      pairKeys[found] = key;
      pairValues[found++] = s.slice(vs, i);
    }
    pairs++;
  }
  if (pairs === 0) return fail('no_pairs');
  for (let k = 0; k < found; k++) put(into, pairKeys[k]!, pairValues[k]!);
  return { ok: true, fields: into };
}

/**
 * The keys of one stream's lines repeat in the same order (`ts level msg ...`), so the key at
 * position `idx` is compared in place with the one found there last time and, when equal, that
 * string is reused: no slice per key, and V8 stores by a key it has already internalized (each
 * fresh key string was about a fifth of logfmt parsing in bench/parse.mjs). A pure memo of
 * MEMO_KEYS positions; a miss just slices.
 */
const MEMO_KEYS = 64;
const memoRaw: (string | undefined)[] = new Array<string | undefined>(MEMO_KEYS).fill(undefined);
const memoKey: string[] = new Array<string>(MEMO_KEYS).fill('');
const memoPrefix: string[] = new Array<string>(MEMO_KEYS).fill('');

function keyAt(s: string, from: number, to: number, idx: number, prefix: string): string {
  if (idx >= MEMO_KEYS) return prefix + s.slice(from, to);
  const raw = memoRaw[idx];
  if (raw !== undefined && raw.length === to - from && memoPrefix[idx] === prefix) {
    let k = 0;
    while (k < raw.length && raw.charCodeAt(k) === s.charCodeAt(from + k)) k++;
    if (k === raw.length) return memoKey[idx]!;
  }
  const r = s.slice(from, to);
  const key = prefix + r;
  memoRaw[idx] = r;
  memoKey[idx] = key;
  memoPrefix[idx] = prefix;
  return key;
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
