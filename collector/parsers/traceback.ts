/**
 * Java and Python tracebacks, Go panics. The agent's multiline rules join a trace into one event
 * (lines separated by `\n`); these read the joined text. Attributes follow the OpenTelemetry
 * exception conventions: `exception.type`, `exception.message`, `exception.stacktrace` (the trace
 * from the exception line on), plus `exception.frame_count`, the innermost frame as
 * `code.function`, `code.filepath`, `code.lineno`, the root cause (`exception.root_cause.type` /
 * `.message`, Java's last `Caused by:`), and `message` for a log header line before the trace
 * (`2026-... ERROR Request failed`). A text with no recognisable exception fails with
 * `no_exception` (Go's: `no_panic`).
 *
 * All scan lines with indexOf and character tests; no regular expression runs on the whole text.
 */
import { fail, text, type Fields, type ParseResult } from './result.js';

const MAX_CHARS = 1_048_576;

function lines(s: string): string[] {
  const out = s.split('\n');
  for (let k = 0; k < out.length; k++) if (out[k]!.endsWith('\r')) out[k] = out[k]!.slice(0, -1);
  return out;
}

function isIdentChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 36;
}

/**
 * A Java throwable line: `pkg.Name[: message]`, the name fully qualified (at least one dot) with
 * an upper-case simple name, as `Throwable.toString()` prints it. Returns [type, message].
 */
function javaThrowable(line: string): [string, string | undefined] | undefined {
  let t = line;
  if (t.startsWith('Exception in thread "')) {
    const q = t.indexOf('" ', 21);
    if (q < 0) return undefined;
    t = t.slice(q + 2);
  } else if (t.startsWith('Caused by: ')) t = t.slice(11);
  else if (t.startsWith('Suppressed: ')) t = t.slice(12);
  const colon = t.indexOf(': ');
  const name = colon < 0 ? t.trimEnd() : t.slice(0, colon);
  if (name.length < 3 || name.length > 512) return undefined;
  let dots = 0;
  let segStart = 0;
  for (let k = 0; k < name.length; k++) {
    const c = name.charCodeAt(k);
    if (c === 46) {
      if (k === segStart) return undefined;
      dots++;
      segStart = k + 1;
    } else if (!isIdentChar(c)) return undefined;
  }
  if (dots === 0 || segStart >= name.length) return undefined;
  const first = name.charCodeAt(segStart);
  if (first < 65 || first > 90) return undefined;
  return [name, colon < 0 ? undefined : t.slice(colon + 2)];
}

/** `at pkg.Class.method(File.java:42)` → function, file, line. */
function javaFrame(line: string): { fn: string; file?: string; line?: number } | undefined {
  const t = line.trimStart();
  if (!t.startsWith('at ')) return undefined;
  const open = t.indexOf('(', 3);
  if (open < 0) return undefined;
  // Java 9+ prefixes a module: `java.base/java.lang.Thread.run(...)`.
  let fn = t.slice(3, open);
  const slash = fn.lastIndexOf('/');
  if (slash >= 0) fn = fn.slice(slash + 1);
  const close = t.lastIndexOf(')');
  const loc = t.slice(open + 1, close < 0 ? t.length : close);
  const colon = loc.lastIndexOf(':');
  if (colon < 0) return loc.length > 0 && loc !== 'Native Method' && loc !== 'Unknown Source' ? { fn, file: loc } : { fn };
  const n = Number(loc.slice(colon + 1));
  return Number.isInteger(n) ? { fn, file: loc.slice(0, colon), line: n } : { fn, file: loc };
}

export function parseJavaTraceback(input: string | Buffer): ParseResult {
  const s = text(input);
  if (s.length > MAX_CHARS) return fail('too_long');
  const ls = lines(s);
  let exLine = -1;
  let ex: [string, string | undefined] | undefined;
  // The first throwable line followed (after any message continuation lines) by a frame.
  for (let k = 0; k < ls.length && k < 10_000; k++) {
    const cand = javaThrowable(ls[k]!);
    if (cand === undefined) continue;
    let m = k + 1;
    while (m < ls.length && m - k <= 50 && javaFrame(ls[m]!) === undefined && javaThrowable(ls[m]!) === undefined) m++;
    if (m < ls.length && javaFrame(ls[m]!) !== undefined) {
      exLine = k;
      ex = cand;
      // A message spanning lines up to the first frame.
      if (m > k + 1) ex = [cand[0], [cand[1] ?? '', ...ls.slice(k + 1, m)].join('\n')];
      break;
    }
  }
  if (ex === undefined) return fail('no_exception');
  const f: Fields = { 'exception.type': ex[0] };
  if (ex[1] !== undefined) f['exception.message'] = ex[1];
  if (exLine > 0) f['message'] = ls.slice(0, exLine).join('\n');
  let frames = 0;
  let top: ReturnType<typeof javaFrame>;
  let root: [string, string | undefined] | undefined;
  for (let k = exLine + 1; k < ls.length; k++) {
    const line = ls[k]!;
    const fr = javaFrame(line);
    if (fr !== undefined) {
      frames++;
      top ??= fr;
      continue;
    }
    if (line.startsWith('Caused by: ')) root = javaThrowable(line) ?? root;
  }
  f['exception.frame_count'] = frames;
  if (top !== undefined) {
    f['code.function'] = top.fn;
    if (top.file !== undefined) f['code.filepath'] = top.file;
    if (top.line !== undefined) f['code.lineno'] = top.line;
  }
  if (root !== undefined) {
    f['exception.root_cause.type'] = root[0];
    if (root[1] !== undefined) f['exception.root_cause.message'] = root[1];
  }
  f['exception.stacktrace'] = ls.slice(exLine).join('\n');
  return { ok: true, fields: f, severityNumber: 17, severityText: 'ERROR' };
}

/** `  File "/app/x.py", line 10, in handler` → file, line, function. */
function pythonFrame(line: string): { file: string; line?: number; fn?: string } | undefined {
  if (!line.startsWith('  File "')) return undefined;
  const q = line.indexOf('"', 8);
  if (q < 0) return undefined;
  const file = line.slice(8, q);
  const rest = line.slice(q + 1);
  const out: { file: string; line?: number; fn?: string } = { file };
  const ln = rest.indexOf(', line ');
  if (ln >= 0) {
    let e = ln + 7;
    while (e < rest.length && rest.charCodeAt(e) >= 48 && rest.charCodeAt(e) <= 57) e++;
    if (e > ln + 7) out.line = Number(rest.slice(ln + 7, e));
  }
  const inn = rest.indexOf(', in ');
  if (inn >= 0) out.fn = rest.slice(inn + 5);
  return out;
}

/** `ValueError: bad`, `requests.exceptions.HTTPError: 500`, `KeyboardInterrupt`. */
function pythonException(line: string): [string, string | undefined] | undefined {
  if (line.length === 0 || line.charCodeAt(0) === 32 || line.charCodeAt(0) === 9) return undefined;
  const colon = line.indexOf(':');
  const name = colon < 0 ? line.trimEnd() : line.slice(0, colon);
  if (name.length === 0 || name.length > 256) return undefined;
  for (let k = 0; k < name.length; k++) {
    const c = name.charCodeAt(k);
    if (!isIdentChar(c) && c !== 46) return undefined;
  }
  if (colon < 0) return [name, undefined];
  const msg = line.slice(colon + 1);
  return [name, msg.startsWith(' ') ? msg.slice(1) : msg];
}

export function parsePythonTraceback(input: string | Buffer): ParseResult {
  const s = text(input);
  if (s.length > MAX_CHARS) return fail('too_long');
  const ls = lines(s);
  const start = ls.findIndex((l) => l.startsWith('Traceback (most recent call last):'));
  if (start < 0) return fail('no_traceback');
  // Chained exceptions repeat "Traceback ..."; the frames and exception of the last one are what
  // was raised, the first one is the root cause.
  let frames = 0;
  let inner: ReturnType<typeof pythonFrame>;
  let ex: [string, string | undefined] | undefined;
  let exIndex = -1;
  let first: [string, string | undefined] | undefined;
  let inTrace = false;
  for (let k = start; k < ls.length; k++) {
    const line = ls[k]!;
    if (line.startsWith('Traceback (most recent call last):')) {
      inTrace = true;
      frames = 0;
      continue;
    }
    const fr = pythonFrame(line);
    if (fr !== undefined) {
      frames++;
      inner = fr;
      continue;
    }
    if (!inTrace) continue;
    const e = pythonException(line);
    if (e !== undefined) {
      ex = e;
      exIndex = k;
      first ??= e;
      inTrace = false;
    }
  }
  if (ex === undefined) return fail('no_exception');
  const f: Fields = { 'exception.type': ex[0] };
  if (ex[1] !== undefined) {
    // A multi-line message continues until a blank line or the next traceback.
    let end = exIndex + 1;
    while (end < ls.length && ls[end] !== '' && !ls[end]!.startsWith('Traceback (')) end++;
    f['exception.message'] = [ex[1], ...ls.slice(exIndex + 1, end)].join('\n');
  }
  if (start > 0) f['message'] = ls.slice(0, start).join('\n');
  f['exception.frame_count'] = frames;
  if (inner !== undefined) {
    if (inner.fn !== undefined) f['code.function'] = inner.fn;
    f['code.filepath'] = inner.file;
    if (inner.line !== undefined) f['code.lineno'] = inner.line;
  }
  if (first !== undefined && first !== ex) {
    f['exception.root_cause.type'] = first[0];
    if (first[1] !== undefined) f['exception.root_cause.message'] = first[1];
  }
  f['exception.stacktrace'] = ls.slice(start).join('\n');
  return { ok: true, fields: f, severityNumber: 17, severityText: 'ERROR' };
}

/**
 * Go: the `panic: <value>` a program dies of (`[recovered]` re-panics and a `[signal ...]` line
 * may follow), the runtime's `fatal error: <text>`, or net/http's `http: panic serving <addr>:
 * <value>`, which the server recovered (severity ERROR instead of FATAL); then the goroutines'
 * traces, the panicking goroutine first. `exception.type` is `panic`, `runtime error` (the runtime's
 * own panics, `panic: runtime error: index out of range ...`) or `fatal error`; the innermost frame
 * is the first function of the first goroutine, with the `\t<file>:<line> +0x..` line under it.
 */
export function parseGoPanic(input: string | Buffer): ParseResult {
  const s = text(input);
  if (s.length > MAX_CHARS) return fail('too_long');
  const ls = lines(s);
  let at = -1;
  let type = 'panic';
  let msg = '';
  let header = '';
  let recovered = false;
  for (let k = 0; k < ls.length && k < 10_000; k++) {
    const l = ls[k]!;
    if (l.startsWith('panic: ')) msg = l.slice(7);
    else if (l.startsWith('fatal error: ')) {
      type = 'fatal error';
      msg = l.slice(13);
    } else {
      const h = l.indexOf('http: panic serving ');
      if (h < 0) continue;
      const rest = l.slice(h + 20);
      const colon = rest.indexOf(': ');
      if (colon < 0) continue;
      msg = rest.slice(colon + 2);
      header = l.slice(0, h).trimEnd();
      recovered = true;
    }
    at = k;
    break;
  }
  if (at < 0) return fail('no_panic');
  if (type === 'panic' && msg.startsWith('runtime error: ')) {
    type = 'runtime error';
    msg = msg.slice(15);
  }
  if (msg.endsWith(' [recovered]')) msg = msg.slice(0, -12);
  const f: Fields = { 'exception.type': type, 'exception.message': msg };
  const before = [...ls.slice(0, at), ...(header === '' ? [] : [header])];
  if (before.length > 0) f['message'] = before.join('\n');
  // The first goroutine's frames: a function line, then its indented location line.
  let frames = 0;
  let g = at + 1;
  while (g < ls.length && !ls[g]!.startsWith('goroutine ')) g++;
  for (let k = g + 1; k < ls.length; k++) {
    const l = ls[k]!;
    if (l === '' || l.startsWith('goroutine ')) break;
    if (l.startsWith('\t') || l.startsWith(' ') || l.startsWith('created by ') || l.startsWith('...')) continue;
    frames++;
    if (frames > 1) continue;
    f['code.function'] = goFunction(l);
    const loc = ls[k + 1]?.startsWith('\t') === true ? ls[k + 1]!.trim() : '';
    const plus = loc.lastIndexOf(' +0x');
    const place = plus < 0 ? loc : loc.slice(0, plus);
    const colon = place.lastIndexOf(':');
    const n = colon < 0 ? NaN : Number(place.slice(colon + 1));
    if (Number.isInteger(n)) {
      f['code.filepath'] = place.slice(0, colon);
      f['code.lineno'] = n;
    }
  }
  f['exception.frame_count'] = frames;
  f['exception.stacktrace'] = ls.slice(at).join('\n');
  return recovered ? { ok: true, fields: f, severityNumber: 17, severityText: 'ERROR' } : { ok: true, fields: f, severityNumber: 21, severityText: 'FATAL' };
}

/** `main.(*Store).Get(0xc000010000, {0x4b2f00, 0x3})` → `main.(*Store).Get`: the name without its arguments. */
function goFunction(line: string): string {
  if (!line.endsWith(')')) return line;
  let depth = 0;
  for (let k = line.length - 1; k >= 0; k--) {
    const c = line.charCodeAt(k);
    if (c === 41) depth++;
    else if (c === 40 && --depth === 0) return line.slice(0, k);
  }
  return line;
}
