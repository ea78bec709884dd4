/**
 * `detect_anomalies`: the rules stage. One transform holds every rule of a pipeline (threshold,
 * rate, increase, ratio, slo, absence, anomaly, new_pattern, pattern_spike; collector/rules/schema.ts),
 * the alert lifecycle, and Alertmanager-style notification policy (grouping, inhibition,
 * silences, acknowledgement). A transform, not a sink, because its output is data for the rest of
 * the pipeline: downstream sinks choose where alerts go (the webhook sink, the alerts topic, a
 * file), and the same rules run in `tidewatch up` and in a scaled-out rules stage.
 *
 * `process` feeds the engine and passes its input on (`pass_through`). `flush(now)` evaluates at
 * most once per `evaluation_interval_ms` and returns:
 *   - one alert event per state change (LogRecord, `event.name: tidewatch.alert`, carrying the
 *     AlertRecord of core/wire.ts and the alert's context: series, value, baseline, score,
 *     sample log lines); `recordOfEvent` in collector/alerts/alert.ts reads it back;
 *   - one notification event per group due (`event.name: tidewatch.alert.notification`, carrying
 *     tidewatch's JSON and the Alertmanager payload), which the webhook sink posts.
 * Every state change is also appended to the alert history file under the data directory.
 */
import { join } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import type { ComponentContext, Transform, TransformFactory } from '../../core/component.js';
import { TidewatchError } from '../../core/errors.js';
import type { Event } from '../../core/model.js';
import { alertEvent, notificationEvent, toRecord, type Alert } from '../alerts/alert.js';
import { AlertHistory } from '../alerts/history.js';
import { DEFAULT_NOTIFIER, Notifier, type Silence } from '../alerts/notifier.js';
import { RuleEngine } from '../rules/engine.js';
import { parseMatchers } from '../rules/matchers.js';
import { RuleSchema, type RuleSpec } from '../rules/schema.js';

const RFC3339 = '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?(Z|[+-]\\d{2}:\\d{2})$';
const Matchers = (what: string) => Type.Array(Type.String({ minLength: 3 }), { default: [], description: what });

export const schema = Type.Object(
  {
    rules: Type.Array(RuleSchema, { default: [], description: 'The rules; see README "Rules and alerts" and configs/collector-rules.yaml for one of each kind.' }),
    evaluation_interval_ms: Type.Integer({ minimum: 100, maximum: 3_600_000, default: 1000, description: 'How often every rule is judged (Prometheus\' evaluation_interval); 1 s matches the dashboard\'s resolution.' }),
    max_series_per_rule: Type.Integer({ minimum: 1, maximum: 10_000_000, default: 100_000, description: 'Series (or groups) one rule tracks; beyond it data is dropped and counted (tidewatch_rules_series_overflow_total).' }),
    max_alerts_per_rule: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 10_000, description: 'Alert instances one rule holds; beyond it new alerts are dropped and counted.' }),
    pass_through: Type.Boolean({ default: true, description: 'Pass the input events on after judging them (false: emit only alert and notification events).' }),
    notify: Type.Object(
      {
        receiver: Type.String({ default: 'default', description: 'Receiver name in notifications (Alertmanager\'s `receiver`).' }),
        group_by: Type.Array(Type.String(), { default: ['alertname'], description: 'Labels that group alerts into one notification.' }),
        group_wait_ms: Type.Integer({ minimum: 0, default: 30_000, description: 'Wait before a new group\'s first notification, to batch alerts that fire together.' }),
        group_interval_ms: Type.Integer({ minimum: 0, default: 300_000, description: 'Wait before notifying a group again about new or resolved alerts.' }),
        repeat_interval_ms: Type.Integer({ minimum: 0, default: 14_400_000, description: 'Re-notify a group whose alerts still fire (unless all are acknowledged).' }),
      },
      { additionalProperties: false, default: {} },
    ),
    inhibit_rules: Type.Array(
      Type.Object(
        {
          source_matchers: Matchers('Alerts that inhibit, while firing.'),
          target_matchers: Matchers('Alerts that are muted.'),
          equal: Type.Array(Type.String(), { default: [], description: 'Labels that must be equal in source and target.' }),
        },
        { additionalProperties: false },
      ),
      { default: [], description: 'Alertmanager inhibit_rules: e.g. host_down mutes every other alert of that host.' },
    ),
    silences: Type.Array(
      Type.Object(
        {
          matchers: Matchers('Alerts the silence mutes.'),
          starts_at: Type.String({ pattern: RFC3339, description: 'RFC 3339 start of the maintenance window.' }),
          ends_at: Type.String({ pattern: RFC3339, description: 'RFC 3339 expiry: after it, the silence is gone.' }),
          created_by: Type.String({ default: 'config' }),
          comment: Type.String({ default: '' }),
        },
        { additionalProperties: false },
      ),
      { default: [], description: 'Silences known in advance (maintenance windows); more can be added at run time.' },
    ),
    history: Type.Boolean({ default: true, description: 'Append every alert state change to <data_dir>/collector/<name>/alerts.jsonl.' }),
    history_max_bytes: Type.Integer({ minimum: 1024, default: 67_108_864, description: 'The history file rotates (one old generation, .1) past this size.' }),
  },
  { additionalProperties: false },
);
export type DetectAnomaliesConfig = Static<typeof schema>;

export class DetectAnomalies implements Transform {
  readonly engine: RuleEngine;
  readonly notifier: Notifier;
  readonly history: AlertHistory | undefined;
  private readonly interval: number;
  private readonly passThrough: boolean;
  private lastEval = Number.NEGATIVE_INFINITY;
  private reported = { evaluations: 0, transitions: 0, notifications: 0 };
  private silenceSeq = 0;

  constructor(
    config: Partial<DetectAnomaliesConfig>,
    private readonly ctx: ComponentContext,
  ) {
    const rules = (config.rules ?? []) as RuleSpec[];
    const names = new Set<string>();
    for (const r of rules) {
      if (names.has(r.name)) throw new TidewatchError('TW_CONFIG_SCHEMA', `transforms.${ctx.name}: two rules are named ${r.name}`);
      names.add(r.name);
    }
    try {
      this.engine = new RuleEngine(rules, { maxSeriesPerRule: config.max_series_per_rule ?? 100_000, maxAlertsPerRule: config.max_alerts_per_rule ?? 10_000 });
    } catch (err) {
      if (err instanceof TidewatchError) throw err;
      throw new TidewatchError('TW_CONFIG_SCHEMA', `transforms.${ctx.name}: ${(err as Error).message}`);
    }
    const n = config.notify;
    this.notifier = new Notifier({
      ...DEFAULT_NOTIFIER,
      receiver: n?.receiver ?? 'default',
      group_by: n?.group_by ?? ['alertname'],
      group_wait_ms: n?.group_wait_ms ?? 30_000,
      group_interval_ms: n?.group_interval_ms ?? 300_000,
      repeat_interval_ms: n?.repeat_interval_ms ?? 14_400_000,
      inhibit: (config.inhibit_rules ?? []).map((r, i) => ({
        source: parseMatchers(r.source_matchers, `inhibit_rules[${i}].source_matchers`),
        target: parseMatchers(r.target_matchers, `inhibit_rules[${i}].target_matchers`),
        equal: r.equal ?? [],
      })),
    });
    for (const [i, s] of (config.silences ?? []).entries()) {
      this.notifier.addSilence({
        id: `config-${i}`,
        matchers: parseMatchers(s.matchers, `silences[${i}]`),
        startsAt: Date.parse(s.starts_at),
        endsAt: Date.parse(s.ends_at),
        createdBy: s.created_by ?? 'config',
        comment: s.comment ?? '',
      });
    }
    this.interval = config.evaluation_interval_ms ?? 1000;
    this.passThrough = config.pass_through ?? true;
    this.history = config.history === false ? undefined : new AlertHistory(join(ctx.dataDir, 'collector', ctx.name, 'alerts.jsonl'), config.history_max_bytes ?? 67_108_864);
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {
    await this.history?.drain();
  }

  process(events: Event[], _now: number): Event[] {
    this.engine.ingest(events);
    return this.passThrough ? events : [];
  }

  flush(now: number, final: boolean): Event[] {
    if (!final && now - this.lastEval < this.interval) return [];
    this.lastEval = now;
    // Wall time of the evaluation itself (telemetry only; the verdicts depend on `now` alone).
    const t0 = performance.now();
    const r = this.engine.evaluate(now);
    const evalMs = performance.now() - t0;
    const out: Event[] = [];
    for (const { alert, transition } of r.transitions) {
      // Pending is internal: nothing is notified or recorded until an alert fires.
      if (transition.to === 'pending' || (transition.from === 'pending' && transition.to === 'inactive')) continue;
      out.push(alertEvent(alert));
      this.history?.append({ ...toRecord(alert), from: transition.from, to: transition.to, context: alert.context, annotations: alert.annotations });
      this.notifier.update(alert, now);
    }
    for (const a of r.active) if (a.state !== 'pending') this.notifier.update(a, now);
    for (const n of this.notifier.tick(now)) out.push(notificationEvent(n));
    this.report(r.transitions.length, r.judged, evalMs);
    return out;
  }

  /** Active alerts (pending included), for the dashboard and the API. */
  alerts(): Alert[] {
    return this.engine.activeAlerts();
  }

  acknowledge(fingerprint: string, by: string, now: number): boolean {
    return this.notifier.acknowledge(fingerprint, by, now);
  }

  /** Adds a silence (a maintenance window) from matcher texts; returns its id. */
  silence(matchers: readonly string[], startsAt: number, endsAt: number, createdBy: string, comment = ''): string {
    const id = `s${++this.silenceSeq}`;
    const s: Silence = { id, matchers: parseMatchers(matchers, 'silence'), startsAt, endsAt, createdBy, comment };
    if (!this.notifier.addSilence(s)) throw new TidewatchError('TW_QUEUE_FULL', 'too many silences');
    return id;
  }

  private report(transitions: number, judged: number, evalMs: number): void {
    const t = this.ctx.telemetry;
    const labels = { component: this.ctx.name };
    t.add('tidewatch_rules_evaluations_total', labels);
    // Time spent evaluating, as a counter (like process_cpu_seconds_total; /metrics adds no
    // second suffix): rate(this) / rate(tidewatch_rules_evaluations_total) is the mean.
    t.add('tidewatch_rules_eval_seconds_total', labels, evalMs / 1000);
    t.set('tidewatch_rules_last_eval_ms', labels, evalMs);
    if (transitions > 0) t.add('tidewatch_alert_transitions_total', labels, transitions);
    const c = this.engine.counters;
    t.set('tidewatch_rules_series_judged', labels, judged);
    t.set('tidewatch_rules_series_overflow_total', labels, c.seriesOverflow);
    t.set('tidewatch_rules_alert_overflow_total', labels, c.alertOverflow);
    t.set('tidewatch_rules_too_old_total', labels, c.tooOld);
    t.set('tidewatch_alerts_active', labels, this.engine.activeAlerts().length);
    const nc = this.notifier.counters;
    if (nc.notifications > this.reported.notifications) t.add('tidewatch_alert_notifications_total', labels, nc.notifications - this.reported.notifications);
    this.reported.notifications = nc.notifications;
    if (this.history !== undefined) t.set('tidewatch_alert_history_dropped_total', labels, this.history.dropped);
  }
}

export const detectAnomaliesFactory: TransformFactory<typeof schema> = {
  role: 'transform',
  type: 'detect_anomalies',
  description: 'Rules over many series (threshold, rate, increase, ratio, SLO burn rate, absence, anomaly, new log pattern, pattern spike) with the alert lifecycle, grouping, inhibition and silences; emits alert and notification events.',
  schema,
  create: (config, ctx) => new DetectAnomalies(config, ctx),
};
