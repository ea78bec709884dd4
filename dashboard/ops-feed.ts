/**
 * Feeds the dashboard's operational state from transport topics: alerts, patterns, agents (wire
 * records, or heartbeat log records from agent/heartbeat.ts) and the tail (sampled, parsed log
 * lines; see ops.ts for why the dashboard does not parse the logs topic itself). Each message is
 * decoded once, whatever the number of open pages.
 *
 * Bad input is counted by reason, never thrown (a rejected handler would make the transport
 * redeliver the same bad message forever).
 */
import { decodeMessage } from '../core/wire.js';
import { errorCodeOf } from '../core/errors.js';
import type { Telemetry } from '../core/telemetry.js';
import type { Subscription, Transport } from '../core/transport.js';
import type { OpsState } from './ops.js';
import type { Persistence } from './persist.js';

export const DEFAULT_OPS_TOPICS = {
  alerts: 'tidewatch.alerts',
  patterns: 'tidewatch.patterns',
  agents: 'tidewatch.agents',
  tail: 'tidewatch.tail',
} as const;

export interface OpsFeedOptions {
  transport: Transport;
  ops: OpsState;
  topics?: readonly string[];
  groupId?: string;
  telemetry?: Telemetry;
  persist?: Persistence;
}

export async function feedOps(opts: OpsFeedOptions): Promise<Subscription> {
  const { ops, telemetry, persist } = opts;
  const topics = [...(opts.topics ?? Object.values(DEFAULT_OPS_TOPICS))];
  const drop = (topic: string, reason: string): void => telemetry?.add('tidewatch_dashboard_dropped_total', { topic, reason });
  // read_committed: the catalog stage writes the patterns topic in transactions (aborted ones must not show).
  return opts.transport.subscribe({ topics, groupId: opts.groupId ?? 'tidewatch.dashboard.ops', fromBeginning: true, readCommitted: true }, async (batch) => {
    for (const msg of batch.messages) {
      let d;
      try {
        d = decodeMessage(msg);
      } catch (err) {
        drop(batch.topic, errorCodeOf(err));
        continue;
      }
      switch (d.type) {
        case 'alerts':
          if (ops.applyAlert(d.record)) persist?.alert(d.record);
          break;
        case 'patterns':
          if (ops.applyPattern(d.record)) persist?.pattern(d.record);
          break;
        case 'agents':
          ops.applyHeartbeat(d.record);
          break;
        case 'logs':
          for (const r of d.records) {
            if (!ops.applyHeartbeatLog(r)) ops.applyLog(r);
          }
          break;
        default:
          drop(batch.topic, `unexpected_${d.type}`);
      }
    }
  });
}
