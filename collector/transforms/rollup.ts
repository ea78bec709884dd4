/**
 * `rollup` (thin): counts log records per second by severity (and by `service.name` when the
 * record's resource or attributes carry one) and emits the counts as delta sums named
 * `log.records`. The window is the second of `observed_time` for now (event time comes with the
 * rules issue, which replaces this transform).
 *
 * Output contract, from `flush(now)`: while a second is open, every flush that saw new records
 * for it emits its running count (an early value); once `now` passes the second's end plus
 * `lateness_ms`, the final count is emitted and the window is forgotten. Early and final values
 * of one window carry the same `start_time`/`time`, so a reader replaces, never adds, them.
 * A record for a second already closed is late: it is counted in
 * `tidewatch_rollup_late_total` and not added (its window was final). Metric events pass
 * through; log records are absorbed.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { ComponentContext, Transform, TransformFactory } from '../../core/component.js';
import type { Attributes, Event, LogRecord, SumPoint } from '../../core/model.js';
import { AttrKeys } from '../../core/model.js';

export const schema = Type.Object(
  {
    lateness_ms: Type.Integer({
      minimum: 0,
      maximum: 600_000,
      default: 1000,
      description: 'How long after a second ends its count stays open for stragglers before the final value is emitted.',
    }),
    max_windows: Type.Integer({
      minimum: 1,
      maximum: 1_000_000,
      default: 10_000,
      description: 'Most open (second, severity, service) counters held at once; records beyond it are dropped and counted.',
    }),
  },
  { additionalProperties: false },
);
export type RollupConfig = Static<typeof schema>;

export const METRIC_NAME = 'log.records';
const WINDOW_MS = 1000;

/** The lower-case severity label of an OpenTelemetry SeverityNumber (its range, not its text). */
export function severityLabel(n: number): string {
  if (n >= 21) return 'fatal';
  if (n >= 17) return 'error';
  if (n >= 13) return 'warn';
  if (n >= 9) return 'info';
  if (n >= 5) return 'debug';
  if (n >= 1) return 'trace';
  return 'unspecified';
}

function serviceOf(rec: LogRecord): string | undefined {
  const v = rec.resource[AttrKeys.serviceName] ?? rec.attributes[AttrKeys.serviceName];
  return typeof v === 'string' ? v : undefined;
}

interface Window {
  readonly start: number;
  readonly severity: string;
  readonly service: string | undefined;
  count: number;
  /** Counted since the last emitted value. */
  dirty: boolean;
}

export interface RollupCounters {
  absorbed: number;
  late: number;
  overflow: number;
}

/**
 * The pure core: no timers, no I/O, `now` passed in. The Transform below adds telemetry.
 */
export class CountRollup {
  private readonly windows = new Map<string, Window>();
  /** Windows starting before this are closed: their final values went out. */
  private closedBefore = -Infinity;
  readonly counters: RollupCounters = { absorbed: 0, late: 0, overflow: 0 };

  constructor(
    private readonly latenessMs = 1000,
    private readonly maxWindows = 10_000,
  ) {}

  get openWindows(): number {
    return this.windows.size;
  }

  add(events: readonly Event[]): Event[] {
    const passed: Event[] = [];
    for (const e of events) {
      if (e.kind !== 'log') {
        passed.push(e);
        continue;
      }
      const start = Math.floor(e.observed_time / WINDOW_MS) * WINDOW_MS;
      if (start < this.closedBefore) {
        this.counters.late++;
        continue;
      }
      const severity = severityLabel(e.severity_number);
      const service = serviceOf(e);
      const key = service === undefined ? `${start}|${severity}` : `${start}|${severity}|${service}`;
      let w = this.windows.get(key);
      if (w === undefined) {
        if (this.windows.size >= this.maxWindows) {
          this.counters.overflow++;
          continue;
        }
        w = { start, severity, service, count: 0, dirty: false };
        this.windows.set(key, w);
      }
      w.count++;
      w.dirty = true;
      this.counters.absorbed++;
    }
    return passed;
  }

  /** Early values of open windows that changed, and final values of the windows that closed. */
  flush(now: number, final: boolean): SumPoint[] {
    const out: SumPoint[] = [];
    let closeUpTo = this.closedBefore;
    for (const [key, w] of this.windows) {
      const end = w.start + WINDOW_MS;
      if (final || now >= end + this.latenessMs) {
        out.push(this.point(w));
        this.windows.delete(key);
        if (end > closeUpTo) closeUpTo = end;
      } else if (w.dirty) {
        w.dirty = false;
        out.push(this.point(w));
      }
    }
    // Seconds that closed with no records at all are closed too: a straggler for them is late.
    const idle = Math.floor((now - this.latenessMs) / WINDOW_MS) * WINDOW_MS;
    this.closedBefore = Math.max(closeUpTo, final ? now : idle);
    // Oldest first, so readers see each series in time order.
    out.sort((a, b) => a.time - b.time);
    return out;
  }

  private point(w: Window): SumPoint {
    const attributes: Attributes = { severity: w.severity };
    if (w.service !== undefined) attributes[AttrKeys.serviceName] = w.service;
    return {
      kind: 'metric',
      type: 'sum',
      name: METRIC_NAME,
      unit: '{record}',
      temporality: 'delta',
      monotonic: true,
      start_time: w.start,
      time: w.start + WINDOW_MS,
      value: w.count,
      attributes,
      resource: {},
    };
  }
}

export class Rollup implements Transform {
  private readonly core: CountRollup;
  private reported: RollupCounters = { absorbed: 0, late: 0, overflow: 0 };

  constructor(
    config: Partial<RollupConfig>,
    private readonly ctx: ComponentContext,
  ) {
    this.core = new CountRollup(config.lateness_ms ?? 1000, config.max_windows ?? 10_000);
  }

  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  process(events: Event[], _now: number): Event[] {
    return this.core.add(events);
  }

  flush(now: number, final: boolean): Event[] {
    const out = this.core.flush(now, final);
    this.report();
    return out;
  }

  private report(): void {
    const c = this.core.counters;
    const labels = { component: this.ctx.name };
    const t = this.ctx.telemetry;
    if (c.late > this.reported.late) t.add('tidewatch_rollup_late_total', labels, c.late - this.reported.late);
    if (c.overflow > this.reported.overflow) {
      t.add('tidewatch_rollup_dropped_total', { ...labels, reason: 'max_windows' }, c.overflow - this.reported.overflow);
    }
    t.set('tidewatch_rollup_open_windows', labels, this.core.openWindows);
    this.reported = { ...c };
  }
}

export const rollupFactory: TransformFactory<typeof schema> = {
  role: 'transform',
  type: 'rollup',
  description: 'Counts log records per second by severity (and service.name) as delta sums named log.records.',
  schema,
  create: (config, ctx) => new Rollup(config, ctx),
};
