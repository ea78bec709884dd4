/**
 * Regular expressions with named groups (`(?<status>\d{3})`), as grok users write them, made
 * safe for a collector that reads untrusted lines with a backtracking engine (V8's irregexp):
 *
 * - patterns are checked once, at start, and refused when they can backtrack exponentially:
 *   a quantified group that itself contains a quantifier (`(a+)+`, `(\w+\s?)*`, star height
 *   above 1, the ReDoS shape), or a backreference (which no linear-time engine supports either);
 * - inputs longer than `maxChars` are refused (`too_long`) instead of matched, so the remaining
 *   polynomial cases (`\d+\d+x`) are bounded per line.
 *
 * This is a conservative subset of what RE2 guarantees, without a native dependency. A group
 * name may use `__` for a dot (`(?<http__method>...)` → `http.method`), since JavaScript group
 * names cannot contain dots.
 */
import type { AttrValue } from '../../core/model.js';
import { fail, text, type Fields, type ParseResult } from './result.js';

export type FieldType = 'string' | 'integer' | 'number' | 'boolean';

export interface RegexOptions {
  readonly pattern: string;
  /** Case-insensitive matching. */
  readonly ignoreCase?: boolean;
  /** Inputs longer than this are refused with reason `too_long` (default 8192). */
  readonly maxChars?: number;
  /** Converts named captures (`{ status: integer }`); a failed conversion keeps the string. */
  readonly types?: Readonly<Record<string, FieldType>>;
  readonly prefix?: string;
}

export interface CompiledRegex {
  readonly fields: readonly string[];
  parse(input: string | Buffer, into?: Fields): ParseResult;
}

/**
 * Why a pattern is unsafe, or undefined when it passes. Scans the pattern once, tracking for
 * each open group whether it contains a quantifier.
 */
export function unsafeReason(pattern: string): string | undefined {
  // atoms: in the group's current branch; multi: some branch had other than one; alt: has `|`.
  const stack: { quantified: boolean; atoms: number; multi: boolean; alt: boolean }[] = [];
  let inClass = false;
  // Whether the group that just closed contained a quantifier (to judge a quantifier after it).
  let lastGroupQuantified = false;
  // Whether it was an alternation of single atoms (`(a|a)`, `(\w|\d)`): repeated, its branches
  // can match the same text in 2^n ways (2 s for 24 characters; found by test/fuzz/parsers.test.ts).
  let lastGroupSingles = false;
  const atom = (): void => {
    const top = stack[stack.length - 1];
    if (top !== undefined) top.atoms++;
  };
  let lastWasGroup = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') {
      const n = pattern[i + 1];
      if (n !== undefined && !inClass && ((n >= '1' && n <= '9') || n === 'k')) return 'backreferences are not allowed';
      i++;
      if (!inClass) atom();
      lastWasGroup = false;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') {
      atom();
      inClass = true;
      lastWasGroup = false;
      continue;
    }
    if (c === '(') {
      stack.push({ quantified: false, atoms: 0, multi: false, alt: false });
      // `(?:`, `(?<name>`, lookarounds: the prefix is not an atom of the group.
      const prefix = pattern[i + 1] === '?' ? /^\(\?(?:<[A-Za-z_$][\w$]*>|<=|<!|[:=!])/.exec(pattern.slice(i, i + 80)) : null;
      if (prefix !== null) i += prefix[0].length - 1;
      lastWasGroup = false;
      continue;
    }
    if (c === ')') {
      const g = stack.pop();
      lastGroupQuantified = g?.quantified ?? false;
      lastGroupSingles = g !== undefined && g.alt && !g.multi && g.atoms === 1;
      lastWasGroup = true;
      if (g?.quantified && stack.length > 0) stack[stack.length - 1]!.quantified = true;
      atom();
      continue;
    }
    if (c === '|') {
      const top = stack[stack.length - 1];
      if (top !== undefined) {
        if (top.atoms !== 1) top.multi = true;
        top.atoms = 0;
        top.alt = true;
      }
      lastWasGroup = false;
      continue;
    }
    const isQuant = c === '*' || c === '+' || (c === '{' && /^\{\d+(,\d*)?\}/.test(pattern.slice(i, i + 12)));
    if (isQuant) {
      // `{n}` repeats a fixed number of times: not a source of ambiguity on its own.
      const fixed = c === '{' && /^\{\d+\}/.test(pattern.slice(i, i + 12));
      if (lastWasGroup && lastGroupQuantified && !fixed) return 'nested quantifier (a repeated group that contains a repetition), which can backtrack exponentially';
      if (lastWasGroup && lastGroupSingles && !fixed) return 'repeated alternation of single characters or classes, such as (\\w|\\d)+, which can backtrack exponentially; write one class instead: [\\w\\d]+';
      if (!fixed && stack.length > 0) stack[stack.length - 1]!.quantified = true;
      if (c === '{') i = pattern.indexOf('}', i);
      // `+?`, `*?`: lazy forms are the same repetition.
      if (pattern[i + 1] === '?' || pattern[i + 1] === '+') i++;
    } else if (c !== '?') atom();
    lastWasGroup = false;
  }
  return undefined;
}

/**
 * Grok-style named patterns, for Logstash users: `%{IP:client.address}`, `%{INT:status:int}`,
 * `%{GREEDYDATA:msg}`, `%{WORD}` (matched, not captured). Each is written to pass the safety
 * check (no repeated group containing a repetition), which is why some are simpler than
 * Logstash's own (HOSTNAME does not validate label lengths).
 */
export const GROK: Readonly<Record<string, string>> = {
  INT: '[+-]?\\d+',
  POSINT: '\\d+',
  NUMBER: '[+-]?(?:\\d+\\.?\\d*|\\.\\d+)(?:[eE][+-]?\\d+)?',
  BASE16NUM: '(?:0[xX])?[0-9A-Fa-f]+',
  WORD: '\\w+',
  NOTSPACE: '\\S+',
  SPACE: '\\s*',
  DATA: '.*?',
  GREEDYDATA: '.*',
  QUOTEDSTRING: '"(?:[^"\\\\]|\\\\.)*"',
  UUID: '[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}',
  IPV4: '(?:\\d{1,3}\\.){3}\\d{1,3}',
  IPV6: '[0-9A-Fa-f:]*:[0-9A-Fa-f:.]+',
  IP: '(?:\\d{1,3}\\.){3}\\d{1,3}|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]+',
  HOSTNAME: '[0-9A-Za-z][0-9A-Za-z.-]*',
  IPORHOST: '(?:\\d{1,3}\\.){3}\\d{1,3}|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]+|[0-9A-Za-z][0-9A-Za-z.-]*',
  USER: '[A-Za-z0-9._-]+',
  USERNAME: '[A-Za-z0-9._-]+',
  PATH: '(?:/[^\\s]*|[A-Za-z]:\\\\[^\\s]*)',
  URIPATHPARAM: '/[^\\s?#]*(?:\\?[^\\s#]*)?',
  HTTPDATE: '\\d{2}/\\w{3}/\\d{4}:\\d{2}:\\d{2}:\\d{2} [+-]\\d{4}',
  TIMESTAMP_ISO8601: '\\d{4}-\\d{2}-\\d{2}[T ]\\d{2}:\\d{2}(?::\\d{2}(?:[.,]\\d+)?)?(?:Z|[+-]\\d{2}:?\\d{2})?',
  SYSLOGTIMESTAMP: '[A-Z][a-z]{2} +\\d{1,2} \\d{2}:\\d{2}:\\d{2}',
  LOGLEVEL: '[Aa]lert|ALERT|[Tt]race|TRACE|[Dd]ebug|DEBUG|[Nn]otice|NOTICE|[Ii]nfo|INFO|[Ww]arn(?:ing)?|WARN(?:ING)?|[Ee]rr(?:or)?|ERR(?:OR)?|[Cc]rit(?:ical)?|CRIT(?:ICAL)?|[Ff]atal|FATAL|[Ss]evere|SEVERE|[Ee]merg(?:ency)?|EMERG(?:ENCY)?',
};

/** Expands `%{NAME}`, `%{NAME:field}`, `%{NAME:field:int|float}` into named groups. */
export function expandGrok(pattern: string, types: Record<string, FieldType>): string {
  return pattern.replace(/%\{([A-Z0-9_]+)(?::([A-Za-z_][\w.]*))?(?::(int|float))?\}/g, (_m, name: string, field: string | undefined, conv: string | undefined) => {
    const body = Object.hasOwn(GROK, name) ? GROK[name] : undefined;
    if (body === undefined) throw new Error(`unknown grok pattern %{${name}} (known: ${Object.keys(GROK).join(', ')})`);
    if (field === undefined) return `(?:${body})`;
    const group = field.replace(/\./g, '__');
    if (conv !== undefined) types[group] = conv === 'int' ? 'integer' : 'number';
    return `(?<${group}>${body})`;
  });
}

/** Compiles once; throws a plain Error (invalid or unsafe pattern) for the caller to report at start. */
export function compileRegex(opts: RegexOptions): CompiledRegex {
  const grokTypes: Record<string, FieldType> = {};
  const pattern = opts.pattern.includes('%{') ? expandGrok(opts.pattern, grokTypes) : opts.pattern;
  const why = unsafeReason(pattern);
  if (why !== undefined) throw new Error(`unsafe pattern: ${why}`);
  let re: RegExp;
  try {
    re = new RegExp(pattern, opts.ignoreCase === true ? 'i' : '');
  } catch (err) {
    throw new Error(`invalid pattern: ${(err as Error).message}`);
  }
  const names = [...pattern.matchAll(/\(\?<([A-Za-z_$][\w$]*)>/g)].map((m) => m[1]!);
  if (names.length === 0) throw new Error('the pattern has no named group (?<name>...): nothing would be extracted');
  const prefix = opts.prefix ?? '';
  const fields = names.map((n) => prefix + n.replace(/__/g, '.'));
  const types = names.map((n) => opts.types?.[n] ?? opts.types?.[n.replace(/__/g, '.')] ?? grokTypes[n] ?? 'string');
  const maxChars = opts.maxChars ?? 8192;
  return {
    fields,
    parse(input, into = {}) {
      const s = text(input);
      if (s.length > maxChars) return fail('too_long');
      const m = re.exec(s);
      if (m === null || m.groups === undefined) return fail('no_match');
      for (let k = 0; k < names.length; k++) {
        const v = m.groups[names[k]!];
        if (v === undefined) continue;
        into[fields[k]!] = convert(v, types[k]!);
      }
      return { ok: true, fields: into };
    },
  };
}

export function convert(v: string, t: FieldType): AttrValue {
  switch (t) {
    case 'string':
      return v;
    case 'integer': {
      const n = Number(v);
      return v.trim() !== '' && Number.isSafeInteger(n) ? n : v;
    }
    case 'number': {
      const n = Number(v);
      return v.trim() !== '' && Number.isFinite(n) ? n : v;
    }
    case 'boolean': {
      const l = v.toLowerCase();
      return l === 'true' || l === '1' || l === 'yes' ? true : l === 'false' || l === '0' || l === 'no' ? false : v;
    }
  }
}
