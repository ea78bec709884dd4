/**
 * Conditions on fields, written `field op value` (`http.response.status_code >= 500`,
 * `url.path == /healthz`, `service.name in api,web`, `message matches ^timeout`,
 * `user.name exists`). Deliberately small: no expressions, functions or nesting, so a config
 * can never run code or loop; `matches` patterns pass the same safety check as `regex` steps.
 * Compiled once at start (a bad condition is a config error), evaluated per record.
 *
 * Operators: `==` `!=` (numbers compare as numbers when both sides are numeric, else as strings),
 * `>` `>=` `<` `<=` (numeric; a non-numeric field is false), `contains`, `starts_with`,
 * `ends_with`, `matches`, `in` / `not_in` (comma-separated list), `exists`, `missing`.
 * A value may be double-quoted to keep spaces at its ends.
 */
import type { AttrValue, LogRecord } from '../../core/model.js';
import { getField } from './fields.js';
import { unsafeReason } from './regex.js';

export type Condition = (rec: LogRecord) => boolean;

const OPS = ['==', '!=', '>=', '<=', '>', '<', 'contains', 'starts_with', 'ends_with', 'matches', 'in', 'not_in', 'exists', 'missing'] as const;
type Op = (typeof OPS)[number];

function asString(v: AttrValue | undefined): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

function asNumber(v: AttrValue | undefined): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

function unquote(s: string): string {
  const t = s.trim();
  return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1) : t;
}

/** Compiles one condition; throws a plain Error naming the problem. */
export function compileCondition(expr: string): Condition {
  const t = expr.trim();
  const sp = t.indexOf(' ');
  if (sp <= 0) throw new Error(`condition "${expr}": expected "field op value"`);
  const field = t.slice(0, sp);
  const rest = t.slice(sp + 1).trimStart();
  const sp2 = rest.indexOf(' ');
  const op = (sp2 < 0 ? rest : rest.slice(0, sp2)) as Op;
  if (!OPS.includes(op)) throw new Error(`condition "${expr}": unknown operator "${op}" (one of ${OPS.join(' ')})`);
  const raw = sp2 < 0 ? '' : rest.slice(sp2 + 1);
  const value = unquote(raw);
  if (op === 'exists') return (r) => getField(r, field) !== undefined;
  if (op === 'missing') return (r) => getField(r, field) === undefined;
  if (raw.trim() === '') throw new Error(`condition "${expr}": operator ${op} needs a value`);
  switch (op) {
    case '==':
    case '!=': {
      const n = asNumber(value);
      const eq = (r: LogRecord): boolean => {
        const v = getField(r, field);
        if (n !== undefined) {
          const fv = asNumber(v);
          if (fv !== undefined) return fv === n;
        }
        return asString(v) === value;
      };
      return op === '==' ? eq : (r) => !eq(r);
    }
    case '>':
    case '>=':
    case '<':
    case '<=': {
      const n = asNumber(value);
      if (n === undefined) throw new Error(`condition "${expr}": ${op} needs a number`);
      const cmp = op === '>' ? (a: number) => a > n : op === '>=' ? (a: number) => a >= n : op === '<' ? (a: number) => a < n : (a: number) => a <= n;
      return (r) => {
        const fv = asNumber(getField(r, field));
        return fv !== undefined && cmp(fv);
      };
    }
    case 'contains':
      return (r) => asString(getField(r, field))?.includes(value) === true;
    case 'starts_with':
      return (r) => asString(getField(r, field))?.startsWith(value) === true;
    case 'ends_with':
      return (r) => asString(getField(r, field))?.endsWith(value) === true;
    case 'matches': {
      const why = unsafeReason(value);
      if (why !== undefined) throw new Error(`condition "${expr}": unsafe pattern: ${why}`);
      let re: RegExp;
      try {
        re = new RegExp(value);
      } catch (err) {
        throw new Error(`condition "${expr}": invalid pattern: ${(err as Error).message}`);
      }
      return (r) => {
        const s = asString(getField(r, field));
        // Bounded input, as for regex steps.
        return s !== undefined && s.length <= 8192 && re.test(s);
      };
    }
    case 'in':
    case 'not_in': {
      const set = new Set(value.replace(/^\[|\]$/g, '').split(',').map((x) => unquote(x)));
      const has = (r: LogRecord): boolean => {
        const s = asString(getField(r, field));
        return s !== undefined && set.has(s);
      };
      return op === 'in' ? has : (r) => !has(r);
    }
  }
  throw new Error(`condition "${expr}": unsupported`);
}

/** All of `conds` hold (true for none). */
export function all(conds: readonly Condition[]): Condition {
  return (r) => {
    for (const c of conds) if (!c(r)) return false;
    return true;
  };
}

/** Any of `conds` holds (false for none). */
export function any(conds: readonly Condition[]): Condition {
  return (r) => {
    for (const c of conds) if (c(r)) return true;
    return false;
  };
}
