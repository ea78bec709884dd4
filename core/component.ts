/**
 * Component contracts: sources, transforms and sinks, and the factories that build them from
 * config. The pipeline runner (core/runner.ts) owns wiring, ordering and self-telemetry.
 *
 * Lifecycle (STYLE.md): `start()` then `stop()`. `stop()` is idempotent, safe without `start()`,
 * flushes what it holds and commits. The runner starts downstream first (sinks, then transforms,
 * then sources) and stops upstream first (sources, then transforms, then sinks).
 */
import type { TSchema, Static } from '@sinclair/typebox';
import type { Event } from './model.js';
import type { LineBlock } from './line-block.js';
import type { Telemetry } from './telemetry.js';
import type { Logger } from './log.js';
import type { Transport } from './transport.js';

export interface Lifecycle {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** What the runner hands every component it builds. */
export interface ComponentContext {
  /** The component's name in the config (`sources.app` → `app`). */
  readonly name: string;
  /** The program's data directory; a component keeps its state under `<data_dir>/<role>/<name>/`. */
  readonly dataDir: string;
  readonly telemetry: Telemetry;
  readonly log: Logger;
  /** Wall clock, epoch ms. Passed in so tests can drive time. */
  now(): number;
  /** Identity of this process, set on every record it originates (resource attributes). */
  readonly agentId: string;
  readonly hostName: string;
  /** The in-process bus when the program runs embedded (`tidewatch up`); undefined otherwise. */
  readonly bus: Transport | undefined;
}

export interface SourceContext extends ComponentContext {
  /**
   * Hands a batch to every pipeline this source feeds. Ownership of `events` passes to the
   * pipeline. Resolves once every sink downstream has made the batch durable (a file sink
   * flushed it, Kafka acknowledged it with acks=all, the in-process bus's consumer took it):
   * only then may the source advance a checkpoint. Rejects when any sink failed for good or
   * the runner is stopping; the source must then keep its checkpoint where it was. Awaiting it
   * is the backpressure: a source keeps a bounded number of emits in flight.
   */
  emit(events: Event[]): Promise<void>;
  /**
   * Hands over whole lines of one file, as `emit` does events (same resolution, same
   * backpressure). Sinks that ship lines as they are get the block itself when nothing
   * transforms them; everything else gets `block.records()`. Undefined where the host takes
   * only events: a source then emits `block.records()`.
   */
  emitLines?(block: LineBlock): Promise<void>;
}

export interface Source extends Lifecycle {}

/**
 * A transform is synchronous and owns no I/O: it takes a batch and returns what goes on
 * (possibly fewer, more, or other events). Stateful transforms (windows, rollups) return
 * closed or early results from `flush(now)`, which the runner calls on its tick and once at stop.
 * Throwing is a bug: bad input is counted and passed on or dropped, never thrown.
 */
export interface Transform extends Lifecycle {
  process(events: Event[], now: number): Event[];
  flush?(now: number, final: boolean): Event[];
}

/**
 * A sink takes batches. `write` resolves when the batch is durable at the destination and
 * rejects with a TidewatchError when it is not (retriable or not); the runner turns a rejection
 * into the source's rejection. The sink owns `events` after the call and may batch internally,
 * within its own bounds, as long as it resolves only when what it was given is durable.
 */
export interface Sink extends Lifecycle {
  write(events: Event[]): Promise<void>;
  /**
   * Optional: takes a file's lines as framed (core/line-block.ts), with `write`'s contract, so a
   * sink that encodes lines can copy their bytes rather than decode and re-encode them. A sink
   * without it gets `block.records()` through `write`.
   */
  writeLines?(block: LineBlock): Promise<void>;
}

export type Role = 'source' | 'transform' | 'sink';

interface FactoryBase<S extends TSchema> {
  /** The YAML `type` this factory builds (`file`, `kafka`, `mine_templates`). */
  readonly type: string;
  /** One line for the configuration reference. */
  readonly description: string;
  /** The options schema, `type` excluded; defaults and descriptions live here (they feed the reference). */
  readonly schema: S;
}

export interface SourceFactory<S extends TSchema = TSchema> extends FactoryBase<S> {
  readonly role: 'source';
  create(config: Static<S>, ctx: SourceContext): Source;
}

export interface TransformFactory<S extends TSchema = TSchema> extends FactoryBase<S> {
  readonly role: 'transform';
  create(config: Static<S>, ctx: ComponentContext): Transform;
}

export interface SinkFactory<S extends TSchema = TSchema> extends FactoryBase<S> {
  readonly role: 'sink';
  create(config: Static<S>, ctx: ComponentContext): Sink;
}

export type ComponentFactory = SourceFactory | TransformFactory | SinkFactory;

/**
 * A program's explicit list of what it ships (agent/components.ts, collector/components.ts).
 * `load` imports the implementation lazily, so an agent that only tails files never loads the
 * OTLP or gRPC stacks; `schema` must be available without loading the implementation.
 */
export interface ComponentEntry {
  readonly role: Role;
  readonly type: string;
  readonly load: () => Promise<ComponentFactory>;
}
