/**
 * `mine_templates`: tags each log record whose body is a string with the template (pattern) behind
 * it, learned online by the miner in collector/miner/: attributes `tidewatch.pattern.id` and
 * `tidewatch.pattern.template`. Records with other bodies pass through untouched (counted).
 *
 * Ids are derived from the template text, so collector instances that see the same kinds of lines
 * name them alike, and a restart re-learns the same ids. When templates merge online, the record
 * carries the merged id from then on; the old id remains an alias inside the miner.
 *
 * Memory is bounded by `max_templates` (least recently seen evicted first, counted as
 * `tidewatch_mine_templates_evicted_total`).
 */
import { Type, type Static } from '@sinclair/typebox';
import type { ComponentContext, Transform, TransformFactory } from '../../core/component.js';
import type { Event } from '../../core/model.js';
import { TemplateMiner, DEFAULT_MINER_OPTIONS } from '../miner/miner.js';
import { stripHeader } from '../miner/header.js';

export const PatternAttrs = {
  id: 'tidewatch.pattern.id',
  template: 'tidewatch.pattern.template',
} as const;

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
  },
  { additionalProperties: false },
);
export type MineTemplatesConfig = Static<typeof schema>;

export class MineTemplates implements Transform {
  readonly miner: TemplateMiner;
  private readonly stripHeader: boolean;
  private evictedReported = 0;

  constructor(
    config: Partial<MineTemplatesConfig>,
    private readonly ctx: ComponentContext,
  ) {
    this.miner = new TemplateMiner({
      maxTemplates: config.max_templates ?? DEFAULT_MINER_OPTIONS.maxTemplates,
      maxLineChars: config.max_line_chars ?? DEFAULT_MINER_OPTIONS.maxLineChars,
    });
    this.stripHeader = config.strip_header ?? true;
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
      // Records are shared between stages (core/model.ts): change a copy.
      return { ...e, attributes: { ...e.attributes, [PatternAttrs.id]: r.id, [PatternAttrs.template]: r.template } };
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
