/**
 * Redaction of secrets and personal data in strings. Built-in rules, each a pattern written to
 * run in linear time on V8's backtracking engine (every repetition is delimited by a character
 * it cannot match, and starts are anchored by lookbehinds so a failed attempt is not retried at
 * every character of a long run), guarded by a cheap `includes` test so clean strings cost a
 * few scans:
 *
 *   email            user@example.com
 *   ipv4             10.1.2.3 (each octet 0-255)
 *   ipv6             2001:db8::1, fe80::1ff:fe23:4567:890a (validated: one `::`, 8 groups without it)
 *   credit_card      13-19 digits, spaces or dashes allowed, that pass the Luhn check
 *   bearer           `Bearer <token>` (the token is replaced, the word kept)
 *   jwt              eyJ...eyJ...sig
 *   aws_key          AKIA/ASIA... access key ids
 *   api_key          well-known prefixed tokens: GitHub ghp_..., Slack xox?-..., Stripe sk_live_..., Google AIza...
 *   password         the value in `password=...`, `"secret": "..."`, `token: ...`, `api_key=...`
 *   url_credentials  the password in `scheme://user:password@host`
 *
 * plus custom patterns (checked like `regex` patterns). Matches become `[REDACTED:<rule>]` by
 * default. Pure: no state beyond the compiled rules.
 */
import { unsafeReason } from './regex.js';

export const BUILTIN_RULES = ['email', 'ipv4', 'ipv6', 'credit_card', 'bearer', 'jwt', 'aws_key', 'api_key', 'password', 'url_credentials'] as const;
export type BuiltinRule = (typeof BUILTIN_RULES)[number];

/** Key-name fragments whose values are always secret (`password`, `http.request.header.authorization`). */
export const DEFAULT_SENSITIVE_KEYS: readonly string[] = [
  'password', 'passwd', 'pwd', 'secret', 'token', 'api_key', 'apikey', 'authorization', 'cookie', 'set-cookie',
  'private_key', 'client_secret', 'access_token', 'refresh_token', 'x-api-key', 'credentials',
];

export interface CustomRule {
  readonly name: string;
  readonly pattern: string;
  readonly ignoreCase?: boolean;
}

export interface RedactOptions {
  readonly rules?: readonly BuiltinRule[];
  readonly custom?: readonly CustomRule[];
  /** `{rule}` is replaced by the rule's name. */
  readonly replacement?: string;
}

interface Rule {
  readonly name: string;
  readonly re: RegExp;
  /** Cheap necessary condition; the regex runs only when it holds. */
  readonly guard: (s: string) => boolean;
  /** Builds the replacement of one match; undefined keeps the match (a failed validation). */
  readonly replace: (m: string, groups: string[], mark: string) => string | undefined;
}

const whole = (_m: string, _g: string[], mark: string): string => mark;

/** The Luhn checksum over the digits of `s` (13-19 of them), as card numbers carry. */
export function luhn(s: string): boolean {
  let sum = 0;
  let count = 0;
  let double = false;
  for (let k = s.length - 1; k >= 0; k--) {
    const c = s.charCodeAt(k) - 48;
    if (c < 0 || c > 9) continue;
    count++;
    let d = c;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return count >= 13 && count <= 19 && sum % 10 === 0;
}

/** An IPv6 address candidate (hex groups and colons) that really is one. */
export function isIpv6(s: string): boolean {
  if (s.length < 3 || s.length > 39) return false;
  const dbl = s.indexOf('::');
  if (dbl >= 0 && s.indexOf('::', dbl + 1) >= 0) return false;
  const head = dbl >= 0 ? s.slice(0, dbl) : s;
  const tail = dbl >= 0 ? s.slice(dbl + 2) : '';
  const parts = [...(head === '' ? [] : head.split(':')), ...(tail === '' ? [] : tail.split(':'))];
  for (const p of parts) if (p.length === 0 || p.length > 4) return false;
  // Without `::` all eight groups are written (so `10:00:00`, a clock time, is not an address).
  return dbl >= 0 ? parts.length >= 1 && parts.length <= 7 : parts.length === 8;
}

const SECRET_KEYS = 'password|passwd|pwd|pass|secret|client_secret|token|access_token|refresh_token|api[_-]?key|apikey|auth_token|aws_secret_access_key|private_key';

function builtin(name: BuiltinRule): Omit<Rule, 'name'> {
  switch (name) {
    case 'email':
      return {
        guard: (s) => s.includes('@'),
        re: /(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}(?![A-Za-z0-9-])/g,
        replace: whole,
      };
    case 'ipv4':
      return {
        guard: (s) => s.includes('.'),
        re: /(?<![\d.])(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}(?!\.?\d)/g,
        replace: whole,
      };
    case 'ipv6':
      return {
        // Either `::` or all eight groups (seven colons): clock times never pass this.
        guard: (s) => s.includes('::') || colons(s) >= 7,
        re: /(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])/g,
        replace: (m, _g, mark) => (isIpv6(m) ? mark : undefined),
      };
    case 'credit_card':
      return {
        guard: cardRun,
        re: /(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d])/g,
        replace: (m, _g, mark) => (luhn(m) ? mark : undefined),
      };
    case 'bearer':
      return {
        guard: (s) => s.includes('earer'),
        re: /\b([Bb]earer\s+)[A-Za-z0-9\-._~+/]+=*/g,
        replace: (_m, g, mark) => `${g[0]}${mark}`,
      };
    case 'jwt':
      return {
        guard: (s) => s.includes('eyJ'),
        re: /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g,
        replace: whole,
      };
    case 'aws_key':
      return {
        guard: (s) => AWS_PREFIXES.some((p) => s.includes(p)),
        re: /(?<![A-Z0-9])(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}(?![A-Z0-9])/g,
        replace: whole,
      };
    case 'api_key':
      return {
        guard: (s) => API_PREFIXES.some((p) => s.includes(p)),
        re: /(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,}|xox[abposr]-[A-Za-z0-9-]{10,}|[sr]k_(?:live|test)_[A-Za-z0-9]{16,}|AIza[0-9A-Za-z_-]{35}|glpat-[A-Za-z0-9_-]{20,})/g,
        replace: whole,
      };
    case 'password':
      return {
        guard: (s) => (s.includes('=') || s.includes(':')) && SECRET_HINT.test(s),
        // key, an optional closing quote, `=` or `:`, then a quoted or bare value.
        re: new RegExp(`(?<![A-Za-z0-9_])((?:${SECRET_KEYS})["']?\\s{0,3}[=:]\\s{0,3})("[^"]*"|'[^']*'|[^\\s"'&,;]+)`, 'gi'),
        replace: (_m, g, mark) => {
          const v = g[1] ?? '';
          const q = v.startsWith('"') ? '"' : v.startsWith("'") ? "'" : '';
          return `${g[0]}${q}${mark}${q}`;
        },
      };
    case 'url_credentials':
      return {
        guard: (s) => s.includes('://'),
        re: /(\b[A-Za-z][A-Za-z0-9+.-]{0,20}:\/\/[^\s:/@]{1,256}:)[^\s/@]{1,256}(?=@)/g,
        replace: (_m, g, mark) => `${g[0]}${mark}`,
      };
  }
}

const AWS_PREFIXES = ['AKIA', 'ASIA', 'AGPA', 'AIDA', 'AROA', 'ANPA', 'ANVA', 'AIPA'];
const API_PREFIXES = ['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_', 'github_pat_', 'xox', 'sk_live_', 'sk_test_', 'rk_live_', 'rk_test_', 'AIza', 'glpat-'];
// A necessary condition for the password rule: one of its key words, in any case.
const SECRET_HINT = /pass|pwd|secret|token|api[_-]?key|apikey|private_key/i;

function colons(s: string): number {
  let n = 0;
  for (let i = s.indexOf(':'); i >= 0; i = s.indexOf(':', i + 1)) n++;
  return n;
}

/** Whether some run of digits, spaces and dashes holds 13 or more digits (a card number's shape). */
function cardRun(s: string): boolean {
  let count = 0;
  for (let k = 0; k < s.length; k++) {
    const c = s.charCodeAt(k);
    if (c >= 48 && c <= 57) {
      if (++count >= 13) return true;
    } else if (c !== 32 && c !== 45) count = 0;
  }
  return false;
}

export interface Redactor {
  /** The string with every match replaced; the same string object when nothing matched. */
  redact(s: string): string;
  /** Matches replaced by rule name since the redactor was built (for telemetry). */
  readonly counts: Record<string, number>;
}

export function compileRedactor(opts: RedactOptions = {}): Redactor {
  const replacement = opts.replacement ?? '[REDACTED:{rule}]';
  const rules: Rule[] = [];
  // Addresses first: their replacement can end an email's domain (`a@b.io10.0.0.1`), and the
  // rules after them see that. Secrets in key=value before emails: a password that looks like
  // an email must not leave its domain behind; url credentials likewise.
  const order: BuiltinRule[] = ['ipv4', 'ipv6', 'password', 'url_credentials', 'bearer', 'jwt', 'aws_key', 'api_key', 'email', 'credit_card'];
  const wanted = new Set(opts.rules ?? BUILTIN_RULES);
  for (const name of order) if (wanted.has(name)) rules.push({ name, ...builtin(name) });
  for (const c of opts.custom ?? []) {
    const why = unsafeReason(c.pattern);
    if (why !== undefined) throw new Error(`redaction rule "${c.name}": unsafe pattern: ${why}`);
    let re: RegExp;
    try {
      re = new RegExp(c.pattern, c.ignoreCase === true ? 'gi' : 'g');
    } catch (err) {
      throw new Error(`redaction rule "${c.name}": invalid pattern: ${(err as Error).message}`);
    }
    if (re.test('')) throw new Error(`redaction rule "${c.name}": the pattern matches the empty string`);
    rules.push({ name: c.name, re, guard: () => true, replace: whole });
  }
  const counts: Record<string, number> = {};
  const marks = new Map(rules.map((r) => [r.name, replacement.replace(/\{rule\}/g, r.name)]));
  return {
    counts,
    redact(s) {
      // A replacement can expose a match to a rule that ran before it: passes repeat, over the
      // rules before the last one that replaced something, until nothing changes (at most 3).
      // With the order above, the common case (only an address replaced) needs no second pass.
      let out = s;
      let upTo = rules.length;
      for (let pass = 0; pass < 3 && upTo > 0; pass++) {
        const [next, last] = once(out, upTo);
        if (last < 0) break;
        out = next;
        upTo = last;
      }
      return out;
    },
  };
  /** One pass over rules[0..upTo): the result and the index of the last rule that replaced (-1: none). */
  function once(s: string, upTo: number): [string, number] {
    let out = s;
    let last = -1;
    for (let i = 0; i < upTo; i++) {
      const r = rules[i]!;
      if (!r.guard(out)) continue;
      r.re.lastIndex = 0;
      const mark = marks.get(r.name)!;
      let n = 0;
      const next = out.replace(r.re, (m: string, ...rest: unknown[]) => {
        // rest: the groups, then offset, whole string (and groups object when named).
        const groups: string[] = [];
        for (const x of rest) {
          if (typeof x === 'number') break;
          groups.push(x === undefined ? '' : String(x));
        }
        const rep = r.replace(m, groups, mark);
        // Already redacted (`password=[REDACTED:password]` on a later pass): not a new match.
        if (rep === undefined || rep === m) return m;
        n++;
        return rep;
      });
      if (n > 0) {
        out = next;
        last = i;
        counts[r.name] = (counts[r.name] ?? 0) + n;
      }
    }
    return [out, last];
  }
}

/** Whether an attribute key names a secret (its last dotted segment contains a sensitive word). */
export function sensitiveKey(key: string, words: readonly string[]): boolean {
  const lower = key.toLowerCase();
  const last = lower.slice(lower.lastIndexOf('.') + 1);
  for (const w of words) if (last === w || last.endsWith(`_${w}`) || last.endsWith(`-${w}`)) return true;
  return false;
}
