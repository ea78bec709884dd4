/**
 * End to end: the real agent (`node bin/tidewatch.js agent`) with an `otlp` source and a `file`
 * sink; the official exporters send, and the file holds DESIGN.md's records. Needs dist/
 * (`npx tsc -p tsconfig.build.json`).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { afterEach, describe, expect, it } from 'vitest';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPMetricExporter as MetricsGrpc } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { AggregationTemporalityPreference, OTLPMetricExporter as MetricsJson } from '@opentelemetry/exporter-metrics-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import type { PushMetricExporter } from '@opentelemetry/sdk-metrics';
import { FileRecordSchema } from '../../core/sinks/file-record.js';
import { startAgent } from './agent-process.js';
import type { AgentProcess } from './agent-process.js';

let agent: AgentProcess | undefined;
let dir: string | undefined;
afterEach(async () => {
  await agent?.stop();
  agent = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

async function exportOnce(exporter: PushMetricExporter, value: number): Promise<void> {
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ 'service.name': 'shop' }),
    readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })],
  });
  provider.getMeter('e2e', '0.1').createCounter('e2e.requests', { unit: '{request}' }).add(value, { route: '/cart' });
  await provider.forceFlush();
  await provider.shutdown();
}

describe('tidewatch agent with an otlp source', () => {
  it('writes what the official exporters send to the file sink, in DESIGN.md\'s shape, and exits 0 on SIGTERM', async () => {
    dir = await mkdtemp(join(tmpdir(), 'tw-otlp-agent-'));
    const out = join(dir, 'out.jsonl');
    agent = await startAgent(
      `data_dir: ${join(dir, 'data')}
agent: { id: e2e-agent, host_name: e2e-host }
sources:
  otel: { type: otlp, http_endpoint: "127.0.0.1:0", grpc_endpoint: "127.0.0.1:0" }
sinks:
  out: { type: file, path: ${out} }
pipelines:
  all: { sources: [otel], sinks: [out] }
`,
      dir,
    );
    const listening = await agent.logLine('otlp listening');
    const http = `http://${String(listening['http'])}`;
    const grpc = `http://${String(listening['grpc'])}`;

    await exportOnce(new MetricsJson({ url: `${http}/v1/metrics`, temporalityPreference: AggregationTemporalityPreference.DELTA }), 12);
    await exportOnce(new MetricsGrpc({ url: grpc, temporalityPreference: AggregationTemporalityPreference.DELTA }), 5);
    const logs = new LoggerProvider({ resource: resourceFromAttributes({ 'service.name': 'shop' }), processors: [new SimpleLogRecordProcessor({ exporter: new OTLPLogExporter({ url: `${http}/v1/logs` }) })] });
    logs.getLogger('e2e').emit({ timestamp: Date.parse('2026-11-25T10:00:00.123Z'), severityNumber: SeverityNumber.INFO, severityText: 'INFO', body: 'GET /cart 200', attributes: { 'http.route': '/cart' } });
    await logs.forceFlush();
    await logs.shutdown();

    expect(await agent.stop()).toBe(0);
    const records = (await readFile(out, 'utf8')).trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const r of records) expect([...Value.Errors(FileRecordSchema, r)].map((e) => `${e.path}: ${e.message}`)).toEqual([]);
    const sums = records.filter((r) => r['name'] === 'e2e.requests');
    expect(sums.map((r) => r['value'])).toEqual([12, 5]);
    expect(sums[0]).toMatchObject({
      kind: 'metric',
      type: 'sum',
      temporality: 'delta',
      monotonic: true,
      unit: '{request}',
      attributes: { route: '/cart' },
      resource: { 'service.name': 'shop', 'tidewatch.agent.id': 'e2e-agent' },
      scope: { name: 'e2e', version: '0.1' },
    });
    expect(String(sums[0]!['time'])).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(records.find((r) => r['kind'] === 'log')).toMatchObject({
      kind: 'log',
      time: '2026-11-25T10:00:00.123Z',
      severity_number: 9,
      severity_text: 'INFO',
      body: 'GET /cart 200',
      attributes: { 'http.route': '/cart' },
      resource: { 'service.name': 'shop' },
    });
  });
});
