/**
 * `heartbeat` source: every `interval_ms` the agent publishes who it is and how it is doing, so
 * the dashboard can tell which hosts went silent. Wire it to the agents topic: a `kafka` sink on
 * `tidewatch.agents` (keyed by agent id, compacted), or the bus when embedded; until that plumbing
 * lands, any sink works (the record is an ordinary log record).
 *
 * The record (a LogRecord; `event.name` tells it apart from application logs):
 *   body        "tidewatch agent heartbeat"
 *   attributes  event.name = "tidewatch.agent.heartbeat"
 *               tidewatch.agent.state       "running" | "stopping" (the last one, sent at stop: a
 *                                            silence after "stopping" is a shutdown, not a failure)
 *               tidewatch.agent.version, tidewatch.agent.started_at (RFC 3339), tidewatch.agent.uptime_s
 *               tidewatch.heartbeat.interval_ms (a reader declares a host silent after ~3 intervals)
 *               tidewatch.heartbeat.seq     (1, 2, ... since start: gaps show lost heartbeats)
 *               tidewatch.files             files tracked by file sources (tidewatch_file_tracked_files)
 *               tidewatch.lag_bytes         bytes not yet read plus read but unconfirmed
 *                                            (tidewatch_file_unread_bytes + tidewatch_file_unconfirmed_bytes)
 *               process.pid
 *   resource    host.name, tidewatch.agent.id, service.name = "tidewatch-agent", service.version, os.type
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { Type } from '@sinclair/typebox';
import type { Source, SourceFactory } from '../core/component.js';
import type { LogRecord } from '../core/model.js';
import { Severity } from '../core/model.js';
import type { TelemetrySample } from '../core/telemetry.js';

export const HEARTBEAT_EVENT = 'tidewatch.agent.heartbeat';

let cachedVersion: string | undefined;

/** The package version, from the nearest package.json named tidewatch above this module (src or dist). */
export function agentVersion(): string {
  if (cachedVersion !== undefined) return cachedVersion;
  let dir = new URL('./', import.meta.url);
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'tidewatch' && typeof pkg.version === 'string') return (cachedVersion = pkg.version);
    } catch {
      // not here: look one directory up
    }
    dir = new URL('../', dir);
  }
  return (cachedVersion = '0.0.0');
}

export const HeartbeatSchema = Type.Object(
  {
    interval_ms: Type.Integer({ default: 10_000, minimum: 100, description: 'Time between heartbeats; a host is shown silent after about three missed ones.' }),
  },
  { additionalProperties: false },
);

export interface HeartbeatInput {
  now: number;
  startedAt: number;
  seq: number;
  state: 'running' | 'stopping';
  intervalMs: number;
  agentId: string;
  hostName: string;
  telemetry: readonly TelemetrySample[];
}

/** Builds one heartbeat record. Pure. */
export function heartbeatRecord(i: HeartbeatInput): LogRecord {
  let files = 0;
  let lag = 0;
  for (const s of i.telemetry) {
    if (s.kind !== 'gauge') continue;
    if (s.name === 'tidewatch_file_tracked_files') files += s.value;
    else if (s.name === 'tidewatch_file_unread_bytes' || s.name === 'tidewatch_file_unconfirmed_bytes') lag += s.value;
  }
  return {
    kind: 'log',
    time: i.now,
    observed_time: i.now,
    severity_number: Severity.INFO,
    severity_text: 'INFO',
    body: 'tidewatch agent heartbeat',
    attributes: {
      'event.name': HEARTBEAT_EVENT,
      'tidewatch.agent.state': i.state,
      'tidewatch.agent.version': agentVersion(),
      'tidewatch.agent.started_at': new Date(i.startedAt).toISOString(),
      'tidewatch.agent.uptime_s': Math.round((i.now - i.startedAt) / 100) / 10,
      'tidewatch.heartbeat.interval_ms': i.intervalMs,
      'tidewatch.heartbeat.seq': i.seq,
      'tidewatch.files': files,
      'tidewatch.lag_bytes': lag,
      'process.pid': process.pid,
    },
    resource: {
      'host.name': i.hostName || hostname(),
      'tidewatch.agent.id': i.agentId,
      'service.name': 'tidewatch-agent',
      'service.version': agentVersion(),
      'os.type': process.platform,
    },
  };
}

export const heartbeatSource: SourceFactory<typeof HeartbeatSchema> = {
  type: 'heartbeat',
  role: 'source',
  description: 'Publishes the agent\'s identity, version, host, uptime, files and lag at an interval.',
  schema: HeartbeatSchema,
  create(config, ctx): Source {
    let timer: NodeJS.Timeout | undefined;
    let startedAt = 0;
    let seq = 0;
    let pending: Promise<void> | undefined;
    const send = async (state: 'running' | 'stopping'): Promise<void> => {
      const rec = heartbeatRecord({
        now: ctx.now(),
        startedAt,
        seq: ++seq,
        state,
        intervalMs: config.interval_ms,
        agentId: ctx.agentId,
        hostName: ctx.hostName,
        telemetry: ctx.telemetry.snapshot(),
      });
      try {
        await ctx.emit([rec]);
      } catch {
        // The next heartbeat supersedes this one: no retry, just a count.
        ctx.telemetry.add('tidewatch_events_dropped_total', { component: ctx.name, reason: 'sink_failed' });
      }
    };
    const tick = (): void => {
      if (pending !== undefined) return; // a slow sink: skip rather than pile up
      pending = send('running').finally(() => (pending = undefined));
    };
    return {
      async start() {
        startedAt = ctx.now();
        tick();
        timer = setInterval(tick, config.interval_ms);
        timer.unref();
      },
      async stop() {
        if (timer === undefined) return;
        clearInterval(timer);
        timer = undefined;
        await pending;
        await send('stopping');
      },
    };
  },
};
