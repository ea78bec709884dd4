/**
 * Syslog, both shapes:
 *
 * - RFC 3164 (BSD): `<PRI>Mmm dd hh:mm:ss HOST TAG[PID]: MSG`. The `<PRI>` is optional, because
 *   files written by rsyslog and syslog-ng drop it; modern rsyslog writes an RFC 3339 timestamp
 *   instead of `Mmm dd`, which is accepted too. The year is inferred from `now`.
 * - RFC 5424: `<PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD-ID k="v"...] MSG`, `-` for nil values.
 *
 * Attributes: `syslog.facility`, `syslog.priority` (when a PRI was present), `syslog.hostname`,
 * `syslog.appname`, `syslog.procid`, `syslog.msgid`, `syslog.version`, structured data as
 * `syslog.sd.<id>.<param>`, and `message` (the body is left as the whole line; a `rename` step
 * `{message: body}` replaces it). Severity comes from the PRI (its low three bits).
 */
import { fail, text, type Fields, type ParseResult } from './result.js';
import { parseIso, parseSyslogTime, type Zone } from './timestamp.js';
import { syslogSeverity } from './severity.js';

interface Pri {
  facility: number;
  severity: number;
  priority: number;
  end: number;
}

/** `<PRI>` at 0: 1-3 digits, at most 191. undefined when absent; null when malformed. */
function pri(s: string): Pri | undefined | null {
  if (s.charCodeAt(0) !== 60 /* < */) return undefined;
  const close = s.indexOf('>', 1);
  if (close < 2 || close > 4) return null;
  const t = s.slice(1, close);
  if (!/^\d+$/.test(t)) return null;
  const p = Number(t);
  if (p > 191) return null;
  return { facility: p >> 3, severity: p & 7, priority: p, end: close + 1 };
}

type Out = { ok: true; fields: Fields; time?: number; timeError?: true; severityNumber?: number; severityText?: string };

function withPri(f: Fields, out: Out, p: Pri | undefined): void {
  if (p === undefined) return;
  f['syslog.facility'] = p.facility;
  f['syslog.priority'] = p.priority;
  const sev = syslogSeverity(p.severity)!;
  out.severityNumber = sev.number;
  out.severityText = sev.text;
}

export function parseSyslog3164(input: string | Buffer, now: number, zone?: Zone): ParseResult {
  const s = text(input);
  if (s.length > 65_536) return fail('too_long');
  const p = pri(s);
  if (p === null) return fail('bad_priority');
  let i = p?.end ?? 0;
  const f: Fields = {};
  const out: Out = { ok: true, fields: f };
  // Timestamp: `Mmm dd hh:mm:ss` (15 chars) or an RFC 3339 word.
  let time: number | undefined;
  const c = s.charCodeAt(i);
  if (c >= 48 && c <= 57) {
    const j = s.indexOf(' ', i);
    if (j < 0) return fail('no_hostname');
    time = parseIso(s.slice(i, j), zone);
    if (time === undefined) return fail('bad_timestamp');
    i = j + 1;
  } else {
    if (s.length < i + 16 || s.charCodeAt(i + 15) !== 32) return fail('bad_timestamp');
    time = parseSyslogTime(s.slice(i, i + 15), now, zone);
    if (time === undefined) return fail('bad_timestamp');
    i += 16;
  }
  out.time = time;
  withPri(f, out, p);
  // HOST
  let j = s.indexOf(' ', i);
  if (j <= i) return fail('no_hostname');
  f['syslog.hostname'] = s.slice(i, j);
  i = j + 1;
  // TAG[PID]: — the tag is optional (then the rest is the message).
  j = s.indexOf(' ', i);
  const word = j < 0 ? s.slice(i) : s.slice(i, j);
  if (word.endsWith(':') && word.length > 1) {
    const tag = word.slice(0, -1);
    const b = tag.indexOf('[');
    if (b > 0 && tag.endsWith(']')) {
      f['syslog.appname'] = tag.slice(0, b);
      f['syslog.procid'] = tag.slice(b + 1, -1);
    } else f['syslog.appname'] = tag;
    i = j < 0 ? s.length : j + 1;
  }
  f['message'] = s.slice(i);
  return out;
}

export function parseSyslog5424(input: string | Buffer, zone?: Zone): ParseResult {
  const s = text(input);
  if (s.length > 65_536) return fail('too_long');
  const p = pri(s);
  if (p === null || p === undefined) return fail('bad_priority');
  const f: Fields = {};
  const out: Out = { ok: true, fields: f };
  let i = p.end;
  // VERSION
  let j = s.indexOf(' ', i);
  const version = s.slice(i, j < 0 ? s.length : j);
  if (!/^[1-9]\d{0,2}$/.test(version)) return fail('bad_version');
  f['syslog.version'] = Number(version);
  withPri(f, out, p);
  const next = (): string | undefined => {
    if (j < 0) return undefined;
    i = j + 1;
    j = s.indexOf(' ', i);
    return s.slice(i, j < 0 ? s.length : j);
  };
  const ts = next();
  if (ts === undefined) return fail('no_timestamp');
  if (ts !== '-') {
    const t = parseIso(ts, zone);
    if (t === undefined) return fail('bad_timestamp');
    out.time = t;
  }
  const names = ['syslog.hostname', 'syslog.appname', 'syslog.procid', 'syslog.msgid'];
  for (const name of names) {
    const v = next();
    if (v === undefined || v === '') return fail('missing_header_field');
    if (v !== '-') f[name] = v;
  }
  // STRUCTURED-DATA: `-` or one or more [id k="v" ...]
  if (j < 0) return fail('no_structured_data');
  i = j + 1;
  if (s[i] === '-') i++;
  else if (s[i] === '[') {
    const r = structuredData(s, i, f);
    if (typeof r === 'string') return fail(r);
    i = r;
  } else return fail('bad_structured_data');
  if (i < s.length) {
    if (s[i] !== ' ') return fail('bad_structured_data');
    let msg = s.slice(i + 1);
    if (msg.charCodeAt(0) === 0xfeff) msg = msg.slice(1);
    f['message'] = msg;
  }
  return out;
}

/** Parses `[id k="v" ...]...` from `i` into `f`; the index after it, or a failure reason. */
function structuredData(s: string, i: number, f: Fields): number | string {
  let elements = 0;
  while (s[i] === '[') {
    if (++elements > 64) return 'bad_structured_data';
    i++;
    let k = i;
    while (k < s.length && s[k] !== ' ' && s[k] !== ']') k++;
    const id = s.slice(i, k);
    if (id.length === 0 || id.includes('=') || id.includes('"')) return 'bad_structured_data';
    i = k;
    while (s[i] === ' ') {
      i++;
      const eq = s.indexOf('=', i);
      if (eq < 0) return 'bad_structured_data';
      const name = s.slice(i, eq);
      if (name.length === 0 || name.includes(' ') || name.includes(']') || s[eq + 1] !== '"') return 'bad_structured_data';
      // PARAM-VALUE: `"`, `\` and `]` are escaped with a backslash.
      let v = '';
      let m = eq + 2;
      for (;;) {
        if (m >= s.length) return 'bad_structured_data';
        const c = s[m]!;
        if (c === '\\' && m + 1 < s.length) {
          const n = s[m + 1]!;
          v += n === '"' || n === '\\' || n === ']' ? n : c + n;
          m += 2;
          continue;
        }
        if (c === '"') break;
        v += c;
        m++;
      }
      f[`syslog.sd.${id}.${name}`] = v;
      i = m + 1;
    }
    if (s[i] !== ']') return 'bad_structured_data';
    i++;
  }
  return i;
}
