/**
 * The collector's own telemetry under the names operators alert on (README "Self-telemetry"):
 * consumer lag, late events, rule evaluation time. Transaction outcomes and deduplicated lines
 * need a broker (ingest stage); their counting sits next to the existing ingest counters.
 */
import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { IngestCore } from '../../collector/ingest/core.js';
import { LagGauge } from '../../collector/ingest/stage.js';
import { DetectAnomalies, schema, type DetectAnomaliesConfig } from '../../collector/transforms/detect-anomalies.js';
import { Rollup } from '../../collector/transforms/rollup.js';
import type { ComponentContext } from '../../core/component.js';
import { encodeEvents } from '../../core/codec.js';
import { silentLogger } from '../../core/log.js';
import type { Event } from '../../core/model.js';
import { MemoryTelemetry } from '../../core/telemetry.js';
import type { InMessage } from '../../core/transport.js';
import { lines } from './kafka-support.js';

const ctx = (telemetry: MemoryTelemetry, name: string): ComponentContext => ({ name, dataDir: '/nonexistent', telemetry, log: silentLogger, now: () => 0, agentId: 'a', hostName: 'h', bus: undefined });

describe('collector self-telemetry', () => {
  it('tidewatch_kafka_consumer_lag: high-water mark minus the committed offset, at most once a second', () => {
    const t = new MemoryTelemetry();
    const labels = { component: 'kafka', topic: 'tidewatch.logs', partition: '3' };
    const lag = new LagGauge(t, labels);
    lag.report(0n, 0); // no batch seen yet: nothing to report
    expect(t.snapshot()).toEqual([]);
    lag.highWatermark('120');
    lag.report(20n, 1_000);
    expect(t.value('tidewatch_kafka_consumer_lag', labels)).toBe(100);
    lag.report(120n, 1_500); // within the second: not updated
    expect(t.value('tidewatch_kafka_consumer_lag', labels)).toBe(100);
    lag.report(120n, 2_000); // caught up
    expect(t.value('tidewatch_kafka_consumer_lag', labels)).toBe(0);
  });

  it('tidewatch_window_late_events_total counts what came after its window closed (rollup)', () => {
    const t = new MemoryTelemetry();
    const r = new Rollup({ lateness_ms: 0 }, ctx(t, 'r'));
    const log = (time: number): Event => ({ kind: 'log', time, observed_time: time, severity_number: 9, severity_text: 'INFO', body: 'x', attributes: {}, resource: {} });
    r.process([log(1_000)], 0);
    r.flush(2_000, false);
    expect(t.value('tidewatch_window_late_events_total', { component: 'r' })).toBe(0);
    r.process([log(1_000), log(1_200)], 0);
    r.flush(2_100, false);
    expect(t.value('tidewatch_window_late_events_total', { component: 'r' })).toBe(2);
  });

  it('the ingest core exposes its late lines for tidewatch_window_late_events_total', () => {
    let offset = 0;
    const msgs = (events: Event[]): InMessage[] =>
      encodeEvents(events).map((m) => ({ topic: 't', partition: 0, offset: String(offset++), key: null, value: m.value, headers: m.headers ?? {}, timestamp: 0 }));
    const c = new IngestCore({ sourceInstance: 'i1', latenessMs: 1000, maxWindows: 1000, maxStreams: 100, state: new Map() });
    c.filter(msgs(lines('a', 's', 0, 0, 2, 1500))).apply();
    c.filter(msgs(lines('a', 's', 0, 20, 1, 4200))).apply();
    c.snapshot(); // event time 4.2 s: the window [1 s, 2 s) is closed
    expect(c.late).toBe(0);
    c.filter(msgs(lines('a', 's', 0, 30, 3, 1500))).apply();
    expect(c.late).toBe(3);
  });

  it('tidewatch_rules_eval_seconds_total (with tidewatch_rules_evaluations_total) and tidewatch_rules_last_eval_ms per evaluation', () => {
    const t = new MemoryTelemetry();
    const cfg = Value.Default(schema, { history: false, evaluation_interval_ms: 1000, rules: [{ name: 'hot', kind: 'threshold', metric: 'temp', threshold: 80 }] }) as DetectAnomaliesConfig;
    const d = new DetectAnomalies(cfg, ctx(t, 'rules'));
    d.process([{ kind: 'metric', type: 'gauge', name: 'temp', time: 0, value: 90, attributes: {}, resource: {} }], 0);
    d.flush(0, false);
    d.flush(500, false); // within the interval: no evaluation
    d.flush(1_000, false);
    const labels = { component: 'rules' };
    expect(t.value('tidewatch_rules_evaluations_total', labels)).toBe(2);
    const sum = t.value('tidewatch_rules_eval_seconds_total', labels);
    expect(sum).toBeGreaterThan(0);
    expect(sum).toBeLessThan(5);
    expect(t.value('tidewatch_rules_last_eval_ms', labels)).toBeGreaterThan(0);
    expect(t.snapshot().find((s) => s.name === 'tidewatch_rules_last_eval_ms')?.kind).toBe('gauge');
  });
});
