import { describe, expect, it } from 'vitest';
import { HEARTBEAT_EVENT, agentVersion, heartbeatRecord } from '../../agent/heartbeat.js';

describe('heartbeat record', () => {
  it('sums files and lag over every file source, and says who and how long', () => {
    const rec = heartbeatRecord({
      now: 10_000,
      startedAt: 4_000,
      seq: 3,
      state: 'running',
      intervalMs: 1000,
      agentId: 'a1',
      hostName: 'web-1',
      telemetry: [
        { name: 'tidewatch_file_tracked_files', kind: 'gauge', labels: { component: 'app' }, value: 3 },
        { name: 'tidewatch_file_tracked_files', kind: 'gauge', labels: { component: 'nginx' }, value: 2 },
        { name: 'tidewatch_file_unread_bytes', kind: 'gauge', labels: { component: 'app' }, value: 100 },
        { name: 'tidewatch_file_unconfirmed_bytes', kind: 'gauge', labels: { component: 'app' }, value: 20 },
        { name: 'tidewatch_file_unread_bytes', kind: 'counter', labels: {}, value: 999 },
      ],
    });
    expect(rec).toMatchObject({
      kind: 'log',
      time: 10_000,
      severity_number: 9,
      attributes: {
        'event.name': HEARTBEAT_EVENT,
        'tidewatch.agent.state': 'running',
        'tidewatch.agent.uptime_s': 6,
        'tidewatch.agent.started_at': new Date(4000).toISOString(),
        'tidewatch.heartbeat.seq': 3,
        'tidewatch.files': 5,
        'tidewatch.lag_bytes': 120,
      },
      resource: { 'host.name': 'web-1', 'tidewatch.agent.id': 'a1', 'service.name': 'tidewatch-agent', 'service.version': agentVersion() },
    });
    expect(agentVersion()).toMatch(/^\d+\.\d+\.\d+/);
  });
});
