import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Value } from '@sinclair/typebox/value';
import { WebhookSink } from '../../../collector/sinks/webhook.js';
import { DetectAnomalies, schema as rulesSchema, type DetectAnomaliesConfig } from '../../../collector/transforms/detect-anomalies.js';
import type { ComponentContext } from '../../../core/component.js';
import { silentLogger } from '../../../core/log.js';
import type { Event } from '../../../core/model.js';
import { MemoryTelemetry } from '../../../core/telemetry.js';

interface Hit {
  body: unknown;
  headers: IncomingMessage['headers'];
}

let server: Server | undefined;

/** A real HTTP server on a free loopback port; `statuses` are answered in turn (then 200). */
async function receiver(statuses: number[] = []): Promise<{ url: string; hits: Hit[] }> {
  const hits: Hit[] = [];
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      hits.push({ body: JSON.parse(Buffer.concat(chunks).toString('utf8')), headers: req.headers });
      res.statusCode = statuses.shift() ?? 200;
      res.end();
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, hits };
}

afterEach(async () => {
  await new Promise<void>((r) => (server === undefined ? r() : server.close(() => r())));
  server = undefined;
});

function ctx(dataDir = '/nonexistent', now = () => 0): ComponentContext & { telemetry: MemoryTelemetry } {
  return { name: 'w', dataDir, telemetry: new MemoryTelemetry(), log: silentLogger, now, agentId: 'a', hostName: 'h', bus: undefined };
}

/** Alert and notification events from a real detect_anomalies transform driven by a fake clock. */
async function alertEvents(dataDir: string): Promise<{ events: Event[]; t: DetectAnomalies }> {
  const cfg = Value.Default(rulesSchema, {
    rules: [{ name: 'cpu_high', kind: 'threshold', metric: 'cpu', threshold: 90, summary: 'cpu {{ $value }} on {{ $labels.host }}' }],
    notify: { group_wait_ms: 0, group_interval_ms: 0 },
  }) as DetectAnomaliesConfig;
  const t = new DetectAnomalies(cfg, ctx(dataDir));
  t.process([{ kind: 'metric', type: 'gauge', name: 'cpu', time: 1000, value: 97, attributes: { host: 'web-1' }, resource: {} }], 1000);
  const events = t.flush(1000, false);
  return { events, t };
}

describe('webhook sink (real local HTTP server)', () => {
  it('posts the Alertmanager-compatible payload of a notification, with extra headers', async () => {
    const r = await receiver();
    const dir = await mkdtemp(join(tmpdir(), 'tw-wh-'));
    const { events, t } = await alertEvents(dir);
    const s = new WebhookSink({ url: r.url, headers: { authorization: 'Bearer x' }, external_url: 'http://dash:9470' }, ctx());
    await s.start();
    await s.write(events);
    await s.stop();
    expect(r.hits).toHaveLength(1);
    const b = r.hits[0]!.body as Record<string, unknown>;
    expect(b).toMatchObject({ version: '4', status: 'firing', receiver: 'default', groupLabels: { alertname: 'cpu_high' }, externalURL: 'http://dash:9470' });
    const [a] = b['alerts'] as Record<string, unknown>[];
    expect(a).toMatchObject({ status: 'firing', labels: { alertname: 'cpu_high', host: 'web-1', severity: 'warning' }, annotations: { summary: 'cpu 97 on web-1' }, startsAt: '1970-01-01T00:00:01.000Z', endsAt: '0001-01-01T00:00:00Z' });
    expect(String(a!['generatorURL'])).toMatch(/^http:\/\/dash:9470\/alerts\//);
    expect(r.hits[0]!.headers['authorization']).toBe('Bearer x');
    expect(s.counters.ignored).toBe(1); // the alert event itself is not a notification
    // The history file has the transition, with its context.
    await t.stop();
    const hist = (await readFile(join(dir, 'collector', 'w', 'alerts.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(hist.map((h) => [h['rule'], h['from'], h['to'], (h['context'] as { value: number }).value])).toEqual([['cpu_high', 'inactive', 'firing', 97]]);
  });

  it('posts tidewatch JSON with each alert\'s context, or every state change with send: alerts', async () => {
    const r = await receiver();
    const { events } = await alertEvents(await mkdtemp(join(tmpdir(), 'tw-wh-')));
    await new WebhookSink({ url: r.url, format: 'json' }, ctx()).write(events);
    await new WebhookSink({ url: r.url, send: 'alerts' }, ctx()).write(events);
    expect(r.hits).toHaveLength(2);
    const j = r.hits[0]!.body as { alerts: { context: { value: number; series: string[] }; alert_id: string }[] };
    expect(j.alerts[0]!.context).toMatchObject({ value: 97, series: ['cpu{host="web-1"}'] });
    expect((r.hits[1]!.body as { alerts: { fingerprint: string }[] }).alerts[0]!.fingerprint).toBe('cpu_high{host="web-1"}');
  });

  it('retries 5xx and 429 with backoff, then succeeds', async () => {
    const r = await receiver([503, 429]);
    const { events } = await alertEvents(await mkdtemp(join(tmpdir(), 'tw-wh-')));
    const c = ctx();
    const s = new WebhookSink({ url: r.url, backoff_ms: 5, max_retries: 3 }, c);
    await s.write(events);
    expect(r.hits).toHaveLength(3);
    expect(s.counters).toMatchObject({ sent: 1, retries: 2, deadLetter: 0 });
    expect(c.telemetry.value('tidewatch_webhook_retries_total', { component: 'w' })).toBe(2);
  });

  it('dead-letters after max_retries, and at once on a 4xx refusal, without failing the pipeline', async () => {
    const r = await receiver([500, 500, 500, 400]);
    const { events } = await alertEvents(await mkdtemp(join(tmpdir(), 'tw-wh-')));
    const c = ctx();
    const s = new WebhookSink({ url: r.url, backoff_ms: 1, max_retries: 2 }, c);
    await expect(s.write(events)).resolves.toBeUndefined();
    await s.write(events);
    expect(r.hits).toHaveLength(4);
    expect(s.counters.deadLetter).toBe(2);
    expect(c.telemetry.value('tidewatch_webhook_dead_letter_total', { component: 'w', reason: 'http_500' })).toBe(1);
    expect(c.telemetry.value('tidewatch_webhook_dead_letter_total', { component: 'w', reason: 'http_400' })).toBe(1);
  });

  it('dead-letters when nothing listens (network error)', async () => {
    const r = await receiver();
    await new Promise<void>((res) => server!.close(() => res()));
    server = undefined;
    const { events } = await alertEvents(await mkdtemp(join(tmpdir(), 'tw-wh-')));
    const c = ctx();
    const s = new WebhookSink({ url: r.url, backoff_ms: 1, max_retries: 1 }, c);
    await s.write(events);
    expect(c.telemetry.value('tidewatch_webhook_dead_letter_total', { component: 'w', reason: 'network' })).toBe(1);
  });
});
