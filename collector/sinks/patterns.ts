/**
 * `patterns` sink: turns the log records that `mine_templates` labelled into the pattern catalog
 * (one `patterns` wire record per pattern, key = pattern id, so a compacted topic keeps each
 * pattern's latest count) and a sampled live tail (a few parsed lines per pattern per second on
 * the tail topic, as `logs` records). The dashboard reads both: its Patterns page and its live
 * tail cost one decode per published line, however many pages are open, and the collector pays
 * the parsing once.
 *
 * Publishing is throttled: what changed is published at most every `publish_interval_ms`, and
 * once more at stop. The catalog is derived data (counts since this collector started), so a
 * `write` between two publishes resolves at once; the lines themselves are durable elsewhere.
 * Bounded: at most `max_patterns` patterns and `max_tail_lines` lines between publishes; what
 * does not fit is dropped and counted by reason.
 */
import { Type } from '@sinclair/typebox';
import type { Sink, SinkFactory } from '../../core/component.js';
import { TidewatchError } from '../../core/errors.js';
import type { LogRecord } from '../../core/model.js';
import { encodeLogBatch, encodePattern, type PatternRecord } from '../../core/wire.js';
import { PatternAttrs } from '../transforms/mine-templates.js';
import { openTopicTransport, type TopicTransport } from './topic-transport.js';

export const PatternsSinkSchema = Type.Object(
  {
    topic: Type.String({ minLength: 1, default: 'tidewatch.patterns', description: 'Topic of the pattern catalog (compacted on Kafka: the latest record per pattern).' }),
    tail_topic: Type.String({ minLength: 1, default: 'tidewatch.tail', description: 'Topic of the sampled live tail the dashboard shows.' }),
    tail_lines_per_pattern_per_second: Type.Integer({ minimum: 0, default: 5, description: 'Lines of one pattern sampled into the tail each second (0: no tail).' }),
    max_tail_lines: Type.Integer({ minimum: 1, default: 2000, description: 'Tail lines held between two publishes; beyond it lines are dropped and counted.' }),
    max_patterns: Type.Integer({ minimum: 1, default: 10_000, description: 'Patterns in the catalog; new ones beyond it are dropped and counted.' }),
    publish_interval_ms: Type.Integer({ minimum: 10, default: 1000, description: 'How often changed patterns and the sampled tail are published.' }),
    max_sample_chars: Type.Integer({ minimum: 16, default: 2000, description: 'A pattern\'s sample line is cut to this many characters.' }),
    brokers: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'Kafka bootstrap brokers (host:port); absent: the embedded bus of tidewatch up.' }),
    ),
  },
  { additionalProperties: false },
);

interface Entry {
  rec: PatternRecord;
  /** Second of the tail samples counted in `sampled`. */
  second: number;
  sampled: number;
}

export const patternsSink: SinkFactory<typeof PatternsSinkSchema> = {
  type: 'patterns',
  role: 'sink',
  description: 'Publishes the pattern catalog and a sampled live tail from mine_templates output (Kafka or the embedded bus).',
  schema: PatternsSinkSchema,
  create(config, ctx): Sink {
    let out: TopicTransport | undefined;
    const patterns = new Map<string, Entry>();
    const changed = new Set<string>();
    let tail: LogRecord[] = [];
    let lastPublish = 0;
    let publishing: Promise<void> = Promise.resolve();
    const drop = (reason: string, n = 1): void => ctx.telemetry.add('tidewatch_events_dropped_total', { component: ctx.name, reason }, n);

    const take = (r: LogRecord): void => {
      const id = r.attributes[PatternAttrs.id];
      const template = r.attributes[PatternAttrs.template];
      if (typeof id !== 'string' || typeof template !== 'string') {
        drop('no_pattern');
        return;
      }
      const t = r.time ?? r.observed_time;
      let e = patterns.get(id);
      if (e === undefined) {
        if (patterns.size >= config.max_patterns) {
          drop('max_patterns');
          return;
        }
        const body = typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
        const labels: Record<string, string> = {};
        if (r.severity_text !== '') labels['severity'] = r.severity_text.toLowerCase();
        const svc = r.resource['service.name'];
        if (typeof svc === 'string') labels['service.name'] = svc;
        e = { rec: { pattern_id: id, template, count: 0, first_seen: t, last_seen: t, sample: body.slice(0, config.max_sample_chars), labels }, second: 0, sampled: 0 };
        patterns.set(id, e);
      }
      e.rec.count++;
      e.rec.template = template; // a merge may have generalised it
      if (t > e.rec.last_seen) e.rec.last_seen = t;
      changed.add(id);
      const second = Math.floor(t / 1000);
      if (second !== e.second) {
        e.second = second;
        e.sampled = 0;
      }
      if (e.sampled < config.tail_lines_per_pattern_per_second) {
        if (tail.length >= config.max_tail_lines) drop('tail_full');
        else {
          e.sampled++;
          tail.push(r);
        }
      }
    };

    const publish = async (): Promise<void> => {
      if (out === undefined) return;
      const records = [...changed].flatMap((id) => {
        const e = patterns.get(id);
        return e === undefined ? [] : [encodePattern({ ...e.rec, labels: { ...e.rec.labels } })];
      });
      changed.clear();
      const lines = tail;
      tail = [];
      lastPublish = ctx.now();
      if (records.length > 0) await out.transport.publish(config.topic, records);
      if (lines.length > 0) await out.transport.publish(config.tail_topic, encodeLogBatch(lines));
    };

    return {
      async start() {
        out = await openTopicTransport(config.brokers, ctx, [
          { name: config.topic, partitions: 1, configs: { 'cleanup.policy': 'compact' } },
          { name: config.tail_topic, partitions: 1, configs: { 'retention.ms': '3600000' } },
        ]);
      },
      async write(events) {
        if (out === undefined) throw new TidewatchError('TW_STOPPED', `patterns sink ${ctx.name} is not started`);
        for (const e of events) {
          if (e.kind === 'log') take(e);
          else drop('not_a_log');
        }
        if (ctx.now() - lastPublish < config.publish_interval_ms) return;
        // One publish at a time: concurrent writers wait for it rather than publishing twice.
        const p = publishing.then(publish);
        publishing = p.catch(() => undefined);
        await p;
      },
      async stop() {
        await publishing;
        await publish().catch((err: unknown) => ctx.log.warn('final pattern publish failed', { err }));
        const o = out;
        out = undefined;
        await o?.close();
      },
    };
  },
};
