/**
 * Runs the `otlp` source on ephemeral loopback ports with a recording SourceContext: emitted
 * batches are kept, and a test can make emit slow or failing to drive backpressure.
 */
import { Value } from '@sinclair/typebox/value';
import type { SourceContext } from '../../../core/component.js';
import { silentLogger } from '../../../core/log.js';
import type { Event } from '../../../core/model.js';
import { MemoryTelemetry } from '../../../core/telemetry.js';
import { OtlpSourceSchema, otlpSource } from '../../../agent/sources/otlp.js';
import type { OtlpSource } from '../../../agent/sources/otlp.js';
import type { Static } from '@sinclair/typebox';

export interface Running {
  source: OtlpSource;
  events: Event[];
  telemetry: MemoryTelemetry;
  /** Set to make the next emits fail (or wait). */
  emitHook: { fail?: Error | undefined; wait?: Promise<void> | undefined; entered: number };
  http: string;
  grpc: string;
  stop(): Promise<void>;
}

export async function startOtlp(options: Partial<Static<typeof OtlpSourceSchema>> = {}): Promise<Running> {
  const config = Value.Default(OtlpSourceSchema, { http_endpoint: '127.0.0.1:0', grpc_endpoint: '127.0.0.1:0', ...options }) as Static<typeof OtlpSourceSchema>;
  const events: Event[] = [];
  const telemetry = new MemoryTelemetry();
  const emitHook: Running['emitHook'] = { entered: 0 };
  const ctx: SourceContext = {
    name: 'otlp',
    dataDir: '/nonexistent',
    telemetry,
    log: silentLogger,
    now: Date.now,
    agentId: 'agent-1',
    hostName: 'host-1',
    bus: undefined,
    async emit(batch) {
      emitHook.entered++;
      if (emitHook.wait) await emitHook.wait;
      if (emitHook.fail) throw emitHook.fail;
      events.push(...batch);
    },
  };
  const source = otlpSource.create(config, ctx) as OtlpSource;
  await source.start();
  return {
    source,
    events,
    telemetry,
    emitHook,
    http: `http://127.0.0.1:${source.ports.http}`,
    grpc: `http://127.0.0.1:${source.ports.grpc}`,
    stop: () => source.stop(),
  };
}

export async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}
