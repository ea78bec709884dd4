/**
 * Feeds the dashboard's store from a transport topic (tidewatch.rollups): decodes each message
 * with the wire codec and upserts its metric points. The dashboard is not a consumer group member
 * that shares work (DESIGN.md): it reads every message of the topics it shows, under a group id
 * of its own.
 *
 * On Kafka the rollups topic carries `rollups` wire records (RollupPartial) from the ingest
 * stage's instances rather than metric events: they are merged per (series, window) by the
 * ingest stage's own merge rule (collector/ingest/merge.ts) and the window's merged sum is
 * upserted as a delta sum ending at the window's end, as the embedded rollup emits it.
 *
 * Bad input is counted, never thrown (a handler rejection would make the transport redeliver
 * the same bad message forever): undecodable messages by error code, non-metric events, and
 * points the store refused, by reason.
 */
import { PartialMerger } from '../collector/ingest/merge.js';
import { errorCodeOf } from '../core/errors.js';
import type { Event } from '../core/model.js';
import { decodeMessage } from '../core/wire.js';
import type { Telemetry } from '../core/telemetry.js';
import type { Subscription, Transport } from '../core/transport.js';
import type { SeriesStore } from './store.js';

export interface FeedOptions {
  transport: Transport;
  store: SeriesStore;
  topic: string;
  groupId?: string;
  telemetry?: Telemetry;
}

export async function feedStore(opts: FeedOptions): Promise<Subscription> {
  const { store, telemetry } = opts;
  // Bounded: about the store's own hour of 1 s windows for a modest number of series.
  const merger = new PartialMerger(200_000);
  return opts.transport.subscribe(
    { topics: [opts.topic], groupId: opts.groupId ?? 'tidewatch.dashboard', fromBeginning: true },
    async (batch) => {
      for (const msg of batch.messages) {
        let events: Event[];
        try {
          const d = decodeMessage(msg);
          if (d.type === 'logs' || d.type === 'metrics') events = d.records;
          else if (d.type === 'rollups') {
            const w = merger.add(d.record);
            events = [
              {
                kind: 'metric',
                type: 'sum',
                name: w.name,
                temporality: 'delta',
                monotonic: true,
                start_time: w.window_start,
                time: w.window_start + w.window_ms,
                value: w.sum,
                attributes: { ...w.labels },
                resource: {},
              },
            ];
          } else events = [];
        } catch (err) {
          telemetry?.add('tidewatch_dashboard_dropped_total', { topic: batch.topic, reason: errorCodeOf(err) });
          continue;
        }
        for (const e of events) {
          if (e === null || typeof e !== 'object' || e.kind !== 'metric') {
            telemetry?.add('tidewatch_dashboard_dropped_total', { topic: batch.topic, reason: 'not_metric' });
            continue;
          }
          const r = store.upsert(e);
          if (r === 'late' || r === 'series_overflow' || r === 'unsupported' || r === 'invalid') {
            telemetry?.add('tidewatch_dashboard_dropped_total', { topic: batch.topic, reason: r });
          }
        }
      }
    },
  );
}
