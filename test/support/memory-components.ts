/**
 * Test components: a source driven by the test, a sink that records what it was given and can
 * be made slow or failing, and a transform that counts. Fakes of our own contracts, not of any
 * real dependency.
 */
import { Type } from '@sinclair/typebox';
import type { ComponentEntry, SinkFactory, SourceContext, SourceFactory, TransformFactory } from '../../core/component.js';
import type { TidewatchConfig } from '../../core/config/load.js';
import type { Event, LogRecord } from '../../core/model.js';
import type { LineBlock } from '../../core/line-block.js';

export const Any = Type.Object({}, { additionalProperties: true });

export class Harness {
  readonly sourceCtx = new Map<string, SourceContext>();
  readonly written = new Map<string, Event[]>();
  /** Line blocks a `lines` sink took through writeLines, per sink. */
  readonly blocks = new Map<string, LineBlock[]>();
  readonly order: string[] = [];
  failSink: ((name: string, events: Event[]) => Error | undefined) | undefined;
  sinkDelayMs = 0;
  /** Runs inside a test sink's start, between its 'start sink' and 'started sink' entries in `order`. */
  sinkStart: ((name: string) => Promise<void>) | undefined;

  components(): ComponentEntry[] {
    const h = this;
    const source: SourceFactory<typeof Any> = {
      type: 'test',
      role: 'source',
      description: 'test source',
      schema: Any,
      create(_c, ctx) {
        h.sourceCtx.set(ctx.name, ctx);
        return { start: async () => void h.order.push(`start source ${ctx.name}`), stop: async () => void h.order.push(`stop source ${ctx.name}`) };
      },
    };
    const sink: SinkFactory<typeof Any> = {
      type: 'test',
      role: 'sink',
      description: 'test sink',
      schema: Any,
      create(_c, ctx) {
        return {
          async start() {
            h.order.push(`start sink ${ctx.name}`);
            if (h.sinkStart === undefined) return;
            await h.sinkStart(ctx.name);
            h.order.push(`started sink ${ctx.name}`);
          },
          stop: async () => void h.order.push(`stop sink ${ctx.name}`),
          async write(events) {
            if (h.sinkDelayMs > 0) await new Promise((r) => setTimeout(r, h.sinkDelayMs));
            const err = h.failSink?.(ctx.name, events);
            if (err) throw err;
            const list = h.written.get(ctx.name) ?? [];
            list.push(...events);
            h.written.set(ctx.name, list);
          },
        };
      },
    };
    // A test sink that also takes line blocks as they are (as the Kafka and bus sinks do).
    const linesSink: SinkFactory<typeof Any> = {
      ...sink,
      type: 'lines',
      create(c, ctx) {
        return {
          ...sink.create(c, ctx),
          async writeLines(block) {
            const list = h.blocks.get(ctx.name) ?? [];
            list.push(block);
            h.blocks.set(ctx.name, list);
          },
        };
      },
    };
    const counter: TransformFactory<typeof Any> = {
      type: 'count_per_tick',
      role: 'transform',
      description: 'passes events on and emits a count metric on flush',
      schema: Any,
      create(_c, ctx) {
        let n = 0;
        return {
          start: async () => void h.order.push(`start transform ${ctx.name}`),
          stop: async () => void h.order.push(`stop transform ${ctx.name}`),
          process(events) {
            n += events.length;
            return events;
          },
          flush(now, final) {
            if (n === 0 && !final) return [];
            const out: Event[] = [{ kind: 'metric', type: 'sum', name: 'seen', temporality: 'delta', monotonic: true, value: n, time: now, attributes: { final }, resource: {} }];
            n = 0;
            return out;
          },
        };
      },
    };
    return [
      { role: 'source', type: 'test', load: async () => source },
      { role: 'sink', type: 'test', load: async () => sink },
      { role: 'sink', type: 'lines', load: async () => linesSink },
      { role: 'transform', type: 'count_per_tick', load: async () => counter },
    ];
  }
}

export function config(partial: Partial<TidewatchConfig> & Pick<TidewatchConfig, 'pipelines'>): TidewatchConfig {
  return { file: '<test>', data_dir: '/nonexistent', agent: {}, log: { level: 'error' }, sources: {}, transforms: {}, sinks: {}, ...partial };
}

export function line(body: string, extra: Partial<LogRecord> = {}): LogRecord {
  return { kind: 'log', observed_time: 0, severity_number: 0, severity_text: '', body, attributes: {}, resource: {}, ...extra };
}
