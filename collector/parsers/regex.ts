/**
 * Regular expressions with named groups (`(?<status>\d{3})`), as grok users write them, made
 * safe for a collector that reads untrusted lines with a backtracking engine (V8's irregexp):
 *
 * - patterns are checked once, at start, and refused when they can backtrack exponentially:
 *   a quantified group that itself contains a quantifier (`(a+)+`, `(\w+\s?)*`, star height
 *   above 1, the ReDoS shape), or a backreference (which no linear-time engine supports either);
 *   and when they can backtrack polynomially: repetitions over overlapping characters with
 *   nothing required between them (`\w*\w*x`, `\d+\d+x`) and something that can fail after;
 * - inputs longer than `maxChars` are refused (`too_long`) instead of matched. That bounds the
 *   cost of the linear cases only: it does not make polynomial ones safe (two such repetitions
 *   on 8,192 characters are ~10^11 steps, minutes), which is why they are refused above.
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
  return polynomialReason(pattern);
}

/**
 * Character sets as bit masks: bits 0-127 for ASCII, bit 128 for every other character. Coarse
 * outside ASCII (`[é]` and `[ü]` overlap), which only errs towards refusing.
 */
type CharSet = bigint;
const OTHER = 1n << 128n;
const ANY: CharSet = (1n << 129n) - 1n;
const ONE = (code: number): CharSet => (code < 128 ? 1n << BigInt(code) : OTHER);
const range = (lo: number, hi: number): CharSet => {
  if (hi < lo) return 0n;
  let s = 0n;
  for (let c = lo; c <= Math.min(hi, 127); c++) s |= 1n << BigInt(c);
  return hi >= 128 ? s | OTHER : s;
};
const DIGIT = range(48, 57);
const WORD = DIGIT | range(65, 90) | range(97, 122) | ONE(95);
// \s also takes a few non-ASCII spaces (U+00A0...), left out so that \S+\s+ counts as disjoint.
const SPACE = range(9, 13) | ONE(32);
const ESCAPES: Readonly<Record<string, CharSet>> = { d: DIGIT, D: ANY & ~DIGIT, w: WORD, W: ANY & ~WORD, s: SPACE, S: ANY & ~SPACE };
const CONTROL: Readonly<Record<string, number>> = { n: 10, r: 13, t: 9, f: 12, v: 11, '0': 0 };
/** `{n,m}` with m above this repeats enough to backtrack like an unbounded one. */
const BOUNDED_MAX = 64;

/**
 * What a piece of the pattern looks like from outside: whether it can match nothing, and the
 * characters an unbounded repetition inside it can take at its start (`head`) or end (`tail`).
 */
interface Shape {
  nullable: boolean;
  head: CharSet;
  tail: CharSet;
  /** Every character the piece can consume (the set of a repetition of it). */
  chars: CharSet;
  /** Source of the repetitions in head / tail, for the message. */
  headSrc: string;
  tailSrc: string;
}

class Unparsed extends Error {}

/**
 * Refuses two unbounded repetitions that can take the same characters with nothing required
 * between them (`\w*\w*`, `\d+\.?\d*` with its optional dot, `(?:x|\w+)\w+`): a
 * line of n such characters that then fails to match splits in n^k ways for k of them, tried at
 * each of n start positions (`(?<a>\w*\w*\w*)!` took 134 s on 1,000 characters, found by
 * test/fuzz/parsers.test.ts). The input limit (maxChars) does not bound this: two repetitions on
 * 8,192 characters are already ~10^11 steps. A pattern this parser cannot read is passed on, for
 * the RegExp constructor to report.
 */
function polynomialReason(pattern: string): string | undefined {
  let i = 0;
  // Each overlap, with where the later repetition's piece ends (judged once the whole is read).
  const found: { why: string; end: number; loop: CharSet }[] = [];
  const peek = (): string | undefined => pattern[i];

  const escape = (inClass: boolean): CharSet | 'zero' => {
    const n = pattern[i + 1];
    if (n === undefined) throw new Unparsed();
    i += 2;
    const known = ESCAPES[n];
    if (known !== undefined) return known;
    if (!inClass && (n === 'b' || n === 'B')) return 'zero';
    if (inClass && n === 'b') return ONE(8);
    const ctl = CONTROL[n];
    if (ctl !== undefined) return ONE(ctl);
    if (n === 'x' || n === 'u') {
      const m = /^(?:\{([0-9A-Fa-f]+)\}|([0-9A-Fa-f]{4}))/.exec(n === 'u' ? pattern.slice(i, i + 12) : '');
      if (m !== null) {
        i += m[0].length;
        return ONE(parseInt(m[1] ?? m[2]!, 16));
      }
      const h = n === 'x' ? /^[0-9A-Fa-f]{2}/.exec(pattern.slice(i, i + 2)) : null;
      if (h !== null) {
        i += 2;
        return ONE(parseInt(h[0], 16));
      }
      return ONE(n.charCodeAt(0));
    }
    if (n === 'p' || n === 'P') {
      const close = pattern.indexOf('}', i);
      if (pattern[i] === '{' && close > 0) i = close + 1;
      return ANY;
    }
    if (n === 'c') {
      i++;
      return ANY;
    }
    return ONE(n.charCodeAt(0));
  };

  const charClass = (): CharSet => {
    i++; // [
    let negate = false;
    if (peek() === '^') {
      negate = true;
      i++;
    }
    let set = 0n;
    while (i < pattern.length && peek() !== ']') {
      let lo: number;
      if (peek() === '\\') {
        const e = escape(true);
        if (e === 'zero') throw new Unparsed();
        // A single character may start a range; a class escape cannot.
        const single = e !== 0n && (e & (e - 1n)) === 0n && e !== OTHER ? e.toString(2).length - 1 : undefined;
        if (single === undefined) {
          set |= e;
          continue;
        }
        lo = single;
      } else {
        lo = pattern.charCodeAt(i);
        i++;
      }
      if (peek() === '-' && pattern[i + 1] !== undefined && pattern[i + 1] !== ']') {
        i++;
        let hi: number;
        if (peek() === '\\') {
          const e = escape(true);
          if (e === 'zero' || e === 0n || (e & (e - 1n)) !== 0n) throw new Unparsed();
          hi = e === OTHER ? 0x10ffff : e.toString(2).length - 1;
        } else {
          hi = pattern.charCodeAt(i);
          i++;
        }
        set |= range(lo, hi);
      } else set |= ONE(lo);
    }
    if (peek() !== ']') throw new Unparsed();
    i++;
    return negate ? ANY & ~set : set;
  };

  const leaf = (set: CharSet): Shape => ({ nullable: false, head: 0n, tail: 0n, chars: set, headSrc: '', tailSrc: '' });
  const ZERO: Shape = { nullable: true, head: 0n, tail: 0n, chars: 0n, headSrc: '', tailSrc: '' };

  const atom = (): Shape => {
    const c = peek()!;
    if (c === '\\') {
      const e = escape(false);
      return e === 'zero' ? ZERO : leaf(e);
    }
    if (c === '[') return leaf(charClass());
    if (c === '.') {
      i++;
      return leaf(ANY);
    }
    if (c === '^' || c === '$') {
      i++;
      return ZERO;
    }
    if (c === '(') {
      i++;
      let lookaround = false;
      const prefix = pattern[i] === '?' ? /^\?(?:<[A-Za-z_$][\w$]*>|<=|<!|[:=!])/.exec(pattern.slice(i, i + 80)) : null;
      if (pattern[i] === '?' && prefix === null) throw new Unparsed();
      if (prefix !== null) {
        lookaround = prefix[0] === '?=' || prefix[0] === '?!' || prefix[0] === '?<=' || prefix[0] === '?<!';
        i += prefix[0].length;
      }
      const inner = alternation();
      if (peek() !== ')') throw new Unparsed();
      i++;
      // A lookaround is checked inside but consumes nothing where it stands.
      return lookaround ? ZERO : inner;
    }
    i++;
    return leaf(ONE(c.charCodeAt(0)));
  };

  /** The quantifier at i, if any: its bounds (max Infinity when unbounded). */
  const quantifier = (): { min: number; max: number } | undefined => {
    const c = peek();
    let q: { min: number; max: number } | undefined;
    if (c === '*') q = { min: 0, max: Infinity };
    else if (c === '+') q = { min: 1, max: Infinity };
    else if (c === '?') q = { min: 0, max: 1 };
    else if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(i, i + 24));
      if (m === null) return undefined;
      const min = Number(m[1]);
      const max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
      i += m[0].length - 1;
      q = { min, max };
    }
    if (q === undefined) return undefined;
    i++;
    if (peek() === '?') i++; // lazy: the same repetition, tried in another order
    return q;
  };

  const sequence = (): Shape => {
    let nullable = true;
    let head = 0n;
    let headSrc = '';
    // Repetitions that can still take characters at the current point (with only optional parts after).
    let open = 0n;
    let openSrc = '';
    let chars = 0n;
    while (i < pattern.length && peek() !== '|' && peek() !== ')') {
      const start = i;
      let s = atom();
      const q = quantifier();
      const src = pattern.slice(start, i);
      if (q !== undefined) {
        const unbounded = q.max > BOUNDED_MAX;
        const loop = unbounded ? s.chars : 0n;
        s = {
          nullable: q.min === 0 || s.nullable,
          head: s.head | loop,
          tail: s.tail | loop,
          chars: s.chars,
          headSrc: unbounded ? src : s.headSrc,
          tailSrc: unbounded ? src : s.tailSrc,
        };
      }
      if ((open & s.head) !== 0n) {
        const why = `adjacent repetitions over overlapping characters (${openSrc} then ${s.headSrc}), which can backtrack polynomially: a line that does not match costs about n^k steps for k of them (minutes at a few thousand characters); merge them into one (${openSrc}), or make them take disjoint characters (such as \\S+\\s+\\S+)`;
        found.push({ why, end: i, loop: s.head });
      }
      if (nullable) {
        head |= s.head;
        if (s.head !== 0n && headSrc === '') headSrc = s.headSrc;
      }
      nullable &&= s.nullable;
      if (s.nullable) {
        open |= s.tail;
        if (s.tail !== 0n) openSrc = s.tailSrc;
      } else {
        open = s.tail;
        openSrc = s.tailSrc;
      }
      chars |= s.chars;
    }
    return { nullable, head, tail: open, chars, headSrc, tailSrc: openSrc };
  };
  const alternation = (): Shape => {
    let out = sequence();
    while (peek() === '|') {
      i++;
      const b = sequence();
      out = {
        nullable: out.nullable || b.nullable,
        head: out.head | b.head,
        tail: out.tail | b.tail,
        chars: out.chars | b.chars,
        headSrc: out.headSrc !== '' ? out.headSrc : b.headSrc,
        tailSrc: out.tailSrc !== '' ? out.tailSrc : b.tailSrc,
      };
    }
    return out;
  };

  try {
    alternation();
  } catch (err) {
    if (!(err instanceof Unparsed)) throw err;
  }
  return found.find((f) => !nothingRequiredAfter(pattern, f.end, (f.loop | LINE_ENDS) === ANY))?.why;
}

const LINE_ENDS = ONE(10) | ONE(13) | OTHER;

/**
 * Whether the match is complete, whatever the text, once the pattern has matched up to `at`:
 * only group ends and other branches follow, or `$` after a repetition that takes any character
 * but line ends (`dotLoop`, as `.*`). Repetitions there take what they get at the first try
 * (`(?<level>\w+)\s+(?<msg>.*)$`), so their overlap costs nothing. (`.*$` can still fail on a
 * multi-line event; the cost is then the line length times the split, not a power of it.)
 */
function nothingRequiredAfter(pattern: string, at: number, dotLoop: boolean): boolean {
  let j = at;
  while (j < pattern.length) {
    const c = pattern[j]!;
    if (c === '$' && dotLoop) {
      j++;
    } else if (c === ')') {
      j++;
      const q = /^(?:[*+?]|\{\d+(?:,\d*)?\})\??/.exec(pattern.slice(j, j + 24));
      if (q !== null) j += q[0].length;
    } else if (c === '|') {
      // The rest of this group is other branches: skip to its closing parenthesis.
      let depth = 0;
      let inClass = false;
      for (j++; j < pattern.length; j++) {
        const d = pattern[j]!;
        if (d === '\\') j++;
        else if (inClass) inClass = d !== ']';
        else if (d === '[') inClass = true;
        else if (d === '(') depth++;
        else if (d === ')') {
          if (depth === 0) break;
          depth--;
        }
      }
    } else return false;
  }
  return true;
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
  // Digits after the dot only with the dot: `\d+\.?\d*` split a run of digits n ways (214 s on 8,192).
  NUMBER: '[+-]?(?:\\d+(?:\\.\\d*)?|\\.\\d+)(?:[eE][+-]?\\d+)?',
  BASE16NUM: '(?:0[xX])?[0-9A-Fa-f]+',
  WORD: '\\w+',
  NOTSPACE: '\\S+',
  SPACE: '\\s*',
  DATA: '.*?',
  GREEDYDATA: '.*',
  QUOTEDSTRING: '"(?:[^"\\\\]|\\\\.)*"',
  UUID: '[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}',
  IPV4: '(?:\\d{1,3}\\.){3}\\d{1,3}',
  // Up to the first colon only hex digits: `[0-9A-Fa-f:]*:` matched the same language but could
  // place its colon at any of n colons (4.7 s on a 64 KiB run of colons then a failing character).
  IPV6: '[0-9A-Fa-f]*:[0-9A-Fa-f:.]+',
  IP: '(?:\\d{1,3}\\.){3}\\d{1,3}|[0-9A-Fa-f]*:[0-9A-Fa-f:.]+',
  HOSTNAME: '[0-9A-Za-z][0-9A-Za-z.-]*',
  IPORHOST: '(?:\\d{1,3}\\.){3}\\d{1,3}|[0-9A-Fa-f]*:[0-9A-Fa-f:.]+|[0-9A-Za-z][0-9A-Za-z.-]*',
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
