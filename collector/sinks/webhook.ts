/**
 * `webhook` sink: posts alert notifications (the events `detect_anomalies` emits) to an HTTP
 * endpoint, as Alertmanager's webhook receiver payload (version 4, `format: alertmanager`, what
 * existing receivers such as PagerDuty/Slack bridges read) or as tidewatch's own JSON with each
 * alert's full context (`format: json`). `send: alerts` posts every alert state change instead
 * of grouped notifications.
 *
 * Delivery: each payload is retried on network errors, timeouts, 408, 429 and 5xx, with
 * exponential backoff and full jitter (`backoff_ms` doubling up to `max_backoff_ms`), at most
 * `max_retries` times. A payload that still fails, or that the endpoint refuses for good (another
 * 4xx), is dead-lettered: counted in `tidewatch_webhook_dead_letter_total` (by reason) and
 * dropped, and `write` resolves: an unreachable pager must not stall the pipeline that feeds the
 * dashboard. Other events are ignored (counted as `tidewatch_webhook_ignored_total`).
 */
import { Type, type Static } from '@sinclair/typebox';
import type { ComponentContext, Sink, SinkFactory } from '../../core/component.js';
import type { Event } from '../../core/model.js';
import { TidewatchError } from '../../core/errors.js';
import { ALERT_EVENT, NOTIFICATION_EVENT } from '../alerts/alert.js';

export const schema = Type.Object(
  {
    url: Type.String({ pattern: '^https?://', description: 'Endpoint to POST to (http or https).' }),
    format: Type.Union([Type.Literal('alertmanager'), Type.Literal('json')], { default: 'alertmanager', description: 'alertmanager: the Alertmanager webhook payload (version 4); json: tidewatch\'s JSON with each alert\'s context.' }),
    send: Type.Union([Type.Literal('notifications'), Type.Literal('alerts')], { default: 'notifications', description: 'notifications: grouped, deduplicated, silenced as configured in detect_anomalies; alerts: every state change.' }),
    external_url: Type.String({ default: 'http://127.0.0.1:9470', description: 'Base URL of the dashboard, for externalURL and each alert\'s generatorURL.' }),
    headers: Type.Record(Type.String(), Type.String(), { default: {}, description: 'Extra request headers (Authorization: Bearer ${TOKEN}).' }),
    timeout_ms: Type.Integer({ minimum: 100, maximum: 120_000, default: 10_000, description: 'Per-attempt timeout.' }),
    max_retries: Type.Integer({ minimum: 0, maximum: 20, default: 5, description: 'Retries after the first attempt before a payload is dead-lettered.' }),
    backoff_ms: Type.Integer({ minimum: 1, maximum: 60_000, default: 500, description: 'First retry delay; doubles per retry (full jitter).' }),
    max_backoff_ms: Type.Integer({ minimum: 1, maximum: 600_000, default: 30_000, description: 'Cap on one retry delay.' }),
  },
  { additionalProperties: false },
);
export type WebhookConfig = Static<typeof schema>;

export interface WebhookCounters {
  sent: number;
  retries: number;
  deadLetter: number;
  ignored: number;
}

function retriableStatus(s: number): boolean {
  return s === 408 || s === 429 || s >= 500;
}

export class WebhookSink implements Sink {
  readonly counters: WebhookCounters = { sent: 0, retries: 0, deadLetter: 0, ignored: 0 };
  private stopped = false;
  private readonly timers = new Set<{ t: NodeJS.Timeout; wake: () => void }>();
  private readonly c: Required<WebhookConfig>;

  constructor(
    config: Partial<WebhookConfig> & { url: string },
    private readonly ctx: ComponentContext,
    private readonly random: () => number = Math.random,
  ) {
    this.c = {
      url: config.url,
      format: config.format ?? 'alertmanager',
      send: config.send ?? 'notifications',
      external_url: (config.external_url ?? 'http://127.0.0.1:9470').replace(/\/+$/, ''),
      headers: config.headers ?? {},
      timeout_ms: config.timeout_ms ?? 10_000,
      max_retries: config.max_retries ?? 5,
      backoff_ms: config.backoff_ms ?? 500,
      max_backoff_ms: config.max_backoff_ms ?? 30_000,
    };
  }

  async start(): Promise<void> {
    this.stopped = false;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    // Wake any backoff wait: the payload in flight is dead-lettered rather than holding shutdown.
    for (const x of this.timers) {
      clearTimeout(x.t);
      x.wake();
    }
    this.timers.clear();
  }

  /** The payload an event becomes, or undefined when this sink does not send it. */
  payloadOf(e: Event): unknown {
    if (e.kind !== 'log') return undefined;
    const name = e.attributes['event.name'];
    if (this.c.send === 'notifications' && name === NOTIFICATION_EVENT) {
      if (this.c.format === 'json') return e.attributes['tidewatch.notification'];
      const p = e.attributes['tidewatch.notification.alertmanager'] as Record<string, unknown> | undefined;
      if (p === undefined) return undefined;
      const alerts = (p['alerts'] as Record<string, unknown>[] | undefined) ?? [];
      return { ...p, externalURL: this.c.external_url, alerts: alerts.map((a) => ({ ...a, generatorURL: `${this.c.external_url}${String(a['generatorURL'] ?? '')}` })) };
    }
    if (this.c.send === 'alerts' && name === ALERT_EVENT) {
      const rec = e.attributes['tidewatch.alert'];
      if (this.c.format === 'json') return { ...(rec as object), context: e.attributes['tidewatch.alert.context'], annotations: e.attributes['tidewatch.alert.annotations'] };
      const r = rec as { alert_id: string; state: string; labels: Record<string, string>; started_at: number; resolved_at?: number; rule: string };
      return {
        version: '4',
        groupKey: r.alert_id,
        truncatedAlerts: 0,
        status: r.state,
        receiver: this.ctx.name,
        groupLabels: { alertname: r.rule },
        commonLabels: r.labels,
        commonAnnotations: e.attributes['tidewatch.alert.annotations'],
        externalURL: this.c.external_url,
        alerts: [{
          status: r.state, labels: r.labels, annotations: e.attributes['tidewatch.alert.annotations'],
          startsAt: new Date(r.started_at).toISOString(),
          endsAt: r.resolved_at === undefined ? '0001-01-01T00:00:00Z' : new Date(r.resolved_at).toISOString(),
          generatorURL: `${this.c.external_url}/alerts/${encodeURIComponent(r.alert_id)}`, fingerprint: r.alert_id,
        }],
      };
    }
    return undefined;
  }

  async write(events: Event[]): Promise<void> {
    for (const e of events) {
      const p = this.payloadOf(e);
      if (p === undefined) {
        this.counters.ignored++;
        this.ctx.telemetry.add('tidewatch_webhook_ignored_total', { component: this.ctx.name });
        continue;
      }
      await this.deliver(JSON.stringify(p));
    }
  }

  private async deliver(body: string): Promise<void> {
    const labels = { component: this.ctx.name };
    let reason = 'retries_exhausted';
    for (let attempt = 0; attempt <= this.c.max_retries; attempt++) {
      if (attempt > 0) {
        this.counters.retries++;
        this.ctx.telemetry.add('tidewatch_webhook_retries_total', labels);
        const cap = Math.min(this.c.max_backoff_ms, this.c.backoff_ms * 2 ** (attempt - 1));
        await this.sleep(Math.floor(this.random() * cap) + 1);
      }
      if (this.stopped) {
        reason = 'stopped';
        break;
      }
      try {
        const res = await fetch(this.c.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'tidewatch', ...this.c.headers },
          body,
          signal: AbortSignal.timeout(this.c.timeout_ms),
        });
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) {
          this.counters.sent++;
          this.ctx.telemetry.add('tidewatch_webhook_sent_total', labels);
          return;
        }
        if (!retriableStatus(res.status)) {
          reason = `http_${res.status}`;
          break;
        }
        reason = `http_${res.status}`;
      } catch (err) {
        reason = (err as Error).name === 'TimeoutError' ? 'timeout' : 'network';
      }
    }
    this.counters.deadLetter++;
    this.ctx.telemetry.add('tidewatch_webhook_dead_letter_total', { ...labels, reason });
    this.ctx.telemetry.add('tidewatch_errors_total', { ...labels, code: new TidewatchError('TW_SINK_WRITE', reason).code });
    this.ctx.log.warn('webhook payload dead-lettered', { url: this.c.url, reason });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const x = { t: setTimeout(() => {
        this.timers.delete(x);
        resolve();
      }, ms), wake: resolve };
      x.t.unref();
      this.timers.add(x);
    });
  }
}

export const webhookSink: SinkFactory<typeof schema> = {
  role: 'sink',
  type: 'webhook',
  description: 'POSTs alert notifications as the Alertmanager webhook payload or JSON, with retry, backoff and a dead-letter count.',
  schema,
  create: (config, ctx) => new WebhookSink(config, ctx),
};
