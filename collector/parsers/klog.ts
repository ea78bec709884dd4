/**
 * klog, the Kubernetes components' log format (and glog's):
 * `Lmmdd hh:mm:ss.uuuuuu threadid file:line] msg`, L one of I W E F (D in some forks).
 * Structured klog v2 messages (`"Pod updated" pod="kube-system/dns" err="..."`) have their
 * quoted message unquoted into `message` and the key="value" pairs read as logfmt.
 *
 * Attributes: `thread.id`, `code.filepath`, `code.lineno` (OpenTelemetry semantic conventions),
 * `message`, plus the structured pairs. The year is inferred from `now`.
 */
import { fail, text, type Fields, type ParseResult } from './result.js';
import { parseKlogTime, type Zone } from './timestamp.js';
import { parseLogfmt } from './logfmt.js';

const LEVELS: Readonly<Record<string, { number: number; text: string }>> = {
  I: { number: 9, text: 'I' },
  W: { number: 13, text: 'W' },
  E: { number: 17, text: 'E' },
  F: { number: 21, text: 'F' },
  D: { number: 5, text: 'D' },
};

export function parseKlog(input: string | Buffer, now: number, zone?: Zone): ParseResult {
  const s = text(input);
  if (s.length > 65_536) return fail('too_long');
  const level = LEVELS[s[0] ?? ''];
  if (level === undefined) return fail('bad_level');
  // mmdd hh:mm:ss[.uuuuuu]
  const sp = s.indexOf(' ', 6);
  if (sp < 0 || s[5] !== ' ') return fail('bad_timestamp');
  const time = parseKlogTime(s.slice(1, sp), now, zone);
  if (time === undefined) return fail('bad_timestamp');
  let i = sp + 1;
  while (s[i] === ' ') i++; // the thread id is right-aligned with spaces
  let j = s.indexOf(' ', i);
  if (j < 0) return fail('no_thread');
  const thread = s.slice(i, j);
  if (!/^\d+$/.test(thread)) return fail('bad_thread');
  const f: Fields = { 'thread.id': Number(thread) };
  i = j + 1;
  j = s.indexOf('] ', i);
  const close = j < 0 && s.endsWith(']') ? s.length - 1 : j;
  if (close < 0) return fail('no_source_location');
  const loc = s.slice(i, close);
  const colon = loc.lastIndexOf(':');
  if (colon <= 0 || !/^\d+$/.test(loc.slice(colon + 1))) return fail('bad_source_location');
  f['code.filepath'] = loc.slice(0, colon);
  f['code.lineno'] = Number(loc.slice(colon + 1));
  const msg = close + 2 <= s.length ? s.slice(close + 2) : '';
  f['message'] = msg;
  if (msg.charCodeAt(0) === 34) structured(msg, f);
  return { ok: true, fields: f, time, severityNumber: level.number, severityText: level.text };
}

/** klog v2 structured: a quoted message, then logfmt pairs. Left as is when it does not fit. */
function structured(msg: string, f: Fields): void {
  let k = 1;
  let out = '';
  while (k < msg.length) {
    const c = msg[k]!;
    if (c === '\\' && k + 1 < msg.length) {
      out += msg[k + 1] === 'n' ? '\n' : msg[k + 1];
      k += 2;
      continue;
    }
    if (c === '"') break;
    out += c;
    k++;
  }
  if (k >= msg.length) return;
  const rest = msg.slice(k + 1);
  if (rest.length > 0 && rest[0] !== ' ') return;
  const pairs: Fields = {};
  if (rest.trim().length > 0 && !parseLogfmt(rest, {}, pairs).ok) return;
  f['message'] = out;
  for (const key in pairs) if (!Object.hasOwn(f, key) && key !== '__proto__') f[key] = pairs[key]!;
}
