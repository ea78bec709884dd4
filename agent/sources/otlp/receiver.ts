/**
 * What the HTTP and gRPC front ends share: decoding, mapping, emitting, the in-flight limit and
 * bearer-token auth. A front end reads a body within its limits, asks `tryAcquire()` for a slot,
 * calls `ingest`, releases the slot, and turns the outcome into its protocol's status.
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import { isTidewatchError } from '../../../core/errors.js';
import type { SourceContext } from '../../../core/component.js';
import type { Event } from '../../../core/model.js';
import { logsFromJson, metricsFromJson, parseJsonBody } from './json.js';
import { logsToEvents, metricsToEvents } from './map.js';
import type { MapResult } from './map.js';
import { decodeLogsRequest, decodeMetricsRequest } from './proto.js';
import { WireError } from './wire.js';

export type Signal = 'metrics' | 'logs';
export type Format = 'json' | 'proto';

export type Outcome =
  /** Accepted and durable downstream; `rejected` points were not representable (partial success). */
  | { kind: 'ok'; rejected: number; message: string; accepted: number }
  /** Too many decompressed bytes already waiting downstream: retry later. */
  | { kind: 'busy'; message: string }
  /** Malformed body: the sender must not retry it. */
  | { kind: 'bad_request'; message: string }
  /** Downstream refused for now (sink retriable failure, stopping): retry later. */
  | { kind: 'unavailable'; message: string }
  /** Downstream refused for good: retrying the same data will not help. */
  | { kind: 'failed'; message: string };

export interface ReceiverOptions {
  maxInFlight: number;
  /**
   * Decompressed request bytes being decoded or awaiting durability, all requests together. Decoded
   * events take several times their protobuf size, so the count limit alone does not bound memory.
   */
  maxInFlightBytes: number;
  authToken: string | undefined;
  /** Applied to every accepted batch before emit (cumulative → delta when configured). */
  transform?: (events: Event[]) => Event[];
}

export class Receiver {
  private inFlight = 0;
  private inFlightBytes = 0;
  private readonly tokenDigest: Buffer | undefined;

  constructor(
    private readonly ctx: SourceContext,
    private readonly opts: ReceiverOptions,
  ) {
    this.tokenDigest = opts.authToken === undefined ? undefined : digest(opts.authToken);
  }

  /** Takes an in-flight slot; false when the limit is reached (the caller answers 429 / UNAVAILABLE). */
  tryAcquire(): boolean {
    if (this.inFlight >= this.opts.maxInFlight) return false;
    this.inFlight++;
    return true;
  }

  release(): void {
    this.inFlight--;
  }

  get busy(): number {
    return this.inFlight;
  }

  /** Checks an `authorization` header value; always true without a configured token. Constant time. */
  authorized(header: string | undefined): boolean {
    if (this.tokenDigest === undefined) return true;
    if (header === undefined) return false;
    const m = /^Bearer\s+(.+)$/i.exec(header.trim());
    if (m === null) return false;
    return timingSafeEqual(digest(m[1]!), this.tokenDigest);
  }

  count(protocol: 'http' | 'grpc', signal: string, status: string): void {
    this.ctx.telemetry.add('tidewatch_otlp_requests_total', { component: this.ctx.name, protocol, signal, status });
  }

  async ingest(signal: Signal, format: Format, body: Buffer): Promise<Outcome> {
    // One request alone always fits (it is within max_body_bytes); more wait for room.
    if (this.inFlightBytes > 0 && this.inFlightBytes + body.length > this.opts.maxInFlightBytes) {
      return { kind: 'busy', message: `${this.inFlightBytes} request bytes already in flight; retry later` };
    }
    this.inFlightBytes += body.length;
    try {
      return await this.ingestWithin(signal, format, body);
    } finally {
      this.inFlightBytes -= body.length;
    }
  }

  private async ingestWithin(signal: Signal, format: Format, body: Buffer): Promise<Outcome> {
    let mapped: MapResult;
    try {
      const mctx = { now: this.ctx.now(), agentId: this.ctx.agentId };
      if (signal === 'metrics') {
        mapped = metricsToEvents(format === 'proto' ? decodeMetricsRequest(body) : metricsFromJson(parseJsonBody(body.toString('utf8'))), mctx);
      } else {
        mapped = logsToEvents(format === 'proto' ? decodeLogsRequest(body) : logsFromJson(parseJsonBody(body.toString('utf8'))), mctx);
      }
    } catch (err) {
      if (err instanceof WireError || err instanceof RangeError) {
        this.ctx.telemetry.add('tidewatch_errors_total', { component: this.ctx.name, code: 'TW_OTLP_REQUEST' });
        return { kind: 'bad_request', message: `malformed ${format === 'proto' ? 'protobuf' : 'JSON'} ${signal} request: ${err.message}` };
      }
      throw err;
    }
    if (mapped.rejected > 0) {
      this.ctx.telemetry.add('tidewatch_events_dropped_total', { component: this.ctx.name, reason: 'otlp_rejected' }, mapped.rejected);
    }
    if (mapped.noValue > 0) {
      this.ctx.telemetry.add('tidewatch_events_dropped_total', { component: this.ctx.name, reason: 'no_recorded_value' }, mapped.noValue);
    }
    const events = this.opts.transform ? this.opts.transform(mapped.events) : mapped.events;
    const accepted = mapped.events.length;
    if (events.length > 0) {
      try {
        await this.ctx.emit(events);
      } catch (err) {
        const retriable = !isTidewatchError(err) || err.retriable || err.code === 'TW_STOPPED' || err.code === 'TW_QUEUE_FULL';
        const message = `downstream did not accept the data: ${(err as Error).message}`;
        return retriable ? { kind: 'unavailable', message } : { kind: 'failed', message };
      }
    }
    return { kind: 'ok', rejected: mapped.rejected, message: mapped.message, accepted };
  }
}

function digest(s: string): Buffer {
  // Hashing first makes the comparison length-independent (timingSafeEqual needs equal lengths).
  return createHash('sha256').update(s).digest();
}
