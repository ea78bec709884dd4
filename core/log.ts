/**
 * The program's own structured log: one JSON object per line on stderr. Never called per event
 * (STYLE.md rule 8): per-event outcomes are counters in core/telemetry.ts.
 *
 * No secret reaches a log line: fields under secret-looking keys (`password`, `token`,
 * `authorization`...) are written as "[redacted]", and the finished line goes through
 * core/secrets.ts, which masks every secret the config loader registered and anything shaped
 * like one (URL credentials, `Bearer x`). Logs are rare, so the scan costs nothing that matters.
 */
import { isSecretKey, redactSecrets } from './secrets.js';

export type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export function createLogger(
  opts: { level?: Level; write?: (line: string) => void; base?: Record<string, unknown>; now?: () => number } = {},
): Logger {
  const min = ORDER[opts.level ?? 'info'];
  const write = opts.write ?? ((line: string) => void process.stderr.write(line));
  const now = opts.now ?? Date.now;
  const base = opts.base ?? {};
  const emit = (level: Level, msg: string, fields?: Record<string, unknown>): void => {
    if (ORDER[level] < min) return;
    const rec = { time: new Date(now()).toISOString(), level, msg, ...base, ...fields };
    write(`${redactSecrets(JSON.stringify(rec, errorReplacer))}\n`);
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger({ ...opts, base: { ...base, ...fields } }),
  };
}

function errorReplacer(key: string, value: unknown): unknown {
  if (typeof value === 'string' && key !== '' && isSecretKey(key)) return '[redacted]';
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return { message: value.message, ...(code !== undefined ? { code } : {}) };
  }
  return typeof value === 'bigint' ? value.toString() : value;
}

/** A logger that drops everything, for tests and pure tools. */
export const silentLogger: Logger = createLogger({ write: () => {} });
