/**
 * Events ⇄ transport messages, in wire format v1 (core/wire.ts, docs/wire-format.md). Sinks
 * that publish (bus, kafka) and sources that consume use these two functions, so the in-process
 * bus and Kafka carry the same bytes.
 */
import type { Event, LogRecord, MetricPoint } from './model.js';
import type { InMessage, OutMessage } from './transport.js';
import { decodeMessage, encodeLogBatch, encodeMetricBatch } from './wire.js';

/**
 * Encodes a batch: log records grouped into one message per stream (key `<agent>/<stream>`,
 * order kept), metric points into metric batches. The caller keeps ownership of `events`.
 */
export function encodeEvents(events: readonly Event[], opts: { maxBytes?: number } = {}): OutMessage[] {
  const logs: LogRecord[] = [];
  const metrics: MetricPoint[] = [];
  for (const e of events) {
    if (e.kind === 'log') logs.push(e);
    else metrics.push(e);
  }
  const out: OutMessage[] = [];
  if (logs.length > 0) out.push(...encodeLogBatch(logs, opts));
  if (metrics.length > 0) out.push(...encodeMetricBatch(metrics, opts));
  return out;
}

/**
 * Decodes the events of one message. Throws TidewatchError TW_WIRE_DECODE / TW_WIRE_VERSION
 * for anything else (the caller counts and drops it); records of other wire types (rollups,
 * alerts, ...) are not events and give an empty list.
 */
export function decodeEvents(msg: Pick<InMessage, 'headers' | 'value'>): Event[] {
  const d = decodeMessage(msg);
  return d.type === 'logs' || d.type === 'metrics' ? d.records : [];
}
