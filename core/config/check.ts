/**
 * Checks a value against a TypeBox schema and turns TypeBox's errors into messages an operator
 * can act on: unknown keys (with a "did you mean"), missing keys, wrong types, allowed values.
 * Pure: no file or line knowledge here; the loader maps each issue's path to a YAML line.
 */
import { Kind, type TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors';
import { Value } from '@sinclair/typebox/value';
import { isSecretKey } from '../secrets.js';

export type Path = readonly (string | number)[];

export interface Issue {
  path: Path;
  message: string;
  /** Where the line is: the key itself (unknown key), the value, or the enclosing map (missing key). */
  at: 'key' | 'value' | 'parent';
}

// Compiled checks are cached per schema object: factories are module singletons, so this holds
// one entry per component type the program ships (bounded by the component list).
const compiled = new WeakMap<TSchema, TypeCheck<TSchema>>();

function compile(schema: TSchema): TypeCheck<TSchema> {
  let c = compiled.get(schema);
  if (c === undefined) {
    c = TypeCompiler.Compile(schema);
    compiled.set(schema, c);
  }
  return c;
}

/**
 * Validates `value` against `schema`, applying the schema's defaults. `value` is consumed (defaults
 * are written into it); the result holds the value to use when `issues` is empty.
 *
 * `expanded(path)` says whether the string at `path` came from `${VAR}` expansion: such a string
 * becomes a number or boolean where the schema asks for one (environment variables are strings,
 * and `port: "${PORT}"` must work in flow style, where `${...}` has to be quoted). A literal
 * string is never converted: `max_bytes: "5"` written by hand is a type error.
 */
export function checkValue(
  schema: TSchema,
  value: unknown,
  base: Path = [],
  expanded: (path: Path) => boolean = () => false,
): { value: unknown; issues: Issue[] } {
  const issues: Issue[] = [];
  unknownKeys(schema, value, base, issues);
  const converted = convertExpanded(value, Value.Convert(schema, structuredClone(value)), base, expanded);
  const withDefaults: unknown = Value.Default(schema, converted);
  const seen = new Set<string>();
  for (const err of compile(schema).Errors(withDefaults)) {
    // Unknown keys were reported above, with a suggestion.
    if (err.type === ValueErrorType.ObjectAdditionalProperties || err.type === ValueErrorType.IntersectUnevaluatedProperties) continue;
    const path = [...base, ...pointerToPath(err.path)];
    const key = path.join('\u0000');
    // TypeBox reports a missing array both as "required" and as "expected array": keep the first per path.
    if (seen.has(key)) continue;
    seen.add(key);
    issues.push(describe(err, path));
    if (issues.length >= 50) break;
  }
  return { value: withDefaults, issues };
}

const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

function convertExpanded(orig: unknown, conv: unknown, path: Path, expanded: (path: Path) => boolean): unknown {
  if (isMap(orig) && isMap(conv)) {
    // "__proto__" (an own key from YAML) is left alone: assigning it would set the prototype.
    for (const k of Object.keys(orig)) if (k !== '__proto__') orig[k] = convertExpanded(orig[k], conv[k], [...path, k], expanded);
    return orig;
  }
  if (Array.isArray(orig) && Array.isArray(conv) && orig.length === conv.length) {
    for (let i = 0; i < orig.length; i++) orig[i] = convertExpanded(orig[i], conv[i], [...path, i], expanded);
    return orig;
  }
  if (typeof orig !== 'string' || !expanded(path)) return orig;
  if (typeof conv === 'number' && NUMBER.test(orig)) return conv;
  if (typeof conv === 'boolean' && /^(true|false)$/i.test(orig)) return conv;
  return orig;
}

function pointerToPath(pointer: string): (string | number)[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^(0|[1-9][0-9]*)$/.test(s) ? Number(s) : s));
}

function describe(err: ValueError, path: Path): Issue {
  if (err.type === ValueErrorType.ObjectRequiredProperty) return { path, message: 'missing required key', at: 'parent' };
  // A value under a secret key is never echoed: the message goes to logs and terminals.
  const last = path[path.length - 1];
  const secret = typeof last === 'string' ? isSecretKey(last) : path.some((p) => typeof p === 'string' && isSecretKey(p));
  const got = secret ? ' (value not shown: secret)' : ` (got ${show(err.value)})`;
  const literals = literalsOf(err.schema);
  if (literals !== undefined) return { path, message: `expected one of ${literals.map(show).join(', ')}${got}`, at: 'value' };
  const msg = err.message.charAt(0).toLowerCase() + err.message.slice(1);
  return { path, message: `${msg}${got}`, at: 'value' };
}

function literalsOf(schema: TSchema): unknown[] | undefined {
  if (schema[Kind] === 'Literal') return [schema['const']];
  if (schema[Kind] !== 'Union') return undefined;
  const out: unknown[] = [];
  for (const s of schema['anyOf'] as TSchema[]) {
    if (s[Kind] !== 'Literal') return undefined;
    out.push(s['const']);
  }
  return out;
}

/** A short rendering of a config value for messages. */
export function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  return String(v);
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Reports keys the schema does not name. An object schema without `additionalProperties` is
 * treated as closed: a typo'd option must never be ignored silently (it would leave the default
 * in force and nobody would notice). Open maps are written as `Type.Record`.
 */
function unknownKeys(schema: TSchema, value: unknown, path: Path, out: Issue[]): void {
  const kind = schema[Kind];
  if (kind === 'Object' && isMap(value)) {
    const props = (schema['properties'] ?? {}) as Record<string, TSchema>;
    const extra = schema['additionalProperties'] as boolean | TSchema | undefined;
    for (const key of Object.keys(value)) {
      const p = props[key];
      if (p !== undefined) unknownKeys(p, value[key], [...path, key], out);
      else if (typeof extra === 'object') unknownKeys(extra, value[key], [...path, key], out);
      else if (extra !== true) out.push(unknownKey(key, Object.keys(props), [...path, key]));
    }
  } else if (kind === 'Record' && isMap(value)) {
    const patterns = (schema['patternProperties'] ?? {}) as Record<string, TSchema>;
    const [pattern, item] = Object.entries(patterns)[0] ?? [];
    if (pattern === undefined || item === undefined) return;
    const re = new RegExp(pattern);
    for (const key of Object.keys(value)) {
      if (!re.test(key)) out.push({ path: [...path, key], message: `invalid name (must match /${pattern}/)`, at: 'key' });
      else unknownKeys(item, value[key], [...path, key], out);
    }
  } else if (kind === 'Array' && Array.isArray(value)) {
    const items = schema['items'] as TSchema | undefined;
    if (items !== undefined) value.forEach((v, i) => unknownKeys(items, v, [...path, i], out));
  } else if (kind === 'Union' && isMap(value)) {
    // Judge against the object variant that fits best; a union of scalars has no keys to check.
    let best: Issue[] | undefined;
    for (const s of schema['anyOf'] as TSchema[]) {
      if (s[Kind] !== 'Object' && s[Kind] !== 'Record' && s[Kind] !== 'Intersect') continue;
      const found: Issue[] = [];
      unknownKeys(s, value, path, found);
      if (best === undefined || found.length < best.length) best = found;
    }
    if (best !== undefined) out.push(...best);
  } else if (kind === 'Intersect' && isMap(value)) {
    const parts = (schema['allOf'] as TSchema[]).filter((s) => s[Kind] === 'Object');
    const props: Record<string, TSchema> = {};
    for (const s of parts) Object.assign(props, s['properties'] as Record<string, TSchema>);
    const open = parts.some((s) => s['additionalProperties'] === true) || schema['unevaluatedProperties'] === true;
    unknownKeys({ [Kind]: 'Object', type: 'object', properties: props, additionalProperties: open } as unknown as TSchema, value, path, out);
  }
}

function unknownKey(key: string, known: readonly string[], path: Path): Issue {
  const hint = didYouMean(key, known);
  return { path, message: hint === undefined ? 'unknown key' : `unknown key (did you mean "${hint}"?)`, at: 'key' };
}

/** The closest candidate within a small edit distance, or undefined. */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  const lower = word.toLowerCase();
  const limit = word.length <= 3 ? 1 : word.length <= 6 ? 2 : 3;
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = c.toLowerCase() === lower ? 0 : distance(lower, c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return bestD <= limit ? best : undefined;
}

/** Optimal string alignment distance (Levenshtein plus adjacent transpositions: `strat_at`). */
function distance(a: string, b: string): number {
  const m = a.length;
  const n = b.length;
  if (Math.abs(m - n) > 3) return Math.abs(m - n);
  const d: number[][] = Array.from({ length: m + 1 }, (_, i) => Array.from({ length: n + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= m; i++) {
    const row = d[i]!;
    const prev = d[i - 1]!;
    for (let j = 1; j <= n; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      row[j] = v;
    }
  }
  return d[m]![n]!;
}
