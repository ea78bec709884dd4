/**
 * OTLP/HTTP front end on node:http (no framework: the body must be read under a byte limit
 * that holds for the wire bytes and for the decompressed bytes, which is easiest to own).
 *
 * Status codes, per the OTLP/HTTP specification:
 *   200 accepted (a partial success names what was rejected), 400 malformed body, 401 missing or
 *   wrong bearer token, 404 unknown path (traces: said so), 405 not POST, 413 body over the
 *   limit (announced, read or decompressed), 415 unknown Content-Type or Content-Encoding,
 *   429 in-flight limit (requests or bytes) reached and 503 downstream unavailable (both with Retry-After, which
 *   the OpenTelemetry exporters honour), 500 downstream refused for good.
 * Error bodies are google.rpc.Status in the request's format (protobuf or JSON).
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { gunzip, inflate } from 'node:zlib';
import { TidewatchError } from '../../../core/errors.js';
import type { ServerTlsMaterial } from '../../../core/listen-security.js';
import type { Logger } from '../../../core/log.js';
import { encodeExportResponse, encodeStatus } from './proto.js';
import type { Format, Receiver, Signal } from './receiver.js';

export interface HttpOptions {
  host: string;
  port: number;
  maxBodyBytes: number;
  retryAfterS: number;
  readTimeoutMs: number;
  maxConnections: number;
  /** HTTPS with this certificate (and client CA: mutual TLS) when set. */
  tls?: ServerTlsMaterial;
}

const PATHS: Record<string, Signal | 'traces'> = { '/v1/metrics': 'metrics', '/v1/logs': 'logs', '/v1/traces': 'traces' };

/** gRPC status codes used in Status bodies, as the OTLP/HTTP specification suggests. */
const GRPC = { INVALID_ARGUMENT: 3, RESOURCE_EXHAUSTED: 8, UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14, UNAUTHENTICATED: 16 } as const;

class HttpFail extends Error {
  constructor(
    readonly status: number,
    readonly grpc: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

function formatOf(contentType: string | undefined): Format | undefined {
  const media = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (media === 'application/json') return 'json';
  if (media === 'application/x-protobuf' || media === 'application/protobuf') return 'proto';
  return undefined;
}

/** Reads the body, stopping (and failing with 413) as soon as it passes `max` bytes. */
function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > max) {
      reject(new HttpFail(413, GRPC.RESOURCE_EXHAUSTED, `request body of ${declared} bytes is over the limit of ${max} bytes`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer): void => {
      size += c.length;
      if (size > max) {
        req.off('data', onData);
        req.pause();
        reject(new HttpFail(413, GRPC.RESOURCE_EXHAUSTED, `request body is over the limit of ${max} bytes`));
        return;
      }
      chunks.push(c);
    };
    req.on('data', onData);
    req.once('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    req.once('error', (err) => reject(new HttpFail(400, GRPC.INVALID_ARGUMENT, `request body could not be read: ${err.message}`)));
    req.once('aborted', () => reject(new HttpFail(400, GRPC.INVALID_ARGUMENT, 'request aborted by the client')));
  });
}

/** Decompresses under the same byte limit: zlib stops at maxOutputLength, so a gzip bomb costs at most `max` bytes. */
function decode(body: Buffer, encoding: string, max: number): Promise<Buffer> {
  const enc = encoding.trim().toLowerCase();
  if (enc === '' || enc === 'identity') return Promise.resolve(body);
  const fn = enc === 'gzip' || enc === 'x-gzip' ? gunzip : enc === 'deflate' ? inflate : undefined;
  if (fn === undefined) {
    return Promise.reject(new HttpFail(415, GRPC.INVALID_ARGUMENT, `unsupported Content-Encoding "${encoding}" (supported: gzip, deflate, identity)`));
  }
  return new Promise((resolve, reject) => {
    fn(body, { maxOutputLength: max }, (err, out) => {
      if (err === null) return resolve(out);
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) {
        return reject(new HttpFail(413, GRPC.RESOURCE_EXHAUSTED, `decompressed request body is over the limit of ${max} bytes`));
      }
      reject(new HttpFail(400, GRPC.INVALID_ARGUMENT, `request body is not valid ${enc}: ${err.message}`));
    });
  });
}

export class OtlpHttpServer {
  private server: Server | undefined;

  constructor(
    private readonly receiver: Receiver,
    private readonly opts: HttpOptions,
    private readonly log: Logger,
  ) {}

  async start(): Promise<AddressInfo> {
    const options = {
      requestTimeout: this.opts.readTimeoutMs,
      headersTimeout: Math.min(this.opts.readTimeoutMs, 60_000),
      // Node checks both timeouts only every connectionsCheckingInterval (30 s by default), so a
      // stalled client was cut off up to 30 s late; check often enough to keep read_timeout_ms.
      connectionsCheckingInterval: Math.max(25, Math.min(1000, Math.floor(this.opts.readTimeoutMs / 4))),
    };
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      void this.handle(req, res);
    };
    // An https.Server is an http.Server over TLS sockets: the handling is the same.
    const server: Server = this.opts.tls === undefined ? createServer(options, handler) : createTlsServer({ ...options, ...this.opts.tls }, handler);
    server.maxConnections = this.opts.maxConnections;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        reject(new TidewatchError('TW_LISTEN', `otlp http cannot listen on ${this.opts.host}:${this.opts.port}: ${err.code ?? err.message}`, {}, { cause: err }));
      };
      server.once('error', onError);
      server.listen(this.opts.port, this.opts.host, () => {
        server.off('error', onError);
        resolve();
      });
    });
    server.on('error', (err) => this.log.error('otlp http server error', { err }));
    return server.address() as AddressInfo;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s === undefined) return;
    // Stop accepting, let in-flight requests finish (their emits settle), drop idle keep-alives.
    const closed = new Promise<void>((resolve) => s.close(() => resolve()));
    s.closeIdleConnections();
    const timer = setTimeout(() => s.closeAllConnections(), 10_000);
    timer.unref();
    await closed;
    clearTimeout(timer);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    const signal = PATHS[path];
    const format = formatOf(req.headers['content-type']);
    let acquired = false;
    try {
      if (signal === undefined) throw new HttpFail(404, GRPC.UNIMPLEMENTED, `no such path ${path}: OTLP takes POST /v1/metrics and POST /v1/logs`);
      if (req.method !== 'POST') throw new HttpFail(405, GRPC.UNIMPLEMENTED, `${req.method ?? ''} is not allowed: OTLP requests are POST`, { allow: 'POST' });
      if (!this.receiver.authorized(req.headers.authorization)) {
        throw new HttpFail(401, GRPC.UNAUTHENTICATED, 'missing or wrong bearer token', { 'www-authenticate': 'Bearer' });
      }
      if (signal === 'traces') {
        throw new HttpFail(404, GRPC.UNIMPLEMENTED, 'traces are not accepted: this tidewatch receiver takes metrics (/v1/metrics) and logs (/v1/logs) only');
      }
      if (format === undefined) {
        throw new HttpFail(415, GRPC.INVALID_ARGUMENT, `unsupported Content-Type "${req.headers['content-type'] ?? ''}" (use application/x-protobuf or application/json)`);
      }
      if (!this.receiver.tryAcquire()) {
        throw new HttpFail(429, GRPC.UNAVAILABLE, 'too many requests in flight; retry later', { 'retry-after': String(this.opts.retryAfterS) });
      }
      acquired = true;
      const raw = await readBody(req, this.opts.maxBodyBytes);
      const body = await decode(raw, String(req.headers['content-encoding'] ?? ''), this.opts.maxBodyBytes);
      const out = await this.receiver.ingest(signal, format, body);
      switch (out.kind) {
        case 'ok':
          this.receiver.count('http', signal, out.rejected > 0 ? 'partial' : 'ok');
          return this.reply(res, 200, format, this.exportResponse(signal, format, out.rejected, out.message));
        case 'busy':
          throw new HttpFail(429, GRPC.UNAVAILABLE, out.message, { 'retry-after': String(this.opts.retryAfterS) });
        case 'bad_request':
          throw new HttpFail(400, GRPC.INVALID_ARGUMENT, out.message);
        case 'unavailable':
          throw new HttpFail(503, GRPC.UNAVAILABLE, out.message, { 'retry-after': String(this.opts.retryAfterS) });
        case 'failed':
          throw new HttpFail(500, GRPC.INTERNAL, out.message);
      }
    } catch (err) {
      const f = err instanceof HttpFail ? err : new HttpFail(500, GRPC.INTERNAL, `internal error: ${(err as Error).message}`);
      if (!(err instanceof HttpFail)) this.log.error('otlp http request failed', { err });
      this.receiver.count('http', signal ?? 'unknown', String(f.status));
      // A request whose body we did not read to the end cannot be followed on the same connection.
      const unread = !req.complete;
      const headers: Record<string, string> = { ...f.headers };
      if (unread) headers['connection'] = 'close';
      this.reply(res, f.status, format, this.statusBody(format, f), headers);
      if (unread) res.once('finish', () => req.socket.destroySoon());
    } finally {
      if (acquired) this.receiver.release();
    }
  }

  private exportResponse(signal: Signal, format: Format, rejected: number, message: string): Buffer {
    if (format === 'proto') return encodeExportResponse(rejected, message);
    if (rejected === 0 && message === '') return Buffer.from('{}');
    const key = signal === 'metrics' ? 'rejectedDataPoints' : 'rejectedLogRecords';
    return Buffer.from(JSON.stringify({ partialSuccess: { [key]: String(rejected), errorMessage: message } }));
  }

  private statusBody(format: Format | undefined, f: HttpFail): Buffer {
    if (format === 'proto') return encodeStatus(f.grpc, f.message);
    return Buffer.from(JSON.stringify({ code: f.grpc, message: f.message }));
  }

  private reply(res: ServerResponse, status: number, format: Format | undefined, body: Buffer, headers: Record<string, string> = {}): void {
    if (res.headersSent) return;
    res.writeHead(status, {
      ...headers,
      'content-type': format === 'proto' ? 'application/x-protobuf' : 'application/json',
      'content-length': String(body.length),
    });
    res.end(body);
  }
}
