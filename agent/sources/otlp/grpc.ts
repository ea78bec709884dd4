/**
 * OTLP/gRPC front end on @grpc/grpc-js. Messages stay raw Buffers through grpc-js (identity
 * (de)serializers) and are decoded by proto.ts, so no .proto files or code generation are
 * needed. grpc-js enforces `grpc.max_receive_message_length` on the decompressed message, so a
 * gzip-compressed bomb is refused with RESOURCE_EXHAUSTED before it is inflated in full.
 *
 * Status codes: OK (partial success in the response), INVALID_ARGUMENT (malformed),
 * UNAUTHENTICATED, UNAVAILABLE (in-flight limit or downstream unavailable: retryable per the
 * OTLP specification), INTERNAL (downstream refused for good), UNIMPLEMENTED (traces).
 * This module is loaded only when the grpc endpoint is enabled.
 *
 * The listening socket (and TLS, when set) is ours, not grpc-js's: Node's http2 server never
 * closes a TCP connection that does not send the HTTP/2 client preface, not even on shutdown, so
 * anyone who can reach the port could hold connections open for ever (found by
 * test/fuzz/grpc-preface.test.ts). Each connection gets read_timeout_ms from accept to finish
 * its TLS handshake, the 24-byte preface and the SETTINGS frame that must follow it; only then is
 * it handed to grpc-js through its connection injector (with the bytes read put back).
 */
import { createServer as createNetServer } from 'node:net';
import type { Server as NetServer, Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { Server as TlsServer } from 'node:tls';
import { Server, ServerCredentials, ServerInterceptingCall, status } from '@grpc/grpc-js';
import type { ConnectionInjector, ServerInterceptor, ServerUnaryCall, ServiceDefinition, UntypedServiceImplementation, sendUnaryData } from '@grpc/grpc-js';
import { TidewatchError } from '../../../core/errors.js';
import type { ServerTlsMaterial } from '../../../core/listen-security.js';
import type { Logger } from '../../../core/log.js';
import { encodeExportResponse } from './proto.js';
import type { Receiver, Signal } from './receiver.js';

export interface GrpcOptions {
  host: string;
  port: number;
  maxBodyBytes: number;
  /** Time allowed to receive a call's whole request message (read_timeout_ms). */
  readTimeoutMs: number;
  /** Open connections at most (max_connections); the rest are refused and counted. */
  maxConnections: number;
  /** A connection with no call for this long is closed (GOAWAY; grpc_idle_timeout_ms). */
  idleTimeoutMs: number;
  /** TLS with this certificate (and client CA: mutual TLS) when set. */
  tls?: ServerTlsMaterial;
}

/**
 * Ends a call whose request message has not fully arrived within `ms` of its start. grpc-js sets
 * no timeout of its own on the HTTP/2 server, so a client that opens a stream and trickles or
 * stalls would otherwise hold its stream and buffered bytes forever (found by test/fuzz/otlp.test.ts).
 * The timer also outlives a status grpc-js sent on its own (a message over the size limit), as
 * that leaves the stream half open too; it is not cleared on cancel for that reason.
 */
function readTimeout(ms: number): ServerInterceptor {
  return (_method, call) => {
    let timer: NodeJS.Timeout | undefined;
    const clear = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    };
    return new ServerInterceptingCall(call, {
      start(next) {
        timer = setTimeout(() => {
          timer = undefined;
          call.sendStatus({ code: status.DEADLINE_EXCEEDED, details: `request not received within read_timeout_ms (${ms} ms)` });
          // The status alone leaves the stream half open while the client keeps it so; grpc-js has
          // no public way to reset it, so reach the HTTP/2 stream it keeps (checked by the test).
          const stream = (call as unknown as { stream?: { close?: (code: number) => void } }).stream;
          setImmediate(() => stream?.close?.(0));
        }, ms);
        timer.unref();
        next({
          onReceiveMessage(message, nextMessage) {
            clear();
            nextMessage(message);
          },
        });
      },
      sendStatus(s, next) {
        clear();
        next(s);
      },
    });
  };
}

const identity = (b: Buffer): Buffer => b;

/** RFC 9113 section 3.4: the client connection preface, followed by a SETTINGS frame. */
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const FRAME_HEADER = 9;
const SETTINGS = 0x4;
/** A SETTINGS frame carries 6-byte entries; more than the default max frame size is not a client. */
const MAX_SETTINGS_PAYLOAD = 16_384;
/** Connections accepted but not yet through their preface, at most; more are refused (counted). */
export const MAX_PENDING_CONNECTIONS = 1024;

/**
 * How far `buf` is through the client preface and its SETTINGS frame: 'more' (a prefix of it),
 * 'done' (all of it arrived; more bytes may follow) or 'bad' (not an HTTP/2 client).
 */
export function prefaceState(buf: Buffer): 'more' | 'done' | 'bad' {
  const n = Math.min(buf.length, PREFACE.length);
  if (buf.subarray(0, n).compare(PREFACE, 0, n) !== 0) return 'bad';
  if (buf.length < PREFACE.length + FRAME_HEADER) return 'more';
  const h = PREFACE.length;
  const length = buf.readUIntBE(h, 3);
  const type = buf[h + 3];
  const flags = buf[h + 4] ?? 0;
  const streamId = buf.readUInt32BE(h + 5) & 0x7fffffff;
  if (type !== SETTINGS || (flags & 0x1) !== 0 || streamId !== 0 || length % 6 !== 0 || length > MAX_SETTINGS_PAYLOAD) return 'bad';
  return buf.length >= h + FRAME_HEADER + length ? 'done' : 'more';
}

interface Pending {
  socket: Socket;
  timer: NodeJS.Timeout;
}

/**
 * Counters of connections closed before grpc-js saw them (also in tidewatch_otlp_requests_total
 * with protocol grpc, signal unknown and status preface_timeout, bad_preface or too_many_pending).
 */
export interface GrpcConnectionStats {
  /** No complete preface and SETTINGS within read_timeout_ms. */
  prefaceTimeouts: number;
  /** Bytes that are not an HTTP/2 client preface. */
  badPrefaces: number;
  /** Refused at accept: MAX_PENDING_CONNECTIONS were already waiting for their preface. */
  pendingOverflow: number;
}

function service(name: string): ServiceDefinition {
  return {
    Export: {
      path: `/opentelemetry.proto.collector.${name}/Export`,
      requestStream: false,
      responseStream: false,
      requestSerialize: identity,
      requestDeserialize: identity,
      responseSerialize: identity,
      responseDeserialize: identity,
    },
  } as ServiceDefinition;
}

export class OtlpGrpcServer {
  private server: Server | undefined;
  private front: NetServer | undefined;
  private injector: ConnectionInjector | undefined;
  /** Connections before their preface, by remote address:port (unique per local port). */
  private readonly pending = new Map<string, Pending>();
  readonly connections: GrpcConnectionStats = { prefaceTimeouts: 0, badPrefaces: 0, pendingOverflow: 0 };

  constructor(
    private readonly receiver: Receiver,
    private readonly opts: GrpcOptions,
    private readonly log: Logger,
  ) {}

  async start(): Promise<number> {
    const server = new Server({
      'grpc.max_receive_message_length': this.opts.maxBodyBytes,
      'grpc.max_send_message_length': 1024 * 1024,
      'grpc.max_concurrent_streams': 256,
      // A client that connected and went quiet holds a socket and a session: closed after a while.
      'grpc.max_connection_idle_ms': this.opts.idleTimeoutMs,
      interceptors: [readTimeout(this.opts.readTimeoutMs)],
    });
    server.addService(service('metrics.v1.MetricsService'), this.handler('metrics'));
    server.addService(service('logs.v1.LogsService'), this.handler('logs'));
    server.addService(service('trace.v1.TraceService'), {
      Export: (_call: ServerUnaryCall<Buffer, Buffer>, cb: sendUnaryData<Buffer>) => {
        this.receiver.count('grpc', 'traces', 'UNIMPLEMENTED');
        cb({ code: status.UNIMPLEMENTED, details: 'traces are not accepted: this tidewatch receiver takes metrics and logs only' });
      },
    });
    const where = this.opts.host.includes(':') ? `[${this.opts.host}]:${this.opts.port}` : `${this.opts.host}:${this.opts.port}`;
    // grpc-js sees plain HTTP/2 only: TLS, when set, ends in our tls.Server (same options as
    // grpc-js's createSsl would give: client certificate required and verified with a client CA).
    const injector = server.createConnectionInjector(ServerCredentials.createInsecure());
    const tls = this.opts.tls;
    let tlsServer: TlsServer | undefined;
    if (tls !== undefined) {
      tlsServer = createTlsServer({
        cert: tls.cert,
        key: tls.key,
        ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
        requestCert: tls.requestCert,
        rejectUnauthorized: tls.rejectUnauthorized,
        ALPNProtocols: ['h2'],
        handshakeTimeout: this.opts.readTimeoutMs,
      });
      tlsServer.on('secureConnection', (s: Socket) => this.gate(s));
      // A failed handshake is the client's problem: close it quietly (our timer is cleared on close).
      tlsServer.on('tlsClientError', (_err, s) => s.destroy());
    }
    const front = createNetServer({ noDelay: true }, (raw) => this.accept(raw, tlsServer));
    front.maxConnections = this.opts.maxConnections;
    front.on('drop', () => this.receiver.count('grpc', 'unknown', 'too_many_connections'));
    const port = await new Promise<number>((resolve, reject) => {
      front.once('error', (err) => reject(new TidewatchError('TW_LISTEN', `otlp grpc cannot listen on ${where}: ${err.message}`, {}, { cause: err })));
      front.listen({ host: this.opts.host, port: this.opts.port }, () => {
        const a = front.address();
        resolve(typeof a === 'object' && a !== null ? a.port : this.opts.port);
      });
    });
    front.on('error', (err) => this.log.error('otlp grpc listener failed', { err }));
    this.server = server;
    this.front = front;
    this.injector = injector;
    return port;
  }

  /** A new TCP connection: start its read_timeout_ms clock, then TLS (if set) and the preface gate. */
  private accept(raw: Socket, tlsServer: TlsServer | undefined): void {
    raw.on('error', () => undefined);
    const key = `${raw.remoteAddress ?? ''}:${raw.remotePort ?? ''}`;
    if (this.injector === undefined || this.pending.size >= MAX_PENDING_CONNECTIONS || this.pending.has(key)) {
      this.connections.pendingOverflow++;
      this.receiver.count('grpc', 'unknown', 'too_many_pending');
      raw.destroy();
      return;
    }
    const timer = setTimeout(() => {
      this.connections.prefaceTimeouts++;
      this.receiver.count('grpc', 'unknown', 'preface_timeout');
      this.release(key);
      raw.destroy();
    }, this.opts.readTimeoutMs);
    timer.unref();
    this.pending.set(key, { socket: raw, timer });
    raw.once('close', () => {
      if (this.pending.get(key)?.socket === raw) this.release(key);
    });
    if (tlsServer !== undefined) tlsServer.emit('connection', raw);
    else this.gate(raw);
  }

  private release(key: string): void {
    const p = this.pending.get(key);
    if (p === undefined) return;
    clearTimeout(p.timer);
    this.pending.delete(key);
  }

  /** Reads until the preface and SETTINGS frame are in, puts them back and hands `s` to grpc-js. */
  private gate(s: Socket): void {
    const key = `${s.remoteAddress ?? ''}:${s.remotePort ?? ''}`;
    s.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk]);
      const state = prefaceState(buf);
      if (state === 'more') return;
      s.removeListener('data', onData);
      s.pause();
      if (state === 'bad' || this.injector === undefined) {
        this.connections.badPrefaces++;
        this.receiver.count('grpc', 'unknown', 'bad_preface');
        this.release(key);
        s.destroy();
        return;
      }
      this.release(key);
      // Node's http2 session reads what is left in the socket's buffer before new bytes.
      s.unshift(buf);
      this.injector.injectConnection(s);
    };
    s.on('data', onData);
  }

  async stop(): Promise<void> {
    const s = this.server;
    const front = this.front;
    this.server = undefined;
    this.front = undefined;
    this.injector = undefined;
    front?.close();
    // Connections still before their preface were never grpc-js's: close them here.
    for (const [key, p] of this.pending) {
      this.release(key);
      p.socket.destroy();
    }
    if (s === undefined) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        s.forceShutdown();
        resolve();
      }, 10_000);
      timer.unref();
      s.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private handler(signal: Signal): UntypedServiceImplementation {
    return {
      Export: (call: ServerUnaryCall<Buffer, Buffer>, cb: sendUnaryData<Buffer>) => {
        void this.export(signal, call, cb);
      },
    };
  }

  private async export(signal: Signal, call: ServerUnaryCall<Buffer, Buffer>, cb: sendUnaryData<Buffer>): Promise<void> {
    const fail = (code: status, details: string): void => {
      this.receiver.count('grpc', signal, status[code]);
      cb({ code, details });
    };
    const auth = call.metadata.get('authorization')[0];
    if (!this.receiver.authorized(typeof auth === 'string' ? auth : auth?.toString('utf8'))) return fail(status.UNAUTHENTICATED, 'missing or wrong bearer token');
    if (!this.receiver.tryAcquire()) return fail(status.UNAVAILABLE, 'too many requests in flight; retry later');
    try {
      const out = await this.receiver.ingest(signal, 'proto', call.request);
      switch (out.kind) {
        case 'ok':
          this.receiver.count('grpc', signal, out.rejected > 0 ? 'partial' : 'OK');
          return cb(null, encodeExportResponse(out.rejected, out.message));
        case 'busy':
          return fail(status.UNAVAILABLE, out.message);
        case 'bad_request':
          return fail(status.INVALID_ARGUMENT, out.message);
        case 'unavailable':
          return fail(status.UNAVAILABLE, out.message);
        case 'failed':
          return fail(status.INTERNAL, out.message);
      }
    } catch (err) {
      this.log.error('otlp grpc request failed', { err });
      fail(status.INTERNAL, `internal error: ${(err as Error).message}`);
    } finally {
      this.receiver.release();
    }
  }
}
