/**
 * JSON lines: a top-level object becomes attributes; nested objects are flattened into dotted
 * keys (`{"http":{"status":200}}` → `http.status`), as OpenTelemetry attribute maps are flat.
 * Arrays stay arrays (their objects are kept whole). JSON.parse is the fastest JSON reader in
 * Node (bench/parse.mjs), and it has no backtracking; the cost beyond it is the flattening walk,
 * bounded by `maxDepth` (deeper objects are kept whole under the key where the limit was hit).
 */
import type { AttrValue } from '../../core/model.js';
import { fail, text, type Fields, type ParseResult } from './result.js';

export interface JsonOptions {
  /** Prefix for every key (`''`: the keys as they are). */
  readonly prefix?: string;
  /** Flatten nested objects into dotted keys (default true). */
  readonly flatten?: boolean;
  /** Nested objects deeper than this are kept whole (default 8). */
  readonly maxDepth?: number;
  /** Longer inputs are refused with reason `too_long` (default 1 MiB of characters). */
  readonly maxChars?: number;
}

export function parseJson(input: string | Buffer, opts: JsonOptions = {}, into: Fields = {}): ParseResult {
  const s = text(input);
  if (s.length > (opts.maxChars ?? 1_048_576)) return fail('too_long');
  // Cheap refusal of the common non-JSON line before JSON.parse allocates an exception.
  let i = 0;
  while (i < s.length && (s.charCodeAt(i) === 32 || s.charCodeAt(i) === 9)) i++;
  if (s.charCodeAt(i) !== 123 /* { */) return fail(i === s.length ? 'empty' : 'not_object');
  let v: unknown;
  try {
    v = JSON.parse(s);
  } catch {
    return fail('invalid_json');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail('not_object');
  const prefix = opts.prefix ?? '';
  if (opts.flatten === false) {
    for (const k in v as Record<string, AttrValue>) set(into, prefix + k, (v as Record<string, AttrValue>)[k]!);
  } else flattenInto(into, v as Record<string, AttrValue>, prefix, opts.maxDepth ?? 8);
  return { ok: true, fields: into };
}

/** Writes `obj`'s entries into `out` with dotted keys under `prefix`. */
export function flattenInto(out: Fields, obj: Record<string, AttrValue>, prefix: string, depth: number): void {
  for (const k in obj) {
    const v = obj[k]!;
    const key = prefix === '' ? k : joinKey(prefix, k);
    if (typeof v === 'object' && v !== null && !Array.isArray(v) && depth > 1) flattenInto(out, v, joinKey(key, '.'), depth - 1);
    else set(out, key, v);
  }
}

/**
 * Dotted keys repeat on every line of a stream (`res.statusCode`); a fresh concatenation would be
 * flattened and looked up in V8's string table on each store, a cached one is already internal:
 * about 15 % of parseJson in bench/parse.mjs. A pure memo, bounded (MAX_PREFIXES prefixes of
 * MAX_KEYS keys each); beyond it keys are simply concatenated again, nothing is lost.
 */
const MAX_PREFIXES = 256;
const MAX_KEYS = 256;
const joined = new Map<string, Map<string, string>>();

function joinKey(prefix: string, k: string): string {
  let m = joined.get(prefix);
  if (m === undefined) {
    if (joined.size >= MAX_PREFIXES) return prefix + k;
    m = new Map();
    joined.set(prefix, m);
  }
  let s = m.get(k);
  if (s === undefined) {
    s = prefix + k;
    if (m.size < MAX_KEYS) m.set(k, s);
  }
  return s;
}

function set(out: Fields, key: string, v: AttrValue): void {
  // A JSON key "__proto__" is an own data property after JSON.parse; plain assignment would set
  // the prototype of `out` instead of a field.
  if (key === '__proto__') Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
  else out[key] = v;
}
