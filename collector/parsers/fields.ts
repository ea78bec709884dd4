/**
 * Field access and the field steps (rename, drop, keep) over a log record. Field names are
 * attribute keys, with a few reserved names for the record's own fields: `body`,
 * `severity_text`, `severity_number`, `trace_id`, `span_id`, and `resource.<key>` for a
 * resource attribute. Pure; the functions change the record they are given, which the caller
 * owns (the parse transform works on its own copy).
 */
import type { AttrValue, Attributes, LogRecord } from '../../core/model.js';

export function getField(rec: LogRecord, name: string): AttrValue | undefined {
  switch (name) {
    case 'body':
      return rec.body;
    case 'severity_text':
      return rec.severity_text;
    case 'severity_number':
      return rec.severity_number;
    case 'trace_id':
      return rec.trace_id;
    case 'span_id':
      return rec.span_id;
    default:
      if (name.startsWith('resource.')) {
        const k = name.slice(9);
        return Object.hasOwn(rec.resource, k) ? rec.resource[k] : undefined;
      }
      return Object.hasOwn(rec.attributes, name) ? rec.attributes[name] : undefined;
  }
}

/** Sets a field; the reserved names take only values of their type (others are ignored, false returned). */
export function setField(rec: LogRecord, name: string, v: AttrValue): boolean {
  switch (name) {
    case 'body':
      rec.body = v;
      return true;
    case 'severity_text':
      if (typeof v !== 'string') return false;
      rec.severity_text = v;
      return true;
    case 'severity_number':
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 24) return false;
      rec.severity_number = v;
      return true;
    case 'trace_id':
    case 'span_id':
      if (typeof v !== 'string') return false;
      rec[name] = v;
      return true;
    default:
      if (name.startsWith('resource.')) define(rec.resource, name.slice(9), v);
      else define(rec.attributes, name, v);
      return true;
  }
}

function define(a: Attributes, k: string, v: AttrValue): void {
  if (k === '__proto__') Object.defineProperty(a, k, { value: v, enumerable: true, writable: true, configurable: true });
  else a[k] = v;
}

export function deleteField(rec: LogRecord, name: string): void {
  if (name.startsWith('resource.')) delete rec.resource[name.slice(9)];
  else if (name === 'trace_id' || name === 'span_id') delete rec[name];
  else if (name === 'body') rec.body = '';
  else delete rec.attributes[name];
}

/** A key pattern: an exact key, or `prefix.*` for every key under a prefix. */
export function keyMatcher(patterns: readonly string[]): (key: string) => boolean {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  for (const p of patterns) {
    if (p.endsWith('.*')) prefixes.push(p.slice(0, -1));
    else if (p === '*') prefixes.push('');
    else exact.add(p);
  }
  if (prefixes.length === 0) return (k) => exact.has(k);
  return (k) => exact.has(k) || prefixes.some((p) => k.startsWith(p));
}

/** Moves `from` to `to` for each entry; a missing source is skipped; an existing target is overwritten. */
export function renameFields(rec: LogRecord, map: Readonly<Record<string, string>>): void {
  for (const from in map) {
    const v = getField(rec, from);
    if (v === undefined) continue;
    const to = map[from]!;
    if (setField(rec, to, v) && from !== to && from !== 'body') deleteField(rec, from);
  }
}

/** Removes the attributes that match (exact keys or `prefix.*`). */
export function dropFields(rec: LogRecord, match: (key: string) => boolean, reserved: readonly string[]): void {
  for (const k of Object.keys(rec.attributes)) if (match(k)) delete rec.attributes[k];
  for (const r of reserved) deleteField(rec, r);
}

/** Keeps only the attributes that match; the record's own fields (body, severity, time) stay. */
export function keepFields(rec: LogRecord, match: (key: string) => boolean): void {
  for (const k of Object.keys(rec.attributes)) if (!match(k)) delete rec.attributes[k];
}
