/**
 * `patterns` sink: turns the log records that `mine_templates` labelled into the pattern catalog
 * and a sampled live tail (a few parsed lines per pattern per second on the tail topic, as `logs`
 * records). The dashboard reads both: its Patterns page and its live tail cost one decode per
 * published line, however many pages are open, and the collector pays the parsing once.
 *
 * The catalog has one writer per pattern id, so collector instances never race on a key:
 * - With `brokers` (Kafka), this sink does not write the catalog. It publishes *observations*
 *   (catalog/observation.ts: what this instance counted of a pattern since its previous
 *   observation, per minute window, first/last seen, a sample, and aliases when its miner merged
 *   clusters), keyed by pattern id, on `observations_topic`. The collector's catalog stage
 *   (`collector --stage catalog`, catalog/stage.ts), one consumer per partition, merges them and
 *   writes the compacted catalog record of each key.
 * - Embedded (`tidewatch up`, no brokers), this sink is the only writer: it merges its own
 *   observations with the same code (catalog/core.ts) and publishes the records on `topic`.
 *
 * Publishing is throttled: what changed is published at most every `publish_interval_ms`, and
 * once more at stop. The catalog is derived data, so a `write` between two publishes resolves at
 * once (the lines themselves are durable elsewhere); a failed publish keeps its counts for the
 * next one (counted). Bounded: at most `max_patterns` patterns and aliases, `max_tail_lines` lines
 * between publishes, 60 windows per pattern between publishes; what does not fit is dropped and
 * counted by reason.
 */
import { Type } from '@sinclair/typebox';
import type { Sink, SinkFactory } from '../../core/component.js';
import { TidewatchError, errorCodeOf } from '../../core/errors.js';
import type { LogRecord } from '../../core/model.js';
import { encodeLogBatch, encodePattern } from '../../core/wire.js';
import { PatternAttrs } from '../transforms/mine-templates.js';
import { CatalogCore } from '../catalog/core.js';
import { PATTERN_WINDOW_MS, encodeObservation, type PatternObservation } from '../catalog/observation.js';
import { openTopicTransport, type TopicTransport } from './topic-transport.js';

/** Windows of one pattern held between two publishes (a publish that keeps failing). */
const MAX_PENDING_WINDOWS = 60;

export const PatternsSinkSchema = Type.Object(
  {
    topic: Type.String({ minLength: 1, default: 'tidewatch.patterns', description: 'Topic of the pattern catalog (compacted on Kafka: the latest record per pattern). Written by this sink when embedded; on Kafka by the catalog stage.' }),
    observations_topic: Type.String({
      minLength: 1,
      default: 'tidewatch.pattern-observations',
      description: 'Kafka only: topic of this instance\'s pattern observations, keyed by pattern id, that the catalog stage merges (<topic_prefix>pattern-observations).',
    }),
    observations_partitions: Type.Integer({
      minimum: 1,
      maximum: 10_000,
      default: 6,
      description: 'Kafka only: partitions of the observations topic when this sink creates it: the most catalog stage instances that share the catalog\'s work.',
    }),
    tail_topic: Type.String({ minLength: 1, default: 'tidewatch.tail', description: 'Topic of the sampled live tail the dashboard shows.' }),
    tail_lines_per_pattern_per_second: Type.Integer({ minimum: 0, default: 5, description: 'Lines of one pattern sampled into the tail each second (0: no tail).' }),
    max_tail_lines: Type.Integer({ minimum: 1, default: 2000, description: 'Tail lines held between two publishes; beyond it lines are dropped and counted.' }),
    max_patterns: Type.Integer({ minimum: 1, default: 10_000, description: 'Patterns (and merge aliases) this sink tracks; new ones beyond it are dropped and counted.' }),
    publish_interval_ms: Type.Integer({ minimum: 10, default: 1000, description: 'How often changed patterns and the sampled tail are published.' }),
    max_sample_chars: Type.Integer({ minimum: 16, default: 2000, description: 'A pattern\'s sample line is cut to this many characters.' }),
    brokers: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'Kafka bootstrap brokers (host:port); absent: the embedded bus of tidewatch up.' }),
    ),
  },
  { additionalProperties: false },
);

interface Entry {
  template: string;
  labels: Record<string, string>;
  sample: string;
  /** The sample goes in this instance's first published observation of the id only. */
  sampleSent: boolean;
  /** Counted since the last publish. */
  count: number;
  first: number;
  last: number;
  windows: Map<number, number>;
  /** Second of the tail samples counted in `sampled`. */
  second: number;
  sampled: number;
}

export const patternsSink: SinkFactory<typeof PatternsSinkSchema> = {
  type: 'patterns',
  role: 'sink',
  description: 'Publishes pattern observations for the catalog stage (Kafka) or the pattern catalog itself (embedded), and a sampled live tail, from mine_templates output.',
  schema: PatternsSinkSchema,
  create(config, ctx): Sink {
    let out: TopicTransport | undefined;
    const kafka = config.brokers !== undefined;
    // Embedded: this process is the catalog's only writer.
    const catalog = kafka ? undefined : new CatalogCore({ maxPatterns: config.max_patterns });
    const patterns = new Map<string, Entry>();
    const changed = new Set<string>();
    /** Merged-away id → the id it was merged into, not yet published. */
    let aliases = new Map<string, string>();
    let tail: LogRecord[] = [];
    let lastPublish = 0;
    let publishing: Promise<void> = Promise.resolve();
    let timer: NodeJS.Timeout | undefined;
    const labels = { component: ctx.name };
    const drop = (reason: string, n = 1): void => ctx.telemetry.add('tidewatch_events_dropped_total', { ...labels, reason }, n);

    const countWindow = (e: Entry, t: number, n: number): void => {
      const w = Math.floor(t / PATTERN_WINDOW_MS) * PATTERN_WINDOW_MS;
      const c = e.windows.get(w);
      if (c !== undefined) e.windows.set(w, c + n);
      else if (e.windows.size < MAX_PENDING_WINDOWS) e.windows.set(w, n);
      else {
        // Only while publishing fails for an hour: the line stays in the count, not in a window.
        drop('max_pending_windows', n);
      }
    };

    const take = (r: LogRecord): void => {
      const id = r.attributes[PatternAttrs.id];
      const template = r.attributes[PatternAttrs.template];
      if (typeof id !== 'string' || typeof template !== 'string') {
        drop('no_pattern');
        return;
      }
      const merged = r.attributes[PatternAttrs.merged];
      if (Array.isArray(merged)) {
        for (const m of merged) {
          if (typeof m !== 'string' || m === id) continue;
          if (!aliases.has(m) && aliases.size >= config.max_patterns) drop('max_aliases');
          else aliases.set(m, id);
        }
      }
      const t = r.time ?? r.observed_time;
      let e = patterns.get(id);
      if (e === undefined) {
        if (patterns.size >= config.max_patterns) {
          drop('max_patterns');
          return;
        }
        const body = typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
        const l: Record<string, string> = {};
        if (r.severity_text !== '') l['severity'] = r.severity_text.toLowerCase();
        const svc = r.resource['service.name'];
        if (typeof svc === 'string') l['service.name'] = svc;
        e = { template, labels: l, sample: body.slice(0, config.max_sample_chars), sampleSent: false, count: 0, first: t, last: t, windows: new Map(), second: 0, sampled: 0 };
        patterns.set(id, e);
      }
      if (e.count === 0) {
        e.first = t;
        e.last = t;
      }
      e.count++;
      if (t < e.first) e.first = t;
      if (t > e.last) e.last = t;
      countWindow(e, t, 1);
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

    /** Takes what was counted since the last publish out of the entries, as observations. */
    const observe = (now: number): PatternObservation[] => {
      const obs: PatternObservation[] = [];
      for (const id of changed) {
        const e = patterns.get(id);
        if (e === undefined || e.count === 0) continue;
        const windows = [...e.windows.entries()].sort((a, b) => a[0] - b[0]);
        obs.push({ pattern_id: id, template: e.template, count: e.count, first_seen: e.first, last_seen: e.last, labels: { ...e.labels }, windows, hops: 0, ...(e.sampleSent ? {} : { sample: e.sample }) });
        e.sampleSent = true;
        e.count = 0;
        e.windows = new Map();
      }
      changed.clear();
      for (const [from, to] of aliases) {
        obs.push({ pattern_id: from, template: patterns.get(from)?.template ?? '', count: 0, first_seen: now, last_seen: now, labels: {}, windows: [], alias_of: to, hops: 0 });
      }
      aliases = new Map();
      return obs;
    };

    /** A publish failed: its counts go back, to be published with the next ones. */
    const giveBack = (obs: readonly PatternObservation[]): void => {
      for (const o of obs) {
        if (o.alias_of !== undefined) {
          if (!aliases.has(o.pattern_id)) aliases.set(o.pattern_id, o.alias_of);
          continue;
        }
        const e = patterns.get(o.pattern_id);
        if (e === undefined) continue;
        if (e.count === 0) {
          e.first = o.first_seen;
          e.last = o.last_seen;
        }
        e.count += o.count;
        e.first = Math.min(e.first, o.first_seen);
        e.last = Math.max(e.last, o.last_seen);
        for (const [w, n] of o.windows) countWindow(e, w, n);
        if (o.sample !== undefined) e.sampleSent = false;
        changed.add(o.pattern_id);
      }
    };

    const publish = async (): Promise<void> => {
      if (out === undefined) return;
      const now = ctx.now();
      lastPublish = now;
      const obs = observe(now);
      const lines = tail;
      tail = [];
      const transport = out.transport;
      try {
        if (catalog === undefined) {
          if (obs.length > 0) await transport.publish(config.observations_topic, obs.map(encodeObservation));
        } else {
          for (const o of obs) catalog.apply(o);
          // Alias forwards land in this same catalog; `hops` ends any chain.
          for (let c = catalog.drain(); ; ) {
            if (c.records.length > 0) await transport.publish(config.topic, c.records.map(encodePattern));
            if (c.forwards.length === 0) break;
            for (const f of c.forwards) catalog.apply(f);
            c = catalog.drain();
          }
        }
      } catch (err) {
        // Kafka only (the embedded catalog has merged them already): keep the counts.
        if (catalog === undefined) giveBack(obs);
        ctx.telemetry.add('tidewatch_patterns_publish_errors_total', { ...labels, code: errorCodeOf(err) });
        ctx.log.warn('pattern observations not published; retried with the next ones', { message: (err as Error).message });
      }
      if (lines.length > 0) {
        try {
          await transport.publish(config.tail_topic, encodeLogBatch(lines));
        } catch (err) {
          drop('tail_publish_failed', lines.length);
          ctx.telemetry.add('tidewatch_patterns_publish_errors_total', { ...labels, code: errorCodeOf(err) });
        }
      }
    };

    /** One publish at a time: concurrent callers wait for it rather than publishing twice. */
    const publishNow = (): Promise<void> => {
      const p = publishing.then(publish);
      publishing = p.catch(() => undefined);
      return p;
    };

    return {
      async start() {
        out = await openTopicTransport(
          config.brokers,
          ctx,
          kafka
            ? [
                // Deltas: read by the catalog stage within a day or they are gone.
                { name: config.observations_topic, partitions: config.observations_partitions, configs: { 'retention.ms': '86400000' } },
                { name: config.tail_topic, partitions: 1, configs: { 'retention.ms': '3600000' } },
              ]
            : [
                { name: config.topic, partitions: 1, configs: { 'cleanup.policy': 'compact' } },
                { name: config.tail_topic, partitions: 1, configs: { 'retention.ms': '3600000' } },
              ],
        );
        // What the last writes of a burst counted goes out without waiting for the next write.
        timer = setInterval(() => {
          if ((changed.size > 0 || aliases.size > 0 || tail.length > 0) && ctx.now() - lastPublish >= config.publish_interval_ms) void publishNow().catch(() => undefined);
        }, config.publish_interval_ms);
        timer.unref();
      },
      async write(events) {
        if (out === undefined) throw new TidewatchError('TW_STOPPED', `patterns sink ${ctx.name} is not started`);
        for (const e of events) {
          if (e.kind === 'log') take(e);
          else drop('not_a_log');
        }
        if (ctx.now() - lastPublish < config.publish_interval_ms) return;
        await publishNow();
      },
      async stop() {
        clearInterval(timer);
        timer = undefined;
        await publishing;
        await publish().catch((err: unknown) => ctx.log.warn('final pattern publish failed', { err }));
        const o = out;
        out = undefined;
        await o?.close();
      },
    };
  },
};
