/**
 * Feeds the dashboard's store from a transport topic (tidewatch.rollups): decodes each message
 * with the wire codec and upserts its metric points. The dashboard is not a consumer group member
 * that shares work (DESIGN.md): it reads every message of the topics it shows, under a group id
 * of its own.
 *
 * Bad input is counted, never thrown (a handler rejection would make the transport redeliver
 * the same bad message forever): undecodable messages by error code, non-metric events, and
 * points the store refused, by reason.
 */
import { decodeEvents } from '../core/codec.js';
import { errorCodeOf } from '../core/errors.js';
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
  return opts.transport.subscribe(
    { topics: [opts.topic], groupId: opts.groupId ?? 'tidewatch.dashboard', fromBeginning: true },
    async (batch) => {
      for (const msg of batch.messages) {
        let events;
        try {
          events = decodeEvents(msg);
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
