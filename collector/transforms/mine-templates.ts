/**
 * `mine_templates`: tags each log record whose body is a string with the template (pattern) behind
 * it, learned online by the miner in collector/miner/: attributes `tidewatch.pattern.id` and
 * `tidewatch.pattern.template`. Records with other bodies pass through untouched (counted).
 *
 * Ids are derived from the template text, so collector instances that see the same kinds of lines
 * name them alike, and a restart re-learns the same ids. When templates merge online, the record
 * carries the merged id from then on; the old id remains an alias inside the miner, and the
 * record whose line caused the merge lists the merged-away ids in `tidewatch.pattern.merged`
 * (the patterns sink makes them aliases in the pattern catalog).
 *
 * Memory is bounded by `max_templates` (least recently seen evicted first, counted as
 * `tidewatch_mine_templates_evicted_total`).
 *
 * With `emit_metrics` (default on), `flush(now, final)` also emits per-second delta sums
 * `log.patterns{tidewatch.pattern.id, severity}` counting the records mined per pattern. Seconds
 * are those of processing time (the `now` of `process`), which only moves forward, so a second is
 * complete once `now` has left it and nothing arrives late. At most `max_pattern_series` series
 * per second; the rest are counted into the `__overflow__` series and in
 * `tidewatch_mine_templates_series_overflow_total`.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { ComponentContext, Transform, TransformFactory } from '../../core/component.js';
import type { Attributes, Event, SumPoint } from '../../core/model.js';
import { TemplateMiner, DEFAULT_MINER_OPTIONS } from '../miner/miner.js';
import { stripHeader } from '../miner/header.js';
import { severityLabel } from './rollup.js';

export const PatternAttrs = {
  id: 'tidewatch.pattern.id',
  template: 'tidewatch.pattern.template',
  /** Only on a record whose line made clusters merge: the ids merged into `id` (its aliases from now on). */
  merged: 'tidewatch.pattern.merged',
} as const;

export const PATTERN_METRIC = 'log.patterns';
export const OVERFLOW_PATTERN_ID = '__overflow__';
/** Seconds held at once; more only if flush is not called while `now` jumps ahead (oldest go out early). */
const MAX_OPEN_SECONDS = 64;

interface SeriesCount {
  id: string;
  severity: string | undefined;
  count: number;
}

export const schema = Type.Object(
  {
    max_templates: Type.Integer({
      minimum: 16,
      maximum: 1_000_000,
      default: DEFAULT_MINER_OPTIONS.maxTemplates,
      description: 'Most templates kept in memory; beyond it the least recently seen are evicted (and counted). A new occurrence re-learns the same id.',
    }),
    max_line_chars: Type.Integer({
      minimum: 64,
      maximum: 1_048_576,
      default: DEFAULT_MINER_OPTIONS.maxLineChars,
      description: 'Only this many leading characters of a body are mined: templates are decided by a line\'s start, and huge lines stay cheap.',
    }),
    strip_header: Type.Boolean({
      default: true,
      description: 'Find and skip a header (timestamp, level, logger, host, pid) at the start of the body, so a body that is a whole raw line mines like its message. Off when a parser already split the message out.',
    }),
    emit_metrics: Type.Boolean({
      default: true,
      description: 'Also emit per-second delta sums log.patterns{tidewatch.pattern.id, severity} counting records per pattern (from flush, by processing time).',
    }),
    max_pattern_series: Type.Integer({
      minimum: 1,
      maximum: 1_000_000,
      default: 1000,
      description: 'Most log.patterns series per second; records of further patterns are counted into the tidewatch.pattern.id="__overflow__" series (and in telemetry).',
    }),
  },
  { additionalProperties: false },
);
export type MineTemplatesConfig = Static<typeof schema>;

export class MineTemplates implements Transform {
  readonly miner: TemplateMiner;
  private readonly stripHeader: boolean;
  private evictedReported = 0;
  private readonly emitMetrics: boolean;
  private readonly maxSeries: number;
  /** Second start (epoch ms) → series key → count, in insertion (time) order. */
  private readonly seconds = new Map<number, { series: Map<string, SeriesCount>; distinct: number }>();
  private overflowed = 0;
  private droppedSeconds = 0;

  constructor(
    config: Partial<MineTemplatesConfig>,
    private readonly ctx: ComponentContext,
  ) {
    this.miner = new TemplateMiner({
      maxTemplates: config.max_templates ?? DEFAULT_MINER_OPTIONS.maxTemplates,
      maxLineChars: config.max_line_chars ?? DEFAULT_MINER_OPTIONS.maxLineChars,
    });
    this.stripHeader = config.strip_header ?? true;
    this.emitMetrics = config.emit_metrics ?? true;
    this.maxSeries = config.max_pattern_series ?? 1000;
  }

  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  process(events: Event[], now: number): Event[] {
    let mined = 0;
    let created = 0;
    let merged = 0;
    let skipped = 0;
    const out = events.map((e): Event => {
      if (e.kind !== 'log' || typeof e.body !== 'string') {
        if (e.kind === 'log') skipped++;
        return e;
      }
      const r = this.miner.add(this.stripHeader ? stripHeader(e.body) : e.body, now);
      mined++;
      if (r.created) created++;
      merged += r.merged.length;
      if (this.emitMetrics) this.countPattern(r.id, e.severity_number, now);
      // Records are shared between stages (core/model.ts): change a copy.
      const attributes: Attributes = { ...e.attributes, [PatternAttrs.id]: r.id, [PatternAttrs.template]: r.template };
      // The patterns sink turns these into catalog aliases (collector/catalog/core.ts).
      if (r.merged.length > 0) attributes[PatternAttrs.merged] = [...r.merged];
      return { ...e, attributes };
    });
    const t = this.ctx.telemetry;
    const labels = { component: this.ctx.name };
    if (mined > 0) t.add('tidewatch_mine_templates_records_total', { ...labels, result: 'mined' }, mined);
    if (skipped > 0) t.add('tidewatch_mine_templates_records_total', { ...labels, result: 'not_a_string' }, skipped);
    if (created > 0) t.add('tidewatch_mine_templates_created_total', labels, created);
    if (merged > 0) t.add('tidewatch_mine_templates_merged_total', labels, merged);
    const s = this.miner.stats();
    if (s.evicted > this.evictedReported) {
      t.add('tidewatch_mine_templates_evicted_total', labels, s.evicted - this.evictedReported);
      this.evictedReported = s.evicted;
    }
    t.set('tidewatch_mine_templates_templates', labels, s.clusters);
    if (this.overflowed > 0) {
      t.add('tidewatch_mine_templates_series_overflow_total', labels, this.overflowed);
      this.overflowed = 0;
    }
    if (this.droppedSeconds > 0) {
      t.add('tidewatch_mine_templates_dropped_seconds_total', labels, this.droppedSeconds);
      this.droppedSeconds = 0;
    }
    return out;
  }

  private countPattern(id: string, severityNumber: number, now: number): void {
    const start = Math.floor(now / 1000) * 1000;
    let sec = this.seconds.get(start);
    if (sec === undefined) {
      if (this.seconds.size >= MAX_OPEN_SECONDS) {
        // Only when flush is not called while time moves on: the oldest second is lost, counted.
        const oldest = this.seconds.keys().next().value as number;
        this.seconds.delete(oldest);
        this.droppedSeconds++;
      }
      sec = { series: new Map(), distinct: 0 };
      this.seconds.set(start, sec);
    }
    const severity = severityNumber > 0 ? severityLabel(severityNumber) : undefined;
    const key = severity === undefined ? id : `${id}\u0000${severity}`;
    let c = sec.series.get(key);
    if (c === undefined) {
      if (sec.distinct >= this.maxSeries) {
        this.overflowed++;
        // One overflow series per severity; it does not count against the limit.
        const okey = severity === undefined ? OVERFLOW_PATTERN_ID : `${OVERFLOW_PATTERN_ID}\u0000${severity}`;
        c = sec.series.get(okey);
        if (c === undefined) {
          c = { id: OVERFLOW_PATTERN_ID, severity, count: 0 };
          sec.series.set(okey, c);
        }
      } else {
        c = { id, severity, count: 0 };
        sec.series.set(key, c);
        sec.distinct++;
      }
    }
    c.count++;
  }

  /** Counts of seconds `now` has left (all of them when `final`), as delta sums. */
  flush(now: number, final: boolean): Event[] {
    const out: Event[] = [];
    for (const [start, sec] of this.seconds) {
      if (!final && start + 1000 > now) continue;
      for (const c of sec.series.values()) {
        const attributes: SumPoint['attributes'] = { [PatternAttrs.id]: c.id };
        if (c.severity !== undefined) attributes['severity'] = c.severity;
        const p: SumPoint = { kind: 'metric', type: 'sum', name: PATTERN_METRIC, unit: '{record}', temporality: 'delta', monotonic: true, start_time: start, time: start + 1000, value: c.count, attributes, resource: {} };
        out.push(p);
      }
      this.seconds.delete(start);
    }
    return out;
  }
}

export const mineTemplatesFactory: TransformFactory<typeof schema> = {
  role: 'transform',
  type: 'mine_templates',
  description: 'Learns log templates online (Drain-like, generic variable masks) and tags each string-bodied log record with its pattern id and template.',
  schema,
  create: (config, ctx) => new MineTemplates(config, ctx),
};
