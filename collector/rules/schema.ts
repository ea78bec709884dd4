/**
 * The rule language (YAML), as TypeBox schemas with defaults and descriptions; the configuration
 * reference (docs/configuration.md) is generated from them. One rule selects many series (metric
 * name + label matchers) and judges them per series, or per group with `group_by`. Kinds:
 *
 *   threshold      aggregate of each series over `range_ms` (or its last value) compared with `threshold`
 *   rate, increase per-second rate / increase of a counter over `range_ms`, compared with `threshold`
 *   ratio          increase(numerator) / increase(denominator) over `range_ms`, e.g. errors / total
 *   slo            multiwindow, multi-burn-rate SLO alerts (Google SRE workbook, chapter 5)
 *   absence        no data from a series (or group) for `absent_for_ms`: a host or job went silent
 *   anomaly        the learned-baseline detector (collector/rules/anomaly.ts) per series, per `step_ms`
 *   new_pattern    a log pattern never seen before, at severity >= `min_severity`
 *   pattern_spike  a log pattern's rate per `step_ms` spikes above its own learned baseline
 */
import { Type, type Static } from '@sinclair/typebox';

const Matchers = Type.Array(Type.String({ minLength: 3 }), {
  default: [],
  description: 'Label matchers, Prometheus syntax: name="v", name!="v", name=~"regex", name!~"regex" (regexes anchored).',
});

const selector = (description: string) =>
  Type.Object(
    {
      metric: Type.String({ minLength: 1, description: 'Metric name of the series to select.' }),
      matchers: Matchers,
    },
    { additionalProperties: false, description },
  );
export const SelectorSchema = selector('A metric name and label matchers.');
export type Selector = Static<typeof SelectorSchema>;

export const BurnWindowSchema = Type.Object(
  {
    long_ms: Type.Integer({ minimum: 1000, description: 'Long window: the burn must be sustained over it (significance).' }),
    short_ms: Type.Integer({ minimum: 1000, description: 'Short window: the burn must still be happening (fast reset once it stops).' }),
    burn_rate: Type.Number({ exclusiveMinimum: 0, description: 'Error-budget burn rate both windows must exceed (1 = exactly on budget over the SLO period).' }),
    severity: Type.Union([Type.Literal('info'), Type.Literal('warning'), Type.Literal('critical')], { default: 'critical', description: 'critical pages, warning opens a ticket (the workbook\'s split).' }),
  },
  { additionalProperties: false },
);
export type BurnWindow = Static<typeof BurnWindowSchema>;

/** Google SRE workbook, "Alerting on SLOs", table 5-8: page on 2 % and 5 % budget spent, ticket on 10 %. */
export const SRE_WORKBOOK_WINDOWS: readonly BurnWindow[] = [
  { long_ms: 3_600_000, short_ms: 300_000, burn_rate: 14.4, severity: 'critical' },
  { long_ms: 21_600_000, short_ms: 1_800_000, burn_rate: 6, severity: 'critical' },
  { long_ms: 259_200_000, short_ms: 21_600_000, burn_rate: 1, severity: 'warning' },
];

export const RULE_KINDS = ['threshold', 'rate', 'increase', 'ratio', 'slo', 'absence', 'anomaly', 'new_pattern', 'pattern_spike'] as const;
export type RuleKind = (typeof RULE_KINDS)[number];

export const RuleSchema = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z_][\\w.:-]*$', description: 'Rule name: the alerts\' `alertname` label and the first part of their fingerprint.' }),
    kind: Type.Union(RULE_KINDS.map((k) => Type.Literal(k)), { description: 'threshold, rate, increase, ratio, slo, absence, anomaly, new_pattern or pattern_spike.' }),
    metric: Type.Optional(Type.String({ minLength: 1, description: 'Metric name of the series the rule judges (threshold, rate, increase, absence, anomaly).' })),
    matchers: Matchers,
    group_by: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), { description: 'Judge groups of series (their values combined by group_aggregate) instead of each series; the alert carries only these labels. ratio and slo without it judge all matching series as one.' }),
    ),
    group_aggregate: Type.Union([Type.Literal('max'), Type.Literal('min'), Type.Literal('sum'), Type.Literal('avg')], {
      default: 'max',
      description: 'How a group combines its series\' values (threshold, anomaly); rate and increase always sum.',
    }),
    aggregate: Type.Union(['last', 'avg', 'min', 'max', 'sum', 'count', 'rate'].map((k) => Type.Literal(k)), {
      default: 'last',
      description: 'threshold: the value of a series over range_ms; anomaly: the value of each step. For quantiles, judge the rollup\'s <metric>.p99 series.',
    }),
    range_ms: Type.Integer({ minimum: 0, default: 0, description: 'Window the value is taken over (threshold: 0 = the latest point; rate, increase, ratio: required, e.g. 300000).' }),
    buckets: Type.Integer({ minimum: 2, maximum: 1000, default: 12, description: 'Slots per range window: memory per series is fixed, and the window edge is exact to range_ms / buckets.' }),
    op: Type.Union(['>', '>=', '<', '<=', '==', '!='].map((k) => Type.Literal(k)), { default: '>', description: 'Comparison of value with threshold.' }),
    threshold: Type.Number({ default: 0, description: 'Value the comparison is against (ratio: a fraction, 0.05 = 5 %).' }),
    numerator: Type.Optional(selector('ratio: the counted part (errors); slo: the bad events.')),
    denominator: Type.Optional(selector('ratio, slo: all events (the total).')),
    objective: Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1, default: 0.999, description: 'slo: the target good fraction; the error budget is 1 - objective. numerator selects bad events, denominator all events.' }),
    windows: Type.Array(BurnWindowSchema, { default: SRE_WORKBOOK_WINDOWS.map((w) => ({ ...w })), description: 'slo: the burn-rate window pairs (default: the SRE workbook\'s 14.4x 1h/5m, 6x 6h/30m, 1x 3d/6h); one alert per pair, labelled slo_window.' }),
    absent_for_ms: Type.Integer({ minimum: 1000, default: 300_000, description: 'absence: silence that counts as absent.' }),
    forget_after_ms: Type.Integer({ minimum: 1000, default: 86_400_000, description: 'absence: a series silent this long is forgotten (its alert resolves), so decommissioned hosts do not alert forever.' }),
    step_ms: Type.Integer({ minimum: 1000, default: 60_000, description: 'anomaly, pattern_spike: each series is judged once per step, on the step\'s aggregate (the detector learns the sampling interval from it).' }),
    sensitivity: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'anomaly, pattern_spike: the detector\'s sensitivity (higher fires on smaller deviations); default the detector\'s own.' })),
    warmup_points: Type.Optional(Type.Integer({ minimum: 0, description: 'anomaly, pattern_spike: steps before any alert may fire; default the detector\'s own.' })),
    min_severity: Type.Integer({ minimum: 0, maximum: 24, default: 13, description: 'new_pattern: lowest OpenTelemetry severity number considered (13 = WARN).' }),
    learn_ms: Type.Integer({ minimum: 0, default: 3_600_000, description: 'new_pattern: patterns first seen within this long of the first log are learnt silently, so a restart does not alert on everything.' }),
    new_for_ms: Type.Integer({ minimum: 1000, default: 3_600_000, description: 'new_pattern: how long a pattern counts as new after its first sighting.' }),
    active_ms: Type.Integer({ minimum: 1000, default: 600_000, description: 'new_pattern: the alert stays firing while the new pattern recurred within this long.' }),
    samples: Type.Integer({ minimum: 0, maximum: 20, default: 3, description: 'new_pattern, pattern_spike: sample log lines kept as the alert\'s context.' }),
    stale_ms: Type.Integer({ minimum: 1000, default: 300_000, description: 'A series without data this long (beyond its range) is stale: not judged, and its alert goes to no_data_state.' }),
    for_ms: Type.Integer({ minimum: 0, default: 0, description: 'The condition must hold this long (pending) before the alert fires.' }),
    keep_firing_for_ms: Type.Integer({ minimum: 0, default: 0, description: 'A firing alert keeps firing this long after the condition clears (absorbs brief dips).' }),
    no_data_state: Type.Union([Type.Literal('nodata'), Type.Literal('alerting'), Type.Literal('ok')], { default: 'nodata', description: 'When a judged group loses its data: a NoData alert, firing, or resolved.' }),
    error_state: Type.Union([Type.Literal('error'), Type.Literal('alerting'), Type.Literal('ok')], { default: 'error', description: 'When evaluation fails or yields a non-finite value: an Error alert, firing, or resolved.' }),
    flap_max_changes: Type.Integer({ minimum: 0, default: 4, description: 'Firing/resolved changes within flap_window_ms that mark an alert flapping (0 = off); a flapping alert resolves only after a quiet flap window.' }),
    flap_window_ms: Type.Integer({ minimum: 1000, default: 600_000, description: 'Window of flap detection, and the quiet time a flapping alert needs to resolve.' }),
    severity: Type.Union([Type.Literal('info'), Type.Literal('warning'), Type.Literal('critical')], { default: 'warning', description: 'Severity of the alerts (slo: per window pair).' }),
    summary: Type.Optional(Type.String({ description: 'Summary template: {{ $value }}, {{ $threshold }}, {{ $labels.NAME }}.' })),
    labels: Type.Record(Type.String(), Type.String(), { default: {}, description: 'Extra labels on every alert of the rule (team, page).' }),
    annotations: Type.Record(Type.String(), Type.String(), { default: {}, description: 'Extra annotations (runbook_url, description).' }),
  },
  { additionalProperties: false },
);
export type RuleSpec = Static<typeof RuleSchema>;
