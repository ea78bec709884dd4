/**
 * The pipeline runner: builds the components a config names, wires sources → transforms → sinks
 * per pipeline, drives the transforms' flush tick, and counts at every stage boundary.
 *
 * Order (STYLE.md rule 5): sinks start first (all together), then transforms, then sources (all
 * together); sources stop first, then transforms flush for the last time, then sinks stop (each
 * flushing and committing).
 * Transform instances are per pipeline (windows of two pipelines never mix); sources and sinks
 * are shared by every pipeline that names them.
 *
 * Counters (labels: component, pipeline where it applies):
 *   tidewatch_events_received_total   events a source emitted
 *   tidewatch_events_sent_total       events a sink made durable
 *   tidewatch_events_dropped_total    events dropped, with `reason`
 *   tidewatch_errors_total            failures, with `code`
 */
import { TidewatchError, errorCodeOf } from './errors.js';
import type {
  ComponentContext,
  ComponentEntry,
  ComponentFactory,
  Sink,
  Source,
  SourceContext,
  Transform,
} from './component.js';
import type { TidewatchConfig } from './config/load.js';
import type { Event } from './model.js';
import { LineBlock } from './line-block.js';
import type { Logger } from './log.js';
import { silentLogger } from './log.js';
import type { Telemetry } from './telemetry.js';
import { MemoryTelemetry } from './telemetry.js';
import type { Transport } from './transport.js';

export interface RunnerOptions {
  config: TidewatchConfig;
  components: readonly ComponentEntry[];
  agentId: string;
  hostName: string;
  bus?: Transport;
  telemetry?: Telemetry;
  log?: Logger;
  now?: () => number;
  /** How often transforms' flush(now) runs. */
  tickMs?: number;
  /** Retries of a retriable sink failure on the flush path before its events are dropped and counted. */
  flushRetries?: number;
}

interface PipelineWiring {
  readonly name: string;
  readonly transforms: { name: string; t: Transform }[];
  readonly sinks: { name: string; s: Sink }[];
}

type State = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

/**
 * Starts `components` together and waits for every start to settle, then throws the first
 * failure: the runner's stop, which follows a failure, never meets a start still under way.
 */
async function allStarted(components: readonly { start(): Promise<void> }[]): Promise<void> {
  const failed = (await Promise.allSettled(components.map((c) => c.start()))).find((r) => r.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}

export class PipelineRunner {
  readonly telemetry: Telemetry;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly sources = new Map<string, Source>();
  private readonly sinks = new Map<string, Sink>();
  private readonly pipelines: PipelineWiring[] = [];
  private readonly pipelinesBySource = new Map<string, PipelineWiring[]>();
  private timer: NodeJS.Timeout | undefined;
  private state: State = 'new';
  private flushing: Promise<void> = Promise.resolve();
  private stopPromise: Promise<void> | undefined;

  constructor(private readonly opts: RunnerOptions) {
    this.telemetry = opts.telemetry ?? new MemoryTelemetry();
    this.log = opts.log ?? silentLogger;
    this.now = opts.now ?? Date.now;
  }

  /** Builds every component (loading factories lazily), then starts them downstream first. */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new TidewatchError('TW_INTERNAL', `runner cannot start from state ${this.state}`);
    this.state = 'starting';
    await this.build();
    try {
      // Sinks are independent of one another, and so are sources: each kind starts together, so
      // one that waits (a kafka sink for an absent broker, up to connection_timeout_ms) does not
      // hold back the others' start, and the agent's start costs the slowest, not the sum.
      await allStarted([...this.sinks.values()]);
      for (const p of this.pipelines) for (const { t } of p.transforms) await t.start();
      await allStarted([...this.sources.values()]);
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.state = 'running';
    const tickMs = this.opts.tickMs ?? 250;
    this.timer = setInterval(() => void this.tick(false), tickMs);
    this.timer.unref();
  }

  /** Idempotent; safe without start. Sources first, then a final flush, then sinks. */
  stop(): Promise<void> {
    this.stopPromise ??= this.doStop();
    return this.stopPromise;
  }

  private async doStop(): Promise<void> {
    const was = this.state;
    this.state = 'stopping';
    if (this.timer) clearInterval(this.timer);
    const errors: unknown[] = [];
    for (const [name, s] of this.sources) await s.stop().catch((e: unknown) => errors.push(this.fail(name, e)));
    if (was === 'running' || was === 'starting') {
      await this.flushing;
      await this.tick(true);
    }
    for (const p of this.pipelines) for (const { name, t } of p.transforms) await t.stop().catch((e: unknown) => errors.push(this.fail(name, e)));
    for (const [name, s] of this.sinks) await s.stop().catch((e: unknown) => errors.push(this.fail(name, e)));
    this.state = 'stopped';
    if (errors.length > 0) this.log.warn('components failed to stop cleanly', { count: errors.length });
  }

  private fail(component: string, err: unknown): unknown {
    this.telemetry.add('tidewatch_errors_total', { component, code: errorCodeOf(err) });
    this.log.error('component error', { component, err });
    return err;
  }

  private context(name: string): ComponentContext {
    return {
      name,
      dataDir: this.opts.config.data_dir,
      telemetry: this.telemetry,
      log: this.log.child({ component: name }),
      now: this.now,
      agentId: this.opts.agentId,
      hostName: this.opts.hostName,
      bus: this.opts.bus,
    };
  }

  private async factory(role: ComponentFactory['role'], type: string): Promise<ComponentFactory> {
    const entry = this.opts.components.find((c) => c.role === role && c.type === type);
    if (entry === undefined) throw new TidewatchError('TW_COMPONENT_UNKNOWN', `no ${role} of type "${type}" in this program`);
    const f = await entry.load();
    if (f.role !== role || f.type !== type) throw new TidewatchError('TW_INTERNAL', `component list entry ${role}/${type} loaded ${f.role}/${f.type}`);
    return f;
  }

  private async build(): Promise<void> {
    const { config } = this.opts;
    for (const [pname, p] of Object.entries(config.pipelines)) {
      const wiring: PipelineWiring = { name: pname, transforms: [], sinks: [] };
      for (const tname of p.transforms) {
        const cfg = config.transforms[tname];
        if (cfg === undefined) throw new TidewatchError('TW_CONFIG_WIRING', `pipeline ${pname} names undefined transform ${tname}`);
        const f = await this.factory('transform', cfg.type);
        if (f.role !== 'transform') throw new TidewatchError('TW_INTERNAL', 'role mismatch');
        wiring.transforms.push({ name: tname, t: f.create(cfg, this.context(tname)) });
      }
      for (const sname of p.sinks) {
        let sink = this.sinks.get(sname);
        if (sink === undefined) {
          const cfg = config.sinks[sname];
          if (cfg === undefined) throw new TidewatchError('TW_CONFIG_WIRING', `pipeline ${pname} names undefined sink ${sname}`);
          const f = await this.factory('sink', cfg.type);
          if (f.role !== 'sink') throw new TidewatchError('TW_INTERNAL', 'role mismatch');
          sink = f.create(cfg, this.context(sname));
          this.sinks.set(sname, sink);
        }
        wiring.sinks.push({ name: sname, s: sink });
      }
      this.pipelines.push(wiring);
      for (const src of p.sources) {
        const list = this.pipelinesBySource.get(src) ?? [];
        list.push(wiring);
        this.pipelinesBySource.set(src, list);
      }
    }
    for (const [sname, wirings] of this.pipelinesBySource) {
      const cfg = config.sources[sname];
      if (cfg === undefined) throw new TidewatchError('TW_CONFIG_WIRING', `a pipeline names undefined source ${sname}`);
      const f = await this.factory('source', cfg.type);
      if (f.role !== 'source') throw new TidewatchError('TW_INTERNAL', 'role mismatch');
      const ctx: SourceContext = {
        ...this.context(sname),
        emit: (events) => this.emit(sname, wirings, events),
        emitLines: (block) => this.emit(sname, wirings, block),
      };
      this.sources.set(sname, f.create(cfg, ctx));
    }
  }

  private async emit(source: string, wirings: PipelineWiring[], events: Event[] | LineBlock): Promise<void> {
    if (this.state !== 'running' && this.state !== 'starting' && this.state !== 'stopping') {
      throw new TidewatchError('TW_STOPPED', 'runner is not running');
    }
    this.telemetry.add('tidewatch_events_received_total', { component: source }, events.length);
    await Promise.all(wirings.map((w) => (events instanceof LineBlock ? this.runLines(w, events) : this.runFrom(w, 0, events))));
  }

  /**
   * A file's lines into a pipeline: as they are when no transform needs records and every sink
   * takes lines (writeLines), else as the LogRecords (made once for every pipeline).
   */
  private async runLines(w: PipelineWiring, block: LineBlock): Promise<void> {
    if (w.transforms.length > 0 || w.sinks.some(({ s }) => s.writeLines === undefined)) return this.runFrom(w, 0, block.records());
    await this.toSinks(w, block.length, (s) => s.writeLines!(block));
  }

  /** Passes events through transforms[from..] and into every sink of the pipeline. */
  private async runFrom(w: PipelineWiring, from: number, events: Event[]): Promise<void> {
    let batch = events;
    const now = this.now();
    for (let i = from; i < w.transforms.length && batch.length > 0; i++) {
      const { name, t } = w.transforms[i]!;
      try {
        batch = t.process(batch, now);
      } catch (err) {
        // A throwing transform is a bug; the batch is counted, not lost silently, and not retried forever.
        this.fail(name, err);
        this.telemetry.add('tidewatch_events_dropped_total', { component: name, pipeline: w.name, reason: 'transform_error' }, batch.length);
        return;
      }
    }
    if (batch.length === 0) return;
    const out = batch;
    await this.toSinks(w, out.length, (s) => s.write(out));
  }

  /** Every sink of the pipeline takes `n` events through `write`; counted per sink. */
  private async toSinks(w: PipelineWiring, n: number, write: (s: Sink) => Promise<void>): Promise<void> {
    await Promise.all(
      w.sinks.map(async ({ name, s }) => {
        try {
          await write(s);
          this.telemetry.add('tidewatch_events_sent_total', { component: name, pipeline: w.name }, n);
        } catch (err) {
          this.fail(name, err);
          throw err;
        }
      }),
    );
  }

  private tick(final: boolean): Promise<void> {
    const run = async (): Promise<void> => {
      const now = this.now();
      await Promise.all(this.pipelines.map((w) => this.flushPipeline(w, now, final)));
    };
    this.flushing = this.flushing.then(run, run);
    return this.flushing;
  }

  private async flushPipeline(w: PipelineWiring, now: number, final: boolean): Promise<void> {
    for (let i = 0; i < w.transforms.length; i++) {
      const { name, t } = w.transforms[i]!;
      if (t.flush === undefined) continue;
      let out: Event[];
      try {
        out = t.flush(now, final);
      } catch (err) {
        this.fail(name, err);
        continue;
      }
      if (out.length === 0) continue;
      const retries = this.opts.flushRetries ?? 5;
      for (let attempt = 0; ; attempt++) {
        try {
          await this.runFrom(w, i + 1, out);
          break;
        } catch (err) {
          const retriable = err instanceof TidewatchError && err.retriable;
          if (!retriable || attempt >= retries) {
            this.telemetry.add('tidewatch_events_dropped_total', { component: name, pipeline: w.name, reason: 'sink_failed' }, out.length);
            break;
          }
          await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** attempt, 2000)).unref());
        }
      }
    }
  }
}
