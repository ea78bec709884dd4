/**
 * Web server access logs: the Common Log Format (NCSA, `%h %l %u %t "%r" %>s %b`) and the
 * combined format (`... "%{Referer}i" "%{User-agent}i"`), as Apache httpd and nginx write them.
 * A hand-written scanner (one pass, no regular expression): this is the hottest preset, and
 * bench/parse.mjs measures it.
 *
 * Attributes follow the OpenTelemetry semantic conventions: `client.address`, `user.name`,
 * `http.request.method`, `url.original`, `url.path`, `url.query`, `network.protocol.name`,
 * `network.protocol.version`, `http.response.status_code`, `http.response.status_class`
 * (`2xx`..`5xx`, a cheap label for metrics), `http.response.body.size`,
 * `http.request.header.referer`, `user_agent.original`. `-` means absent and sets nothing.
 * Severity comes from the status class (5xx ERROR, 4xx WARN, else INFO).
 *
 * After the combined fields, custom formats often append more: nginx's default `main` format
 * appends `"$http_x_forwarded_for"` (→ `http.request.header.x_forwarded_for`); `key=value`
 * tokens (`rt=0.123 uct="0.001"`) become attributes under their key; a bare number becomes
 * `request_time` (nginx `$request_time`, seconds) or, for Apache, `request_duration_us` (`%D`).
 */
import type { AttrValue } from '../../core/model.js';
import { fail, text, type Fields, type ParseResult } from './result.js';
import { parseApache, type Zone } from './timestamp.js';
import { httpStatusSeverity } from './severity.js';

export type AccessFormat = 'clf' | 'nginx_combined' | 'apache_combined';

const STATUS_CLASS = ['0xx', '1xx', '2xx', '3xx', '4xx', '5xx'];

/** Index of the next space at or after i (or n). */
function spaceAt(s: string, i: number): number {
  const j = s.indexOf(' ', i);
  return j < 0 ? s.length : j;
}

/**
 * Reads a double-quoted string at `i` (which must be `"`), honouring `\"` and `\\` escapes
 * (Apache escapes `"` as `\"`, nginx as `\x22`): [raw contents, index after the closing quote].
 */
function quoted(s: string, i: number): [string, number] | undefined {
  if (s.charCodeAt(i) !== 34) return undefined;
  let j = i + 1;
  let escaped = false;
  for (;;) {
    const q = s.indexOf('"', j);
    if (q < 0) return undefined;
    // Count backslashes before the quote: an odd count escapes it.
    let b = q - 1;
    while (b > i && s.charCodeAt(b) === 92) b--;
    if ((q - 1 - b) % 2 === 1) {
      escaped = true;
      j = q + 1;
      continue;
    }
    const raw = s.slice(i + 1, q);
    return [escaped ? raw.replace(/\\(["\\])/g, '$1') : raw, q + 1];
  }
}

function setUnlessDash(f: Fields, key: string, v: string): void {
  if (v !== '-' && v !== '') f[key] = v;
}

/**
 * Parses one line. With `into`, the fields are written there (and `fields` is `into`), and only
 * once the whole line has parsed: a failure leaves `into` untouched. Writing into the caller's
 * map saves an object per line; bench/parse.mjs showed the collector's time on the nginx preset
 * going mostly to garbage collection.
 */
export function parseAccess(input: string | Buffer, format: AccessFormat, zone?: Zone, into?: Fields): ParseResult {
  const s = text(input);
  const n = s.length;
  if (n > 65_536) return fail('too_long');
  if (n === 0) return fail('empty');
  // %h
  let i = 0;
  let j = spaceAt(s, i);
  if (j === 0 || j >= n) return fail('no_client');
  const client = s.slice(i, j);
  // %l (identd, nearly always "-"), %u
  i = j + 1;
  j = spaceAt(s, i);
  if (j >= n) return fail('no_ident');
  i = j + 1;
  // %u may contain spaces in broken clients' basic auth; it ends right before " [".
  j = s.indexOf(' [', i - 1);
  if (j < 0) return fail('no_timestamp');
  const user = j >= i ? s.slice(i, j) : '-';
  // [%t]
  i = j + 2;
  j = s.indexOf(']', i);
  if (j < 0) return fail('no_timestamp');
  const time = parseApache(s.slice(i, j), zone);
  if (s.charCodeAt(j + 1) !== 32) return fail('no_request');
  // "%r"
  const req = quoted(s, j + 2);
  if (req === undefined) return fail('no_request');
  const [request, afterReq] = req;
  // %>s
  i = afterReq;
  if (s.charCodeAt(i) !== 32) return fail('no_status');
  i++;
  j = spaceAt(s, i);
  const status = j - i === 3 ? digits3(s, i) : -1;
  if (status < 100 || status > 599) return fail('bad_status');
  // %b ("-" for no body) ; CLF ends here.
  i = j + 1;
  if (j >= n) return fail('no_size');
  j = spaceAt(s, i);
  let size = -1;
  if (!(j - i === 1 && s.charCodeAt(i) === 45)) {
    const sizeText = s.slice(i, j);
    size = Number(sizeText);
    if (sizeText.length === 0 || !Number.isSafeInteger(size) || size < 0) return fail('bad_size');
  }
  i = j;
  let referer = '-';
  let agent = '-';
  let extra: Fields | undefined;
  if (format !== 'clf') {
    if (i >= n) return fail('no_referer');
    const ref = quoted(s, i + 1);
    if (ref === undefined) return fail('no_referer');
    referer = ref[0];
    i = ref[1];
    if (s.charCodeAt(i) !== 32) return fail('no_user_agent');
    const ua = quoted(s, i + 1);
    if (ua === undefined) return fail('no_user_agent');
    agent = ua[0];
    i = ua[1];
    if (i < n) {
      extra = {};
      const bad = trailing(s, i, format, extra);
      if (bad !== undefined) return fail(bad);
    }
  } else if (i < n) {
    // CLF has nothing after %b; accept trailing spaces only.
    if (s.slice(i).trim() !== '') return fail('trailing_garbage');
  }
  // The whole line parsed: now write.
  const f: Fields = into ?? {};
  setUnlessDash(f, 'client.address', client);
  setUnlessDash(f, 'user.name', user);
  if (request !== '-' && request !== '') {
    const sp1 = request.indexOf(' ');
    if (sp1 > 0) {
      f['http.request.method'] = request.slice(0, sp1);
      const sp2 = request.lastIndexOf(' ');
      const http = sp2 > sp1 && request.startsWith('HTTP/', sp2 + 1);
      const target = http ? request.slice(sp1 + 1, sp2) : request.slice(sp1 + 1);
      f['url.original'] = target;
      const q = target.indexOf('?');
      f['url.path'] = q < 0 ? target : target.slice(0, q);
      if (q >= 0) f['url.query'] = target.slice(q + 1);
      if (http) {
        f['network.protocol.name'] = 'http';
        f['network.protocol.version'] = request.slice(sp2 + 6);
      }
    } else {
      // A request line with no method: a scanner or a TLS handshake sent to the plain port.
      f['url.original'] = request;
    }
  }
  f['http.response.status_code'] = status;
  f['http.response.status_class'] = STATUS_CLASS[Math.floor(status / 100)]!;
  if (size >= 0) f['http.response.body.size'] = size;
  setUnlessDash(f, 'http.request.header.referer', referer);
  setUnlessDash(f, 'user_agent.original', agent);
  if (extra !== undefined) {
    for (const k in extra) if (k !== '__proto__') f[k] = extra[k]!;
  }
  const sev = httpStatusSeverity(status)!;
  const out: { ok: true; fields: Fields; time?: number; timeError?: true; severityNumber: number; severityText: string } = {
    ok: true,
    fields: f,
    severityNumber: sev.number,
    severityText: sev.text,
  };
  if (time !== undefined) out.time = time;
  else out.timeError = true;
  return out;
}

function digits3(s: string, i: number): number {
  const a = s.charCodeAt(i) - 48;
  const b = s.charCodeAt(i + 1) - 48;
  const c = s.charCodeAt(i + 2) - 48;
  if (a < 0 || a > 9 || b < 0 || b > 9 || c < 0 || c > 9) return -1;
  return a * 100 + b * 10 + c;
}

/** The fields some formats append after the user agent. */
function trailing(s: string, i: number, format: AccessFormat, f: Fields): string | undefined {
  const n = s.length;
  let quotedSeen = 0;
  while (i < n) {
    if (s.charCodeAt(i) === 32) {
      i++;
      continue;
    }
    if (s.charCodeAt(i) === 34) {
      const q = quoted(s, i);
      if (q === undefined) return 'unterminated_quote';
      if (quotedSeen === 0 && format === 'nginx_combined') setUnlessDash(f, 'http.request.header.x_forwarded_for', q[0]);
      else setUnlessDash(f, `extra.${quotedSeen}`, q[0]);
      quotedSeen++;
      i = q[1];
      continue;
    }
    const j = spaceAt(s, i);
    const tok = s.slice(i, j);
    const eq = tok.indexOf('=');
    if (eq > 0) {
      let v = tok.slice(eq + 1);
      let end = j;
      if (v.startsWith('"')) {
        const q = quoted(s, i + eq + 1);
        if (q === undefined) return 'unterminated_quote';
        v = q[0];
        end = q[1];
      }
      f[tok.slice(0, eq)] = numberOr(v);
      i = end;
      continue;
    }
    const num = Number(tok);
    if (tok !== '-' && tok.length > 0 && Number.isFinite(num)) f[format === 'nginx_combined' ? 'request_time' : 'request_duration_us'] = num;
    i = j;
  }
  return undefined;
}

function numberOr(v: string): AttrValue {
  if (v === '' || v === '-') return v;
  const n = Number(v);
  return Number.isFinite(n) ? n : v;
}
