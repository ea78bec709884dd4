import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { DetectAnomalies, schema, type DetectAnomaliesConfig } from '../../../collector/transforms/detect-anomalies.js';
import { NOTIFICATION_EVENT, recordOfEvent } from '../../../collector/alerts/alert.js';
import type { ComponentContext } from '../../../core/component.js';
import { silentLogger } from '../../../core/log.js';
import type { Event, LogRecord } from '../../../core/model.js';
import { MemoryTelemetry } from '../../../core/telemetry.js';

const ctx = (telemetry = new MemoryTelemetry()): ComponentContext => ({ name: 'rules', dataDir: '/nonexistent', telemetry, log: silentLogger, now: () => 0, agentId: 'a', hostName: 'h', bus: undefined });
const cfg = (o: Record<string, unknown>) => Value.Default(schema, structuredClone(o)) as DetectAnomaliesConfig;
const gauge = (name: string, host: string, time: number, value: number): Event => ({ kind: 'metric', type: 'gauge', name, time, value, attributes: {}, resource: { 'host.name': host } });
const errLog = (time: number, pid: string, body: string): LogRecord => ({ kind: 'log', time, observed_time: time, severity_number: 17, severity_text: 'ERROR', body, attributes: { 'tidewatch.pattern.id': pid, 'tidewatch.pattern.template': 'disk <*> full' }, resource: { 'service.name': 'shop' } });

const kinds = (es: Event[]) => es.map((e) => (e.kind === 'log' ? String(e.attributes['event.name']) : e.name));

describe('detect_anomalies transform (fake clock)', () => {
  it('evaluates once per interval, emits alert events carrying AlertRecords, then a grouped notification', () => {
    const t = new DetectAnomalies(cfg({ history: false, evaluation_interval_ms: 1000, notify: { group_wait_ms: 2000 }, rules: [{ name: 'hot', kind: 'threshold', metric: 'temp', threshold: 80, group_by: ['host.name'] }] }), ctx());
    const input = [gauge('temp', 'a', 0, 90), gauge('temp', 'b', 0, 95)];
    expect(t.process(input, 0)).toBe(input);
    const first = t.flush(0, false);
    expect(kinds(first)).toEqual(['tidewatch.alert', 'tidewatch.alert']);
    expect(first.map((e) => recordOfEvent(e as LogRecord)!.alert_id)).toEqual(['hot{host.name="a"}', 'hot{host.name="b"}']);
    expect(t.flush(500, false)).toEqual([]); // within the interval
    expect(t.flush(1000, false)).toEqual([]); // still firing, nothing new; group_wait not over
    const n = t.flush(2000, false);
    expect(kinds(n)).toEqual([NOTIFICATION_EVENT]);
    const payload = (n[0] as LogRecord).attributes['tidewatch.notification.alertmanager'] as { alerts: unknown[]; status: string };
    expect([payload.status, payload.alerts.length]).toEqual(['firing', 2]);
  });

  it('a silenced host is not notified; an acknowledged alert is not repeated; its resolution is', () => {
    const t = new DetectAnomalies(cfg({ history: false, notify: { group_wait_ms: 0, group_interval_ms: 0, repeat_interval_ms: 5000 }, rules: [{ name: 'hot', kind: 'threshold', metric: 'temp', threshold: 80 }] }), ctx());
    t.silence(['host.name="b"'], 0, 60_000, 'ops', 'maintenance');
    t.process([gauge('temp', 'a', 0, 90), gauge('temp', 'b', 0, 95)], 0);
    const out = t.flush(0, false);
    const notified = out.filter((e) => kinds([e])[0] === NOTIFICATION_EVENT);
    const alerts = ((notified[0] as LogRecord).attributes['tidewatch.notification'] as { alerts: { labels: Record<string, string> }[] }).alerts;
    expect(alerts.map((a) => a.labels['host.name'])).toEqual(['a']);
    expect(t.acknowledge('hot{host.name="a"}', 'alice', 1)).toBe(true);
    t.process([gauge('temp', 'a', 6000, 90)], 6000);
    expect(kinds(t.flush(6000, false))).toEqual([]);
    t.process([gauge('temp', 'a', 7000, 10)], 7000);
    const res = t.flush(7000, false);
    expect(kinds(res)).toEqual(['tidewatch.alert', NOTIFICATION_EVENT]);
    expect(recordOfEvent(res[0] as LogRecord)!.state).toBe('resolved');
  });

  it('a new error pattern alerts with its template and sample lines in the context', () => {
    const t = new DetectAnomalies(cfg({ history: false, pass_through: false, rules: [{ name: 'new_errors', kind: 'new_pattern', learn_ms: 0, group_by: ['service.name'] }] }), ctx());
    expect(t.process([errLog(10, 'p9', 'disk /dev/sda1 full'), errLog(11, 'p9', 'disk /dev/sdb1 full')], 11)).toEqual([]);
    const [e] = t.flush(20, false);
    const ctxAttr = (e as LogRecord).attributes['tidewatch.alert.context'] as { samples: string[]; template: string };
    expect(ctxAttr.samples).toEqual(['disk /dev/sda1 full', 'disk /dev/sdb1 full']);
    expect(ctxAttr.template).toBe('disk <*> full');
    expect(recordOfEvent(e as LogRecord)!.labels).toMatchObject({ pattern_id: 'p9', 'service.name': 'shop', alertname: 'new_errors', alertstate: 'firing' });
    expect(t.alerts().map((a) => a.fingerprint)).toEqual(['new_errors{pattern_id="p9",service.name="shop"}']);
  });

  it('pending alerts stay internal: nothing is emitted until `for` has passed', () => {
    const t = new DetectAnomalies(cfg({ history: false, rules: [{ name: 'hot', kind: 'threshold', metric: 'temp', threshold: 80, for_ms: 3000 }] }), ctx());
    const step = (at: number) => {
      t.process([gauge('temp', 'a', at, 90)], at);
      return kinds(t.flush(at, false));
    };
    expect([step(0), step(1000), step(2000), step(3000)]).toEqual([[], [], [], ['tidewatch.alert']]);
  });
});
