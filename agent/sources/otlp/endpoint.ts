/** `host:port` or `[v6]:port` endpoints of the agent's listeners (otlp, internal_metrics). */
import { TidewatchError } from '../../../core/errors.js';

/** Splits `host:port` or `[v6]:port`; an empty host means 127.0.0.1 (loopback, never all interfaces by accident). */
export function parseEndpoint(ep: string, what: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(ep.trim());
  const port = m === null ? Number.NaN : Number(m[3]);
  if (m === null || port > 65535) throw new TidewatchError('TW_CONFIG_SCHEMA', `${what}: "${ep}" is not host:port`);
  return { host: m[1] ?? (m[2] === '' ? '127.0.0.1' : m[2]!), port };
}
