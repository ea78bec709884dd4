/**
 * `prometheus_scrape` source: scrapes Prometheus and OpenMetrics endpoints at an interval, like
 * the OpenTelemetry Collector's prometheus receiver with a static config.
 *
 * Per target and scrape it emits the target's samples plus `up` (1 or 0),
 * `scrape_duration_seconds` and `scrape_samples_scraped` gauges. The resource is
 * `service.name` = job, `service.instance.id` = instance (host:port), as the collector maps them.
 * A target that is down yields `up = 0` at every interval and one warning when it goes down (and
 * one info when it comes back), never a log line per failed scrape; failures are counted under
 * `tidewatch_errors_total{code="TW_SCRAPE_FAILED"}`. Scrapes of one target never overlap.
 */
import { Type } from '@sinclair/typebox';
import { TidewatchError } from '../../core/errors.js';
import type { Source, SourceContext, SourceFactory } from '../../core/component.js';
import type { Attributes, Event, MetricPoint } from '../../core/model.js';
import { CumulativeToDelta } from './otlp/delta.js';
import { familiesToPoints } from './prometheus/map.js';
import { formatOf, parseExposition } from './prometheus/parse.js';
import { StartTimes } from './prometheus/start-times.js';

export const PrometheusScrapeSchema = Type.Object(
  {
    targets: Type.Array(Type.String({ minLength: 1 }), {
      minItems: 1,
      description: 'URLs to scrape (`http://host:port/metrics`); a bare host:port means http://host:port/metrics.',
    }),
    job: Type.Optional(Type.String({ minLength: 1, description: 'Job name (`service.name` of the resource); the component name when absent.' })),
    interval_ms: Type.Integer({ default: 15_000, minimum: 100, description: 'Time between scrapes of a target, as Prometheus\'s default scrape_interval.' }),
    timeout_ms: Type.Integer({ default: 10_000, minimum: 50, description: 'A scrape slower than this fails (up = 0); kept below interval_ms so scrapes never pile up.' }),
    labels: Type.Record(Type.String(), Type.String(), { default: {}, description: 'Labels added to every sample of these targets.' }),
    honor_timestamps: Type.Boolean({ default: true, description: 'Use timestamps the target exposes; off stamps every sample with the scrape time.' }),
    max_body_bytes: Type.Integer({ default: 16 * 1024 * 1024, minimum: 1024, description: 'Largest exposition read (after decompression); a larger one fails the scrape instead of filling memory.' }),
    bearer_token: Type.Optional(Type.String({ minLength: 1, description: 'Sent as `Authorization: Bearer <token>` to every target.' })),
    cumulative_to_delta: Type.Boolean({
      default: false,
      description: 'Turn counters and histograms into deltas (first scrape is a baseline, resets detected); off keeps them cumulative with reset-aware start times.',
    }),
    max_series: Type.Integer({ default: 100_000, minimum: 1, description: 'Series remembered per source for start times and deltas; the least recently seen is forgotten beyond it (counted).' }),
  },
  { additionalProperties: false },
);

const ACCEPT = 'application/openmetrics-text;version=1.0.0;q=0.9,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

export function targetUrl(t: string): URL {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(t) ? t : `http://${t}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    // A config that passed the schema must still fail with a registry code, not a TypeError (test/fuzz/config.test.ts).
    throw new TidewatchError('TW_CONFIG_SCHEMA', `scrape target ${JSON.stringify(t)}: not a valid URL or host:port`);
  }
  if (u.pathname === '/' && !/\/\/[^/]+\//.test(withScheme)) u.pathname = '/metrics';
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TidewatchError('TW_CONFIG_SCHEMA', `scrape target ${t}: only http and https are supported`);
  return u;
}

interface TargetState {
  url: URL;
  instance: string;
  resource: Attributes;
  up: boolean | undefined;
  running: boolean;
  timer: NodeJS.Timeout | undefined;
}

/** Reads a response body up to `max` bytes (decompressed), failing beyond. */
async function readLimited(res: Response, max: number): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? Number.NaN);
  if (declared > max && res.headers.get('content-encoding') === null) throw new Error(`body of ${declared} bytes is over max_body_bytes (${max})`);
  if (res.body === null) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > max) {
      await reader.cancel();
      throw new Error(`body is over max_body_bytes (${max})`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}

export function scrapeOnce(
  config: { timeout_ms: number; max_body_bytes: number; bearer_token?: string | undefined },
  url: URL,
): Promise<{ text: string; contentType: string | null }> {
  const headers: Record<string, string> = { accept: ACCEPT, 'x-prometheus-scrape-timeout-seconds': String(config.timeout_ms / 1000) };
  if (config.bearer_token !== undefined) headers['authorization'] = `Bearer ${config.bearer_token}`;
  return (async () => {
    const res = await fetch(url, { headers, signal: AbortSignal.timeout(config.timeout_ms), redirect: 'follow' });
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new Error(`HTTP ${res.status}`);
    }
    return { text: await readLimited(res, config.max_body_bytes), contentType: res.headers.get('content-type') };
  })();
}

export const prometheusScrapeSource: SourceFactory<typeof PrometheusScrapeSchema> = {
  type: 'prometheus_scrape',
  role: 'source',
  description: 'Scrapes Prometheus text-format and OpenMetrics endpoints at an interval.',
  schema: PrometheusScrapeSchema,
  create(config, ctx: SourceContext): Source {
    const job = config.job ?? ctx.name;
    const startTimes = new StartTimes(config.max_series);
    let delta: CumulativeToDelta | undefined;
    let stopped = false;
    const inFlight = new Set<Promise<void>>();
    const targets: TargetState[] = config.targets.map((t) => {
      const url = targetUrl(t);
      const instance = url.host;
      return {
        url,
        instance,
        resource: { 'service.name': job, 'service.instance.id': instance, 'tidewatch.agent.id': ctx.agentId },
        up: undefined,
        running: false,
        timer: undefined,
      };
    });

    const gauge = (t: TargetState, name: string, value: number, time: number): MetricPoint => ({
      kind: 'metric',
      type: 'gauge',
      name,
      value,
      time,
      attributes: { ...config.labels },
      resource: t.resource,
    });

    const scrape = async (t: TargetState): Promise<void> => {
      if (t.running) {
        ctx.telemetry.add('tidewatch_scrapes_skipped_total', { component: ctx.name, reason: 'previous_still_running' });
        return;
      }
      t.running = true;
      const started = ctx.now();
      const t0 = performance.now();
      let events: Event[] = [];
      let ok = false;
      let why = '';
      let samples = 0;
      try {
        const { text, contentType } = await scrapeOnce(config, t.url);
        const parsed = parseExposition(text, formatOf(contentType));
        if (parsed.errorCount > 0) {
          ctx.telemetry.add('tidewatch_scrape_bad_lines_total', { component: ctx.name }, parsed.errorCount);
        }
        const mapped = familiesToPoints(parsed.families, { time: started, resource: t.resource, labels: config.labels, honorTimestamps: config.honor_timestamps });
        // Deltas need no start times; and a start time we made up must not make a first scrape look complete.
        if (delta) events = delta.convertAll(mapped.points);
        else {
          startTimes.apply(mapped.points);
          events = mapped.points;
        }
        samples = parsed.families.reduce((n, f) => n + f.samples.length, 0);
        ok = true;
      } catch (err) {
        why = err instanceof Error ? (err.name === 'TimeoutError' ? `timed out after ${config.timeout_ms} ms` : err.message) : String(err);
        ctx.telemetry.add('tidewatch_errors_total', { component: ctx.name, code: 'TW_SCRAPE_FAILED' });
      }
      const seconds = (performance.now() - t0) / 1000;
      if (ok !== t.up) {
        if (!ok) ctx.log.warn('scrape target down', { target: t.url.href, error: why, code: 'TW_SCRAPE_FAILED' });
        else if (t.up === false) ctx.log.info('scrape target up again', { target: t.url.href });
        t.up = ok;
      }
      events.push(gauge(t, 'up', ok ? 1 : 0, started), gauge(t, 'scrape_duration_seconds', seconds, started), gauge(t, 'scrape_samples_scraped', samples, started));
      try {
        if (!stopped) await ctx.emit(events);
      } catch {
        // A scrape cannot be replayed: what downstream refused is counted, the next scrape is fresh.
        ctx.telemetry.add('tidewatch_events_dropped_total', { component: ctx.name, reason: 'sink_failed' }, events.length);
      } finally {
        t.running = false;
      }
    };

    const schedule = (t: TargetState, offset: number): void => {
      const run = (): void => {
        if (stopped) return;
        const p = scrape(t);
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p));
      };
      t.timer = setTimeout(() => {
        run();
        t.timer = setInterval(run, config.interval_ms);
        t.timer.unref();
      }, offset);
      t.timer.unref();
    };

    return {
      async start() {
        if (config.timeout_ms > config.interval_ms) {
          throw new TidewatchError('TW_CONFIG_SCHEMA', `sources.${ctx.name}: timeout_ms (${config.timeout_ms}) must not exceed interval_ms (${config.interval_ms})`);
        }
        if (config.cumulative_to_delta) delta = new CumulativeToDelta(ctx.now(), config.max_series);
        // Spread targets over the interval (as Prometheus does) so they are not all scraped at once.
        targets.forEach((t, i) => schedule(t, Math.floor((i * config.interval_ms) / targets.length)));
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        for (const t of targets) {
          clearTimeout(t.timer);
          clearInterval(t.timer);
        }
        await Promise.allSettled([...inFlight]);
      },
    };
  },
};
