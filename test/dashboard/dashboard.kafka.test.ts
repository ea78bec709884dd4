/**
 * `tidewatch dashboard --config FILE` over a real Kafka broker: the config's kafka sink gives the
 * connection and topic prefix; an alert and rollup points published on Kafka show in the API.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../../cli/commands/dashboard.js';
import type { CommandIO } from '../../cli/io.js';
import { encodeEvents } from '../../core/codec.js';
import { createKafkaTransport } from '../../core/transports/kafka.js';
import { encodeAlert } from '../../core/wire.js';
import { kafkaBrokers, waitFor } from '../kafka/harness.js';
import { alert, linesPoint } from './fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'tw-dash-kafka-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('tidewatch dashboard on Kafka', () => {
  it('reads alerts and rollups from the configured cluster and serves them', async () => {
    const prefix = `twdash${Date.now().toString(36)}.`;
    const brokers = kafkaBrokers();
    const file = join(dir, 'tidewatch.yaml');
    writeFileSync(
      file,
      [
        `data_dir: ${JSON.stringify(join(dir, 'data'))}`,
        'sources:',
        '  f: { type: file, include: ["/tmp/none-*.log"] }',
        'sinks:',
        `  k: { type: kafka, brokers: ${JSON.stringify(brokers)}, topic_prefix: "${prefix}" }`,
        'pipelines:',
        '  p: { sources: [f], sinks: [k] }',
        '',
      ].join('\n'),
    );
    const producer = createKafkaTransport({ brokers });
    await producer.start();
    await producer.ensureTopics(['rollups', 'alerts', 'patterns', 'agents', 'tail'].map((k) => ({ name: `${prefix}${k}`, partitions: 1, replicationFactor: 1 })));
    let stop: (s: NodeJS.Signals) => void = () => {};
    const out: string[] = [];
    const io = {
      stdout: (t: string) => void out.push(t),
      stderr: () => {},
      env: {},
      waitForStop: () => new Promise<NodeJS.Signals>((r) => (stop = r)),
    } as unknown as CommandIO;
    const exit = run(['--config', file, '--port', '0'], io);
    try {
      const url = await waitFor(() => /(http:\/\/\S+)/.exec(out.join(''))?.[1], 'dashboard URL', 60_000);
      const t = Date.now();
      await producer.publish(`${prefix}alerts`, [encodeAlert(alert({ alert_id: 'k1', rule: 'FromKafka', time: t, started_at: t }))]);
      await producer.publish(`${prefix}rollups`, encodeEvents([linesPoint(t - 1000, 5), linesPoint(t, 6)]));
      const alerts = await waitFor(async () => {
        const body = (await (await fetch(`${url}api/v1/alerts`)).json()) as { alerts: Array<{ rule: string }> };
        return body.alerts.length > 0 ? body.alerts : undefined;
      }, 'alert on the API', 60_000);
      expect(alerts.map((a) => a.rule)).toEqual(['FromKafka']);
      const q = await waitFor(async () => {
        const body = (await (await fetch(`${url}api/v1/query?name=log.records&from=-1m`)).json()) as { series: Array<{ points: unknown[] }> };
        return body.series[0]?.points.length === 2 ? body : undefined;
      }, 'rollups on the API', 60_000);
      expect(q.series[0]?.points).toEqual([
        [t - 1000, 5],
        [t, 6],
      ]);
    } finally {
      stop('SIGTERM');
      expect(await exit).toBe(0);
      await producer.stop();
    }
  });
});
