/**
 * Container logs as the container runtime writes them under /var/log/pods (the files that
 * Kubernetes' /var/log/containers/*.log link to), for the agent's file source to tail:
 *
 * - `cri` (containerd, CRI-O): `<RFC 3339 time> <stdout|stderr> <tag> <message>`, the tag `F`
 *   (a full line) or `P` (a partial one: the runtime cut a line longer than its buffer, 16 KiB),
 *   possibly followed by `:`-separated tags of its own;
 * - `docker` (Docker's json-file driver): `{"log":"<message>\n","stream":"stdout","time":"..."}`,
 *   a message without its newline being a partial line.
 *
 * Sets `log.iostream` (OpenTelemetry semantic conventions), `message` (what the application
 * wrote, its newline removed) and the event time; a partial piece also gets
 * `tidewatch.partial: true`. Pieces are not joined here: each is its own record.
 */
import { fail, text, type Fields, type ParseResult } from './result.js';
import { parseIso } from './timestamp.js';

/** Longer inputs are refused (too_long): a runtime writes lines of at most a few tens of KiB. */
const MAX_CHARS = 1 << 20;

export function parseCri(input: string | Buffer): ParseResult {
  const s = text(input);
  if (s.length > MAX_CHARS) return fail('too_long');
  const sp1 = s.indexOf(' ');
  if (sp1 <= 0) return fail('bad_timestamp');
  const time = parseIso(s.slice(0, sp1));
  if (time === undefined) return fail('bad_timestamp');
  const sp2 = s.indexOf(' ', sp1 + 1);
  const stream = sp2 < 0 ? '' : s.slice(sp1 + 1, sp2);
  if (stream !== 'stdout' && stream !== 'stderr') return fail('bad_stream');
  // An empty message may come without the space after the tag.
  const sp3 = s.indexOf(' ', sp2 + 1);
  const tag = sp3 < 0 ? s.slice(sp2 + 1) : s.slice(sp2 + 1, sp3);
  const full = tag === 'F' || tag.startsWith('F:');
  if (!full && tag !== 'P' && !tag.startsWith('P:')) return fail('bad_tag');
  const fields: Fields = { 'log.iostream': stream, message: sp3 < 0 ? '' : s.slice(sp3 + 1) };
  if (!full) fields['tidewatch.partial'] = true;
  return { ok: true, fields, time };
}

export function parseDocker(input: string | Buffer): ParseResult {
  const s = text(input);
  if (s.length > MAX_CHARS) return fail('too_long');
  if (s.charCodeAt(0) !== 123 /* { */) return fail('not_json');
  let v: unknown;
  try {
    v = JSON.parse(s);
  } catch {
    return fail('not_json');
  }
  const o = v as { log?: unknown; stream?: unknown; time?: unknown };
  if (typeof o !== 'object' || o === null || typeof o.log !== 'string') return fail('no_log');
  if (o.stream !== 'stdout' && o.stream !== 'stderr') return fail('bad_stream');
  const log = o.log;
  const full = log.endsWith('\n');
  const fields: Fields = { 'log.iostream': o.stream, message: full ? log.slice(0, log.endsWith('\r\n') ? -2 : -1) : log };
  if (!full) fields['tidewatch.partial'] = true;
  const time = typeof o.time === 'string' ? parseIso(o.time) : undefined;
  return time === undefined ? { ok: true, fields, timeError: true } : { ok: true, fields, time };
}
