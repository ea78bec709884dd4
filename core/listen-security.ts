/**
 * What every listening port shares (OTLP HTTP and gRPC, the agent's /metrics, the dashboard):
 * the rule that a listener reachable from other hosts must ask for a token, the optional TLS
 * options (certificate, key, client CA for mutual TLS), and a constant-time bearer check.
 *
 * The rule is checked when a component is created from its config, before anything listens:
 * a non-loopback address without a token fails with TW_LISTEN_UNPROTECTED, so an operator who
 * writes `0.0.0.0:4318` and forgets the token learns it at start, not from a breach.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Type, type Static } from '@sinclair/typebox';
import { TidewatchError } from './errors.js';

export const ServerTlsSchema = Type.Object(
  {
    cert_file: Type.String({ minLength: 1, description: 'PEM certificate (chain) this listener presents.' }),
    key_file: Type.String({ minLength: 1, description: 'PEM private key of cert_file (keep it readable by the tidewatch user only).' }),
    client_ca_file: Type.Optional(
      Type.String({ minLength: 1, description: 'PEM CA(s); when set, clients must present a certificate signed by one (mutual TLS), on top of the token.' }),
    ),
  },
  { additionalProperties: false, description: 'Serve TLS on this listener; present means on. Files are read at start (a restart picks up renewed certificates).' },
);
export type ServerTls = Static<typeof ServerTlsSchema>;

/** Node TLS server options from ServerTls, files read. */
export interface ServerTlsMaterial {
  cert: string;
  key: string;
  ca?: string;
  /** True with a client CA: the handshake asks for, and requires, a client certificate. */
  requestCert: boolean;
  rejectUnauthorized: boolean;
}

/** Shortest token accepted: 16 characters (the dashboard's rule since it existed). */
export const MIN_TOKEN_CHARS = 16;

/**
 * True when `host` can only be reached from this machine: 127.0.0.0/8, ::1, an IPv4-mapped
 * loopback address, or `localhost`. Any other name counts as exposed: a name may resolve to
 * anything, and `0.0.0.0` / `::` mean every interface.
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

/**
 * Refuses a listener on a non-loopback address without a token, or with one too short to resist
 * guessing over the network (on loopback any token is the operator's choice). `where` names the
 * setting (`sources.otlp.http_endpoint`) so the message says what to fix.
 */
export function checkListener(where: string, host: string, token: string | undefined, tokenKey: string): void {
  if (isLoopbackHost(host)) return;
  if (token !== undefined && token.length < MIN_TOKEN_CHARS) {
    throw new TidewatchError('TW_LISTEN_UNPROTECTED', `${where}: listening on ${host} (not loopback): ${tokenKey} must have at least ${MIN_TOKEN_CHARS} characters`, { key: tokenKey });
  }
  if (token === undefined) {
    throw new TidewatchError(
      'TW_LISTEN_UNPROTECTED',
      `${where}: listening on ${host} (not loopback) needs ${tokenKey} (at least ${MIN_TOKEN_CHARS} characters; and tls, or the token crosses the network in clear); or bind 127.0.0.1`,
      { host, key: tokenKey },
    );
  }
}

/** Reads the TLS files; TW_CONFIG_READ names the file that cannot be read. */
export async function readServerTls(tls: ServerTls, where: string): Promise<ServerTlsMaterial> {
  const read = async (file: string): Promise<string> => {
    try {
      return await readFile(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new TidewatchError('TW_CONFIG_READ', `${where}.tls: cannot read ${file}: ${code ?? (err as Error).message}`, { file }, { cause: err });
    }
  };
  const [cert, key, ca] = await Promise.all([read(tls.cert_file), read(tls.key_file), tls.client_ca_file === undefined ? undefined : read(tls.client_ca_file)]);
  return { cert, key, ...(ca !== undefined ? { ca } : {}), requestCert: ca !== undefined, rejectUnauthorized: ca !== undefined };
}

/**
 * Checks `Authorization: Bearer <token>` in constant time. Both sides are hashed first, so the
 * comparison does not depend on (or reveal) the token's length.
 */
export class BearerCheck {
  private readonly digest: Buffer | undefined;

  constructor(token: string | undefined) {
    this.digest = token === undefined ? undefined : sha256(token);
  }

  /** True when no token is configured. */
  get open(): boolean {
    return this.digest === undefined;
  }

  /** Always true without a configured token. */
  allows(header: string | undefined): boolean {
    if (this.digest === undefined) return true;
    const m = header === undefined ? null : /^Bearer\s+(.+)$/i.exec(header.trim());
    return m !== null && timingSafeEqual(sha256(m[1]!), this.digest);
  }
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
