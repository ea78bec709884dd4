/** Publishing helpers for dashboard tests: records on a bus, as the producers will send them. */
import { encodeEvents } from '../../core/codec.js';
import type { LogRecord, SumPoint } from '../../core/model.js';
import type { Bus } from '../../core/transports/bus.js';
import { encodeAlert, encodeHeartbeat, encodePattern, type AgentHeartbeat, type AlertRecord, type PatternRecord } from '../../core/wire.js';

export function linesPoint(time: number, value: number, labels: Record<string, string> = { severity: 'info' }, name = 'log.records'): SumPoint {
  return { kind: 'metric', type: 'sum', name, temporality: 'delta', monotonic: true, time, start_time: time - 1000, value, attributes: labels, resource: {} };
}

export async function publishPoints(bus: Bus, points: SumPoint[], topic = 'tidewatch.rollups'): Promise<void> {
  await bus.publish(topic, encodeEvents(points));
}

export function alert(over: Partial<AlertRecord> = {}): AlertRecord {
  const t = over.time ?? Date.now();
  return { alert_id: 'a1', rule: 'HighErrorRate', state: 'firing', severity: 'critical', labels: { service: 'shop' }, started_at: t, time: t, value: 42, summary: 'error ratio above 5 %', ...over };
}

export async function publishAlert(bus: Bus, a: AlertRecord): Promise<void> {
  await bus.publish('tidewatch.alerts', [encodeAlert(a)]);
}

export function pattern(over: Partial<PatternRecord> = {}): PatternRecord {
  const t = over.last_seen ?? Date.now();
  return { pattern_id: 'p1', template: 'GET /api/<*> 200 <*>ms', count: 10, first_seen: t - 60_000, last_seen: t, sample: 'GET /api/cart 200 12ms', labels: {}, ...over };
}

export async function publishPattern(bus: Bus, p: PatternRecord): Promise<void> {
  await bus.publish('tidewatch.patterns', [encodePattern(p)]);
}

export function heartbeat(over: Partial<AgentHeartbeat> = {}): AgentHeartbeat {
  const t = over.time ?? Date.now();
  return { agent_id: 'agent-1', host: 'web-1', version: '0.1.0', started_at: t - 60_000, time: t, interval_ms: 1000, streams: 2, stopping: false, ...over };
}

export async function publishHeartbeat(bus: Bus, h: AgentHeartbeat): Promise<void> {
  await bus.publish('tidewatch.agents', [encodeHeartbeat(h)]);
}

export function logLine(body: string, over: Partial<LogRecord> = {}): LogRecord {
  const t = over.time ?? Date.now();
  return { kind: 'log', time: t, observed_time: t, severity_number: 17, severity_text: 'error', body, attributes: {}, resource: { 'host.name': 'web-1' }, ...over };
}

export async function publishTail(bus: Bus, lines: LogRecord[]): Promise<void> {
  await bus.publish('tidewatch.tail', encodeEvents(lines));
}
