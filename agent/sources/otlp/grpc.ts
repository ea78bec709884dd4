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
 */
import { Server, ServerCredentials, ServerInterceptingCall, status } from '@grpc/grpc-js';
import type { ServerInterceptor, ServerUnaryCall, ServiceDefinition, UntypedServiceImplementation, sendUnaryData } from '@grpc/grpc-js';
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
    const port = await new Promise<number>((resolve, reject) => {
      const tls = this.opts.tls;
      const creds =
        tls === undefined
          ? ServerCredentials.createInsecure()
          : ServerCredentials.createSsl(tls.ca === undefined ? null : Buffer.from(tls.ca), [{ cert_chain: Buffer.from(tls.cert), private_key: Buffer.from(tls.key) }], tls.requestCert);
      server.bindAsync(where, creds, (err, p) => {
        if (err) reject(new TidewatchError('TW_LISTEN', `otlp grpc cannot listen on ${where}: ${err.message}`, {}, { cause: err }));
        else resolve(p);
      });
    });
    this.server = server;
    return port;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
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
