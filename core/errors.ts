/**
 * One registry of error codes. Every error the product reports carries a stable `code` and a
 * `retriable` flag; the README's error table is kept in step with this list by
 * test/core/errors.test.ts. Add a code here and a row there in the same commit.
 */

export interface ErrorSpec {
  /** true when the same operation may succeed if tried again later (network, broker, full buffer). */
  readonly retriable: boolean;
  /** One line for the README table: what went wrong, from the operator's side. */
  readonly summary: string;
}

export const ERROR_CODES = {
  TW_USAGE: { retriable: false, summary: 'Unknown command, flag or missing argument on the command line.' },
  TW_CONFIG_READ: { retriable: false, summary: 'The config file cannot be read (missing, unreadable).' },
  TW_CONFIG_SYNTAX: { retriable: false, summary: 'The config file is not valid YAML.' },
  TW_CONFIG_SCHEMA: { retriable: false, summary: 'A config key is unknown, missing or of the wrong type.' },
  TW_CONFIG_ENV: { retriable: false, summary: 'A ${VAR} in the config names an environment variable that is not set.' },
  TW_CONFIG_WIRING: { retriable: false, summary: 'A pipeline names a source, transform or sink that is not defined, or of the wrong role.' },
  TW_COMPONENT_UNKNOWN: { retriable: false, summary: 'A component `type` that this program does not ship.' },
  TW_WIRE_DECODE: { retriable: false, summary: 'A message on the wire is not a valid tidewatch wire-format record; it is counted and dropped.' },
  TW_WIRE_VERSION: { retriable: false, summary: 'A message carries a wire-format version this program does not read; it is counted and dropped.' },
  TW_SINK_WRITE: { retriable: true, summary: 'A sink could not write a batch; it is retried and the source does not advance.' },
  TW_TRANSPORT_UNAVAILABLE: { retriable: true, summary: 'The transport (Kafka brokers) cannot be reached; publishing is retried.' },
  TW_TRANSPORT_REJECTED: { retriable: false, summary: 'The broker rejected a request for good (authorisation, invalid topic, record too large).' },
  TW_QUEUE_FULL: { retriable: true, summary: 'A bounded queue is full; the caller waits or, by policy, the oldest data is dropped and counted.' },
  TW_STOPPED: { retriable: false, summary: 'The component was stopped while the operation was in flight.' },
  TW_INPUT_READ: { retriable: false, summary: 'An input file given on the command line cannot be read or is malformed.' },
  TW_INTERNAL: { retriable: false, summary: 'A bug: an invariant did not hold. Please report it with the log line.' },
  TW_HTTP_REQUEST: { retriable: false, summary: 'A dashboard HTTP request has a missing or malformed parameter, or an unexpected Host header; the response names it.' },
  TW_OTLP_REQUEST: { retriable: false, summary: 'An OTLP request is malformed, too large, of an unsupported content type or encoding, or not authorised; it is answered with a 4xx status (gRPC: an error code) naming the problem, and counted.' },
  TW_LISTEN: { retriable: false, summary: 'A receiver cannot listen on its configured address (port in use, not permitted); the program does not start.' },
  TW_SCRAPE_FAILED: { retriable: true, summary: 'A Prometheus target could not be scraped (down, timeout, bad status, unparsable body); `up` is 0 for that scrape and it is tried again at the next interval.' },
  TW_HOST_READ: { retriable: true, summary: 'A host metrics file under /proc (or a filesystem statfs) could not be read; that group of metrics is skipped for this interval.' },
  TW_OUTPUT_WRITE: { retriable: false, summary: 'An output file given on the command line cannot be created or written.' },
  TW_CONFIG_RELOAD: { retriable: false, summary: 'A SIGHUP reload was refused (the new config changes data_dir, or failed to start); the previous config keeps running and the log says why.' },
  TW_STATE_WRITE: { retriable: false, summary: 'The data directory cannot be read or written (file source checkpoints); a source that cannot record its progress does not start.' },
  TW_STOP_TIMEOUT: { retriable: false, summary: 'SIGTERM did not drain within --stop-timeout-ms; the process exits 1 (kills itself if a file system call hangs) and the log line counts what was not confirmed (file lines are read again from the checkpoint).' },
  TW_STOP_LINGER: { retriable: false, summary: 'The command finished (everything stopped and flushed) but a handle a library left open kept the process alive; it exits 2 s later with its own exit code, and the warning names the open handles.' },
  TW_LISTEN_UNPROTECTED: { retriable: false, summary: 'A listener (OTLP HTTP or gRPC, the agent\'s /metrics, the dashboard) is configured on a non-loopback address without a token, or with a token under 16 characters; the program does not start. Set the token (and tls), or bind 127.0.0.1.' },
  TW_STATE_CORRUPT: { retriable: false, summary: 'A file under data_dir failed its checks (a file source checkpoint, a disk buffer record: torn write, flipped bits, truncation); it is skipped and counted, the log line says how the agent recovered (previous checkpoint, files from the beginning, next valid record).' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class TidewatchError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TidewatchError';
    this.code = code;
    this.retriable = ERROR_CODES[code].retriable;
    this.details = details;
  }
}

export function isTidewatchError(err: unknown): err is TidewatchError {
  return err instanceof TidewatchError;
}

/** The code to count an arbitrary thrown value under. */
export function errorCodeOf(err: unknown): ErrorCode {
  return isTidewatchError(err) ? err.code : 'TW_INTERNAL';
}
