/**
 * The rules stage as a user wires it: source → rollup → detect_anomalies → webhook, through the
 * real pipeline runner and config loader, with a real local HTTP receiver.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { components } from '../../../collector/components.js';
import { parseConfig } from '../../../core/config/load.js';
import { PipelineRunner } from '../../../core/runner.js';
import { Harness, line } from '../../support/memory-components.js';

describe('rollup → detect_anomalies → webhook', () => {
  it('turns a burst of error lines into one Alertmanager notification, and counts each line once', async () => {
    const posts: { status: string; alerts: { labels: Record<string, string>; annotations: Record<string, string> }[] }[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        posts.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    const h = new Harness();
    const dir = await mkdtemp(join(tmpdir(), 'tw-rules-'));
    const yaml = `
data_dir: ${dir}
sources: { src: { type: test } }
transforms:
  windows: { type: rollup, lateness_ms: 0 }
  rules:
    type: detect_anomalies
    evaluation_interval_ms: 100
    notify: { group_wait_ms: 0, group_interval_ms: 0 }
    rules:
      - { name: error_burst, kind: increase, metric: log.records, matchers: ['severity="error"'], group_by: [service.name],
          range_ms: 60000, threshold: 15, summary: "{{ $value }} errors in {{ $labels.service.name }}" }
sinks:
  hook: { type: webhook, url: "${url}" }
  out: { type: test }
pipelines: { p: { sources: [src], transforms: [windows, rules], sinks: [hook, out] } }
`;
    const cfg = await parseConfig(yaml, 'inline.yaml', { env: {}, components: [...components, ...h.components()] });
    const runner = new PipelineRunner({ config: cfg, components: [...components, ...h.components()], agentId: 'a', hostName: 'h', tickMs: 20 });
    await runner.start();
    try {
      const now = Date.now();
      const err = (svc: string, i: number) => line(`boom ${i}`, { observed_time: now + i, severity_number: 17, resource: { 'service.name': svc } });
      // 12 errors in shop stay under 15 if counted once (early + final values would make 24);
      // 20 in cart are over it.
      await h.sourceCtx.get('src')!.emit(Array.from({ length: 12 }, (_, i) => err('shop', i)));
      await h.sourceCtx.get('src')!.emit(Array.from({ length: 20 }, (_, i) => err('cart', i)));
      await h.sourceCtx.get('src')!.emit([line('fine', { observed_time: now, severity_number: 9, resource: { 'service.name': 'shop' } })]);
      const until = Date.now() + 10_000;
      while (posts.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 25));
      // Let a few more evaluations run: early and final window values must not double the count.
      await new Promise((r) => setTimeout(r, 1500));
    } finally {
      await runner.stop();
      await new Promise<void>((r) => server.close(() => r()));
    }
    expect(posts).toHaveLength(1);
    expect(posts[0]!.status).toBe('firing');
    expect(posts[0]!.alerts.map((a) => [a.labels['alertname'], a.labels['service.name'], a.annotations['summary']])).toEqual([['error_burst', 'cart', '20 errors in cart']]);
    const out = h.written.get('out') ?? [];
    expect(out.filter((e) => e.kind === 'log' && e.attributes['event.name'] === 'tidewatch.alert')).toHaveLength(1);
  });
});
