import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { fileSink } from '../../../core/sinks/file.js';
import { FileRecordSchema } from '../../../core/sinks/file-record.js';
import { MemoryTelemetry } from '../../../core/telemetry.js';
import { silentLogger } from '../../../core/log.js';
import type { Event } from '../../../core/model.js';

function ctx(name = 'out') {
  return { name, dataDir: '/tmp', telemetry: new MemoryTelemetry(), log: silentLogger, now: Date.now, agentId: 'a1b2', hostName: 'web-1', bus: undefined };
}

const events: Event[] = [
  {
    kind: 'log',
    time: Date.parse('2026-11-25T10:00:00.123Z'),
    observed_time: Date.parse('2026-11-25T10:00:00.130Z'),
    severity_number: 9,
    severity_text: 'INFO',
    body: 'GET /cart 200',
    attributes: { 'log.file.path': '/var/log/app/a.log', 'tidewatch.stream_id': '7', 'tidewatch.generation': 0, 'tidewatch.offset': 1234 },
    resource: { 'host.name': 'web-1', 'tidewatch.agent.id': 'a1b2' },
  },
  {
    kind: 'metric',
    name: 'http.server.duration',
    type: 'histogram',
    temporality: 'delta',
    time: Date.parse('2026-11-25T10:00:01Z'),
    attributes: { route: '/cart' },
    resource: { 'service.name': 'shop' },
    count: 12,
    sum: 3.4,
    bucket_bounds: [0.1, 0.5, 1],
    bucket_counts: [9, 2, 1, 0],
  },
  { kind: 'metric', name: 'queue.depth', type: 'gauge', time: 0, attributes: {}, resource: {}, value: 3 },
  { kind: 'metric', name: 'requests', type: 'sum', temporality: 'cumulative', monotonic: true, time: 0, start_time: 0, attributes: {}, resource: {}, value: 10 },
  { kind: 'metric', name: 'rpc.latency', type: 'summary', time: 0, attributes: {}, resource: {}, count: 2, sum: 1, quantiles: [{ quantile: 0.5, value: 0.4 }] },
  {
    kind: 'metric', name: 'exp', type: 'exponential_histogram', temporality: 'delta', time: 0, attributes: {}, resource: {},
    count: 3, scale: 2, zero_count: 1, positive: { offset: -1, bucket_counts: [1, 1] }, negative: { offset: 0, bucket_counts: [] },
  },
];

describe('file sink', () => {
  it('writes DESIGN.md\'s record shape, one schema-valid JSON object per line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tw-file-sink-'));
    const path = join(dir, 'nested', 'out.jsonl');
    const sink = fileSink.create({ path, fsync: false }, ctx());
    await sink.start();
    await sink.write(events.slice(0, 2));
    await sink.write(events.slice(2));
    await sink.stop();
    const lines = (await readFile(path, 'utf8')).trimEnd().split('\n');
    expect(lines).toHaveLength(events.length);
    expect(lines[0]).toBe(
      '{"kind":"log","time":"2026-11-25T10:00:00.123Z","observed_time":"2026-11-25T10:00:00.130Z","severity_number":9,"severity_text":"INFO","body":"GET /cart 200","attributes":{"log.file.path":"/var/log/app/a.log","tidewatch.stream_id":"7","tidewatch.generation":0,"tidewatch.offset":1234},"resource":{"host.name":"web-1","tidewatch.agent.id":"a1b2"}}',
    );
    expect(lines[1]).toBe(
      '{"kind":"metric","name":"http.server.duration","type":"histogram","temporality":"delta","time":"2026-11-25T10:00:01.000Z","attributes":{"route":"/cart"},"resource":{"service.name":"shop"},"count":12,"sum":3.4,"bucket_bounds":[0.1,0.5,1],"bucket_counts":[9,2,1,0]}',
    );
    for (const l of lines) {
      const rec: unknown = JSON.parse(l);
      expect([...Value.Errors(FileRecordSchema, rec)].map((e) => `${e.path}: ${e.message}`), l).toEqual([]);
    }
  });

  it('rejects a record the schema does not allow (the check can fail)', () => {
    expect(Value.Check(FileRecordSchema, { kind: 'log', observed_time: 'yesterday', severity_number: 9, severity_text: '', body: 'x', attributes: {}, resource: {} })).toBe(false);
  });

  it('keeps schemas/file-record.schema.json in step with the TypeBox schema', async () => {
    const onDisk = JSON.parse(await readFile(new URL('../../../schemas/file-record.schema.json', import.meta.url), 'utf8')) as Record<string, unknown>;
    const { $schema, ...rest } = onDisk;
    expect($schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(rest).toEqual(JSON.parse(JSON.stringify(FileRecordSchema)));
  });

  it('reports a write it cannot make with TW_SINK_WRITE, and refuses writes after stop', async () => {
    const sink = fileSink.create({ path: '/proc/version/cannot', fsync: false }, ctx());
    await expect(sink.start()).rejects.toMatchObject({ code: 'TW_SINK_WRITE' });
    const dir = await mkdtemp(join(tmpdir(), 'tw-file-sink-'));
    const ok = fileSink.create({ path: join(dir, 'a.jsonl'), fsync: true }, ctx());
    await ok.start();
    await ok.stop();
    await ok.stop();
    await expect(ok.write(events.slice(0, 1))).rejects.toMatchObject({ code: 'TW_STOPPED' });
  });
});
