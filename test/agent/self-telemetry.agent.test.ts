/**
 * The real agent watching itself: `heartbeat`, `internal_metrics` (/metrics + pipeline) and a
 * `prometheus_scrape` of its own /metrics, all into a `file` sink. Needs dist/.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { familiesToPoints } from '../../agent/sources/prometheus/map.js';
import { parseExposition } from '../../agent/sources/prometheus/parse.js';
import { startAgent } from './agent-process.js';
import type { AgentProcess } from './agent-process.js';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

let agent: AgentProcess | undefined;
let dir: string | undefined;
afterEach(async () => {
  await agent?.stop();
  agent = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

type Rec = Record<string, unknown> & { attributes: Record<string, unknown>; resource: Record<string, unknown> };

describe('agent self-telemetry and heartbeats', () => {
  it('serves /metrics, feeds its own pipeline, scrapes itself, and heartbeats until a final "stopping"', async () => {
    dir = await mkdtemp(join(tmpdir(), 'tw-self-'));
    const out = join(dir, 'out.jsonl');
    const port = await freePort();
    await writeFile(join(dir, 'app.log'), 'one line\n');
    agent = await startAgent(
      `data_dir: ${join(dir, 'data')}
agent: { id: self-agent, host_name: self-host }
sources:
  app: { type: file, include: ["${join(dir, 'app.log')}"], start_at: beginning }
  hb: { type: heartbeat, interval_ms: 200 }
  self: { type: internal_metrics, listen: "127.0.0.1:${port}", interval_ms: 200 }
  scrape: { type: prometheus_scrape, targets: ["127.0.0.1:${port}"], job: tidewatch-self, interval_ms: 300, timeout_ms: 300 }
sinks:
  out: { type: file, path: ${out} }
pipelines:
  all: { sources: [app, hb, self, scrape], sinks: [out] }
`,
      dir,
    );
    await agent.logLine('internal metrics listening');
    // Let a few heartbeats, internal collections and scrapes happen.
    await new Promise((r) => setTimeout(r, 1500));
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const exposition = parseExposition(await res.text());
    expect(exposition.errors).toEqual([]);
    const live = familiesToPoints(exposition.families, { time: 0, resource: {}, labels: {}, honorTimestamps: true }).points;
    const received = live.find((p) => p.name === 'tidewatch_events_received_total' && p.attributes['component'] === 'hb');
    expect(received).toMatchObject({ type: 'sum', monotonic: true });
    expect(received?.type === 'sum' && received.value).toBeGreaterThanOrEqual(3);
    expect(live.some((p) => p.name === 'tidewatch_events_sent_total' && p.attributes['component'] === 'out')).toBe(true);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);

    expect(await agent.stop()).toBe(0);
    const records = (await readFile(out, 'utf8')).trimEnd().split('\n').map((l) => JSON.parse(l) as Rec);

    const beats = records.filter((r) => r['kind'] === 'log' && r.attributes['event.name'] === 'tidewatch.agent.heartbeat');
    expect(beats.length).toBeGreaterThanOrEqual(4);
    expect(beats.map((b) => b.attributes['tidewatch.heartbeat.seq'])).toEqual(beats.map((_b, i) => i + 1));
    expect(beats.at(-1)!.attributes['tidewatch.agent.state']).toBe('stopping');
    expect(beats[0]).toMatchObject({
      severity_text: 'INFO',
      body: 'tidewatch agent heartbeat',
      attributes: { 'tidewatch.agent.state': 'running', 'tidewatch.heartbeat.interval_ms': 200 },
      resource: { 'host.name': 'self-host', 'tidewatch.agent.id': 'self-agent', 'service.name': 'tidewatch-agent' },
    });
    expect(beats[0]!.attributes['tidewatch.agent.version']).toMatch(/^\d+\.\d+\.\d+/);
    expect(Number(beats.at(-2)!.attributes['tidewatch.agent.uptime_s'])).toBeGreaterThan(0.5);
    // Files and lag come from the file source's gauges: one file followed, read and confirmed.
    expect(beats.at(-2)!.attributes).toMatchObject({ 'tidewatch.files': 1, 'tidewatch.lag_bytes': 0 });
    expect(records.some((r) => r['kind'] === 'log' && r['body'] === 'one line')).toBe(true);

    // Internal metrics in the pipeline: deltas that add up to what the heartbeat source emitted.
    const internal = records.filter((r) => r['kind'] === 'metric' && r.resource['service.name'] === 'tidewatch-agent' && r['name'] === 'tidewatch_events_received_total' && r.attributes['component'] === 'hb');
    expect(internal.length).toBeGreaterThanOrEqual(2);
    expect(internal.every((r) => r['temporality'] === 'delta')).toBe(true);
    const sumOfDeltas = internal.reduce((n, r) => n + Number(r['value']), 0);
    expect(sumOfDeltas).toBeGreaterThanOrEqual(beats.length - 1);
    expect(sumOfDeltas).toBeLessThanOrEqual(beats.length);

    // The scrape of its own /metrics: up = 1 and the same counter, cumulative, under job tidewatch-self.
    const scraped = records.filter((r) => r.resource['service.name'] === 'tidewatch-self');
    expect(scraped.filter((r) => r['name'] === 'up' && r['value'] === 1).length).toBeGreaterThanOrEqual(2);
    const scrapedReceived = scraped.filter((r) => r['name'] === 'tidewatch_events_received_total' && r.attributes['component'] === 'hb');
    expect(scrapedReceived.length).toBeGreaterThanOrEqual(2);
    expect(scrapedReceived.every((r) => r['temporality'] === 'cumulative')).toBe(true);
    const values = scrapedReceived.map((r) => Number(r['value']));
    expect([...values].sort((a, b) => a - b)).toEqual(values);
  });
});
