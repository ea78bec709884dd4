/**
 * `sniff_severity`: a minimal, fast guess of a log record's severity from its body, for records
 * whose source did not say (severity_number 0). It looks at the first `max_scan_chars` of a
 * string body for, in order: an explicit level (`level=warn`, `"level":"error"`, `[error]`, or an
 * upper-case token such as `ERROR`), then an HTTP status after a quoted request line, as in
 * nginx/Apache access logs (5xx → ERROR, 4xx → WARN, other → INFO). Records with a severity, or
 * with nothing recognisable, pass through unchanged. The parsing issue replaces this with real
 * parsers; this one exists so `tidewatch up` has severities to count.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { ComponentContext, Transform, TransformFactory } from '../../core/component.js';
import type { Event, LogRecord } from '../../core/model.js';
import { Severity } from '../../core/model.js';

export const schema = Type.Object(
  {
    max_scan_chars: Type.Integer({
      minimum: 16,
      maximum: 65_536,
      default: 512,
      description: 'Only the first this many characters of a body are looked at: levels and status codes sit at the start, and long lines stay cheap.',
    }),
  },
  { additionalProperties: false },
);
export type SniffSeverityConfig = Static<typeof schema>;

export interface SeverityGuess {
  readonly number: number;
  readonly text: string;
}

const FATAL: SeverityGuess = { number: Severity.FATAL, text: 'FATAL' };
const ERROR: SeverityGuess = { number: Severity.ERROR, text: 'ERROR' };
const WARN: SeverityGuess = { number: Severity.WARN, text: 'WARN' };
const INFO: SeverityGuess = { number: Severity.INFO, text: 'INFO' };
const DEBUG: SeverityGuess = { number: Severity.DEBUG, text: 'DEBUG' };
const TRACE: SeverityGuess = { number: Severity.TRACE, text: 'TRACE' };

const WORDS: Readonly<Record<string, SeverityGuess>> = {
  fatal: FATAL,
  panic: FATAL,
  emerg: FATAL,
  emergency: FATAL,
  alert: FATAL,
  crit: FATAL,
  critical: FATAL,
  error: ERROR,
  err: ERROR,
  warn: WARN,
  warning: WARN,
  notice: INFO,
  info: INFO,
  debug: DEBUG,
  trace: TRACE,
};

// A level named as such (`level=warn`, `"severity": "ERROR"`, `lvl: info`) or in brackets
// (`[error]`, nginx's error log): any case, since the context makes it unambiguous.
const KEYED = /(?:\b(?:level|lvl|severity|loglevel)["']?\s*[=:]\s*["']?|\[|<)(fatal|panic|emerg(?:ency)?|alert|crit(?:ical)?|err(?:or)?|warn(?:ing)?|notice|info|debug|trace)\b/i;
// A bare word counts only in upper case: "no error found" in a message is not a level.
const BARE = /\b(FATAL|PANIC|CRIT(?:ICAL)?|ERROR|ERR|WARN(?:ING)?|NOTICE|INFO|DEBUG|TRACE)\b/;
// An HTTP status right after the quoted request line of a combined/common access log.
const HTTP_STATUS = /"[A-Z]+ [^"]* HTTP\/[0-9.]+" ([1-5])\d\d /;

/** The guess for one body, or undefined when nothing in it says. Pure. */
export function sniffSeverity(body: string, maxScanChars = 512): SeverityGuess | undefined {
  const s = body.length > maxScanChars ? body.slice(0, maxScanChars) : body;
  const keyed = KEYED.exec(s);
  if (keyed?.[1] !== undefined) return WORDS[keyed[1].toLowerCase()];
  const status = HTTP_STATUS.exec(s);
  if (status?.[1] !== undefined) return status[1] === '5' ? ERROR : status[1] === '4' ? WARN : INFO;
  const bare = BARE.exec(s);
  if (bare?.[1] !== undefined) return WORDS[bare[1].toLowerCase()];
  return undefined;
}

function bodyText(rec: LogRecord): string | undefined {
  if (typeof rec.body === 'string') return rec.body;
  return undefined;
}

export class SniffSeverity implements Transform {
  private readonly maxScanChars: number;

  constructor(
    config: Partial<SniffSeverityConfig>,
    private readonly ctx: ComponentContext,
  ) {
    this.maxScanChars = config.max_scan_chars ?? 512;
  }

  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  process(events: Event[], _now: number): Event[] {
    let guessed = 0;
    let unknown = 0;
    const out = events.map((e): Event => {
      if (e.kind !== 'log' || e.severity_number !== Severity.UNSPECIFIED) return e;
      const text = bodyText(e);
      const guess = text === undefined ? undefined : sniffSeverity(text, this.maxScanChars);
      if (guess === undefined) {
        unknown++;
        return e;
      }
      guessed++;
      // Records are shared between stages (core/model.ts): change a copy.
      return { ...e, severity_number: guess.number, severity_text: guess.text };
    });
    if (guessed > 0) this.ctx.telemetry.add('tidewatch_sniff_severity_total', { component: this.ctx.name, result: 'guessed' }, guessed);
    if (unknown > 0) this.ctx.telemetry.add('tidewatch_sniff_severity_total', { component: this.ctx.name, result: 'unknown' }, unknown);
    return out;
  }
}

export const sniffSeverityFactory: TransformFactory<typeof schema> = {
  role: 'transform',
  type: 'sniff_severity',
  description: 'Guesses a missing severity from the log body: level tokens, then HTTP status classes (5xx error, 4xx warn).',
  schema,
  create: (config, ctx) => new SniffSeverity(config, ctx),
};
