/**
 * Severity normalised to OpenTelemetry SeverityNumber (1-24), following the OpenTelemetry logs
 * data model's mapping tables: text levels in any case (including Java util logging's
 * `SEVERE`/`FINE`, syslog's names and klog's letters), syslog severities 0-7, pino/bunyan
 * levels 10-60, HTTP status classes. `severity_text` keeps what the source said, as the data
 * model asks; a number with no text gets the canonical name.
 */

export interface SeverityValue {
  readonly number: number;
  readonly text: string;
}

export type SeverityScheme = 'auto' | 'text' | 'syslog' | 'pino' | 'http' | 'otel';

// Null prototype: a line saying `__proto__` or `constructor` must not find Object.prototype.
const WORDS: Readonly<Record<string, number>> = Object.assign(Object.create(null) as Record<string, number>, {
  trace: 1, finest: 1, finer: 2, verbose: 3, fine: 5, debug: 5, dbg: 5, d: 5, config: 6, t: 1,
  info: 9, information: 9, informational: 9, i: 9, notice: 10, note: 10,
  warn: 13, warning: 13, w: 13,
  error: 17, err: 17, severe: 17, e: 17, crit: 18, critical: 18, c: 18, alert: 19,
  fatal: 21, f: 21, emerg: 21, emergency: 21, panic: 21,
});

/** Syslog severity 0 (Emergency) .. 7 (Debug), per the OpenTelemetry data model appendix. */
const SYSLOG: readonly SeverityValue[] = [
  { number: 21, text: 'emerg' },
  { number: 19, text: 'alert' },
  { number: 18, text: 'crit' },
  { number: 17, text: 'err' },
  { number: 13, text: 'warning' },
  { number: 10, text: 'notice' },
  { number: 9, text: 'info' },
  { number: 5, text: 'debug' },
];

const OTEL_NAMES = ['UNSPECIFIED', 'TRACE', 'TRACE2', 'TRACE3', 'TRACE4', 'DEBUG', 'DEBUG2', 'DEBUG3', 'DEBUG4', 'INFO', 'INFO2', 'INFO3', 'INFO4', 'WARN', 'WARN2', 'WARN3', 'WARN4', 'ERROR', 'ERROR2', 'ERROR3', 'ERROR4', 'FATAL', 'FATAL2', 'FATAL3', 'FATAL4'];

export function syslogSeverity(sev: number): SeverityValue | undefined {
  return Number.isInteger(sev) ? SYSLOG[sev] : undefined;
}

/** 5xx ERROR, 4xx WARN, 1xx-3xx INFO; other numbers are not statuses. */
const HTTP_ERROR: SeverityValue = Object.freeze({ number: 17, text: 'ERROR' });
const HTTP_WARN: SeverityValue = Object.freeze({ number: 13, text: 'WARN' });
const HTTP_INFO: SeverityValue = Object.freeze({ number: 9, text: 'INFO' });

export function httpStatusSeverity(status: number): SeverityValue | undefined {
  if (!Number.isInteger(status) || status < 100 || status > 599) return undefined;
  if (status >= 500) return HTTP_ERROR;
  if (status >= 400) return HTTP_WARN;
  return HTTP_INFO;
}

function pino(n: number): SeverityValue | undefined {
  switch (n) {
    case 10: return { number: 1, text: 'trace' };
    case 20: return { number: 5, text: 'debug' };
    case 30: return { number: 9, text: 'info' };
    case 40: return { number: 13, text: 'warn' };
    case 50: return { number: 17, text: 'error' };
    case 60: return { number: 21, text: 'fatal' };
    default: return undefined;
  }
}

// Level words repeat on nearly every line: answers are cached per exact string (bounded,
// cleared when full; the values are frozen, so sharing them is safe).
const textCache = new Map<string, SeverityValue | null>();

/** A text level: exact word (any case), else its leading letters (`WARNING:`, `Err.`). */
export function textSeverity(s: string): SeverityValue | undefined {
  const hit = textCache.get(s);
  if (hit !== undefined) return hit ?? undefined;
  const v = textSeverityUncached(s);
  if (textCache.size >= 1024) textCache.clear();
  textCache.set(s, v === undefined ? null : Object.freeze(v));
  return v === undefined ? undefined : textCache.get(s) ?? undefined;
}

function textSeverityUncached(s: string): SeverityValue | undefined {
  const t = s.trim();
  if (t.length === 0 || t.length > 24) return undefined;
  const lower = t.toLowerCase();
  let n = WORDS[lower];
  if (n === undefined) {
    // `DEBUG2`, `INFO3`: an OpenTelemetry short name with its step.
    const idx = OTEL_NAMES.indexOf(t.toUpperCase());
    if (idx > 0) n = idx;
  }
  if (n === undefined) {
    // Trim decorations around a level word: `[WARN]`, `<error>`, `INFO:`.
    let a = 0;
    let b = lower.length;
    while (a < b && !isLetter(lower.charCodeAt(a))) a++;
    while (b > a && !isLetter(lower.charCodeAt(b - 1))) b--;
    n = WORDS[lower.slice(a, b)];
  }
  return n === undefined ? undefined : { number: n, text: t };
}

function isLetter(c: number): boolean {
  return c >= 97 && c <= 122;
}

/**
 * Normalises one field value. `auto`: strings are text levels (or numbers when all digits);
 * numbers 0-7 are syslog severities, 10/20/.../60 pino levels, 100-599 HTTP statuses.
 */
export function normalizeSeverity(value: unknown, scheme: SeverityScheme = 'auto'): SeverityValue | undefined {
  if (typeof value === 'string') {
    if (scheme === 'auto' || scheme === 'text') {
      const t = textSeverity(value);
      if (t !== undefined || scheme === 'text') return t;
    }
    const trimmed = value.trim();
    if (trimmed.length === 0 || trimmed.length > 6 || !/^\d+$/.test(trimmed)) return undefined;
    return withText(normalizeSeverity(Number(trimmed), scheme), value);
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) return undefined;
  switch (scheme) {
    case 'syslog':
      return syslogSeverity(value);
    case 'pino':
      return pino(value);
    case 'http':
      return httpStatusSeverity(value);
    case 'otel':
      return Number.isInteger(value) && value >= 1 && value <= 24 ? { number: value, text: OTEL_NAMES[value]! } : undefined;
    case 'text':
      return undefined;
    case 'auto':
      return syslogSeverity(value) ?? pino(value) ?? httpStatusSeverity(value);
  }
}

function withText(v: SeverityValue | undefined, text: string): SeverityValue | undefined {
  return v === undefined ? undefined : { number: v.number, text: text.trim() };
}
