/**
 * An alert as the rest of the system sees it: one instance's state plus the context that
 * explains it, and its conversions to the wire (AlertRecord, core/wire.ts), to an event that
 * travels through pipelines (a LogRecord with `event.name: tidewatch.alert`), and to the
 * Alertmanager webhook shape.
 */
import { encodeAlert, type AlertRecord, type AlertSeverity } from '../../core/wire.js';
import type { OutMessage } from '../../core/transport.js';
import type { AttrValue, LogRecord } from '../../core/model.js';
import { Severity } from '../../core/model.js';
import type { LifecycleState } from './lifecycle.js';

export const ALERT_EVENT = 'tidewatch.alert';
export const NOTIFICATION_EVENT = 'tidewatch.alert.notification';

export interface AlertContext {
  /** Series that contributed (at most a few ids). */
  series?: string[];
  /** The judged value; NaN when there is none (no data). */
  value: number;
  /** What the rule compared against: the threshold, or the anomaly detector's baseline. */
  baseline?: number;
  threshold?: number;
  /** Anomaly score in [0, 1]. */
  score?: number;
  /** Sample log lines (pattern rules). */
  samples?: string[];
  /** The pattern template (pattern rules). */
  template?: string;
}

export interface Alert {
  readonly fingerprint: string;
  readonly rule: string;
  /** Rule labels + group/series labels + `alertname` and `severity`. */
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  state: LifecycleState;
  severity: AlertSeverity;
  startsAt: number;
  /** When it resolved; NaN while active. */
  endsAt: number;
  /** Evaluation time of this state. */
  time: number;
  context: AlertContext;
  flapping: boolean;
  acknowledged?: { by: string; at: number } | undefined;
}

/** Active for notifications: firing, or the no-data / error states the rule chose to surface. */
export function isActive(a: Pick<Alert, 'state'>): boolean {
  return a.state === 'firing' || a.state === 'nodata' || a.state === 'error';
}

export function toRecord(a: Alert): AlertRecord {
  const r: AlertRecord = {
    alert_id: a.fingerprint,
    rule: a.rule,
    state: a.state === 'resolved' || a.state === 'inactive' ? 'resolved' : 'firing',
    severity: a.severity,
    labels: { ...a.labels, alertstate: a.state },
    started_at: a.startsAt,
    time: a.time,
    value: a.context.value,
    summary: a.annotations['summary'] ?? a.rule,
  };
  const sid = a.context.series?.[0];
  if (sid !== undefined) r.series_id = sid;
  if (r.state === 'resolved') r.resolved_at = Number.isFinite(a.endsAt) ? a.endsAt : a.time;
  if (a.context.score !== undefined && a.context.score >= 0 && a.context.score <= 1) r.score = a.context.score;
  return r;
}

function contextAttr(c: AlertContext): AttrValue {
  const o: Record<string, AttrValue> = { value: Number.isFinite(c.value) ? c.value : String(c.value) };
  if (c.series !== undefined) o['series'] = c.series;
  if (c.baseline !== undefined) o['baseline'] = Number.isFinite(c.baseline) ? c.baseline : String(c.baseline);
  if (c.threshold !== undefined) o['threshold'] = c.threshold;
  if (c.score !== undefined) o['score'] = c.score;
  if (c.samples !== undefined) o['samples'] = c.samples;
  if (c.template !== undefined) o['template'] = c.template;
  return o;
}

const SEVERITY_NUMBER: Record<AlertSeverity, number> = { info: Severity.INFO, warning: Severity.WARN, critical: Severity.ERROR };

/** The event an alert state change travels as (to the alerts topic, the file sink, a webhook). */
export function alertEvent(a: Alert): LogRecord {
  const rec = toRecord(a);
  return {
    kind: 'log',
    time: a.time,
    observed_time: a.time,
    severity_number: SEVERITY_NUMBER[a.severity],
    severity_text: a.severity.toUpperCase(),
    body: rec.summary,
    attributes: {
      'event.name': ALERT_EVENT,
      'tidewatch.alert': rec as unknown as AttrValue,
      'tidewatch.alert.context': contextAttr(a.context),
      'tidewatch.alert.annotations': { ...a.annotations },
      'tidewatch.alert.flapping': a.flapping,
    },
    resource: {},
  };
}

/** The AlertRecord an alert event carries, or undefined for any other event. */
export function recordOfEvent(e: LogRecord): AlertRecord | undefined {
  if (e.attributes['event.name'] !== ALERT_EVENT) return undefined;
  const r = e.attributes['tidewatch.alert'];
  return typeof r === 'object' && r !== null && !Array.isArray(r) ? (r as unknown as AlertRecord) : undefined;
}

/**
 * The alerts topic's messages for a batch of events: one `alerts` wire record (key `alert_id`,
 * so compaction keeps each alert's latest state) per alert event; other events are skipped.
 * For a sink that publishes to `<prefix>alerts` (Kafka or the in-process bus).
 */
export function alertMessages(events: readonly LogRecord[] | readonly { kind: string }[]): OutMessage[] {
  const out: OutMessage[] = [];
  for (const e of events) {
    if (e.kind !== 'log') continue;
    const r = recordOfEvent(e as LogRecord);
    if (r !== undefined) out.push(encodeAlert(r));
  }
  return out;
}

/** One notification: the alerts of one group, as Alertmanager sends them to a webhook receiver. */
export interface Notification {
  readonly receiver: string;
  readonly group_key: string;
  readonly group_labels: Readonly<Record<string, string>>;
  readonly status: 'firing' | 'resolved';
  readonly alerts: readonly Alert[];
  readonly time: number;
}

const iso = (ms: number): string => new Date(ms).toISOString();
const ZERO_TIME = '0001-01-01T00:00:00Z';

function common(maps: readonly Readonly<Record<string, string>>[]): Record<string, string> {
  const first = maps[0];
  if (first === undefined) return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(first)) if (maps.every((m) => m[k] === v)) out[k] = v;
  return out;
}

/** The Alertmanager webhook payload (version 4), as `webhook_config` receivers get it. */
export function alertmanagerPayload(n: Notification, externalUrl: string): Record<string, unknown> {
  return {
    version: '4',
    groupKey: n.group_key,
    truncatedAlerts: 0,
    status: n.status,
    receiver: n.receiver,
    groupLabels: { ...n.group_labels },
    commonLabels: common(n.alerts.map((a) => a.labels)),
    commonAnnotations: common(n.alerts.map((a) => a.annotations)),
    externalURL: externalUrl,
    alerts: n.alerts.map((a) => ({
      status: isActive(a) ? 'firing' : 'resolved',
      labels: { ...a.labels },
      annotations: { ...a.annotations },
      startsAt: iso(a.startsAt),
      endsAt: isActive(a) ? ZERO_TIME : iso(Number.isFinite(a.endsAt) ? a.endsAt : a.time),
      generatorURL: `${externalUrl}/alerts/${encodeURIComponent(a.fingerprint)}`,
      fingerprint: a.fingerprint,
    })),
  };
}

/** tidewatch's own JSON: the group and each alert with its full context. */
export function jsonPayload(n: Notification): Record<string, unknown> {
  return {
    receiver: n.receiver,
    group_key: n.group_key,
    group_labels: n.group_labels,
    status: n.status,
    time: iso(n.time),
    alerts: n.alerts.map((a) => ({ ...toRecord(a), annotations: a.annotations, context: a.context, flapping: a.flapping, acknowledged: a.acknowledged ?? null })),
  };
}

/** The event a notification travels as, from the rules transform to notification sinks. */
export function notificationEvent(n: Notification): LogRecord {
  return {
    kind: 'log',
    time: n.time,
    observed_time: n.time,
    severity_number: Severity.INFO,
    severity_text: 'INFO',
    body: `${n.status}: ${n.alerts.length} alert(s) in ${n.group_key}`,
    attributes: { 'event.name': NOTIFICATION_EVENT, 'tidewatch.notification': jsonPayload(n) as unknown as AttrValue, 'tidewatch.notification.alertmanager': alertmanagerPayload(n, '') as unknown as AttrValue },
    resource: {},
  };
}
