/**
 * The real collector serving its own /metrics: an `internal_metrics` source in a collector
 * config exposes the runner's counters (received / sent per component). Needs dist/.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../../bin/tidewatch.js', import.meta.url));

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

let stop: (() => Promise<number | null>) | undefined;
let dir: string | undefined;
afterEach(async () => {
  await stop?.();
  stop = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

/** Value of the first sample line `name{...label...} value` that carries `label`. */
function sample(text: string, name: string, label: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) && line.includes(label)) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('collector self-telemetry', () => {
  it('serves the runner counters at /metrics when a collector config has an internal_metrics source', async () => {
    dir = await mkdtemp(join(tmpdir(), 'tw-coll-self-'));
    const port = await freePort();
    const file = join(dir, 'collector.yaml');
    await writeFile(
      file,
      `data_dir: ${join(dir, 'data')}
sources:
  self: { type: internal_metrics, listen: "127.0.0.1:${port}", interval_ms: 200 }
sinks:
  out: { type: file, path: ${join(dir, 'out.jsonl')} }
pipelines:
  own: { sources: [self], sinks: [out] }
`,
    );
    const child = spawn(process.execPath, [BIN, 'collector', '--config', file], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    stop = async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    };

    // Wait for the listener, then for a few internal collections to pass through the pipeline.
    const until = Date.now() + 15_000;
    while (!err.includes('internal metrics listening')) {
      if (child.exitCode !== null || Date.now() > until) throw new Error(`collector did not serve /metrics; stderr:\n${err}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    let text = '';
    let received: number | undefined;
    while (Date.now() < until) {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(res.status).toBe(200);
      text = await res.text();
      received = sample(text, 'tidewatch_events_received_total', 'component="self"');
      if (received !== undefined && received > 0 && sample(text, 'tidewatch_events_sent_total', 'component="out"') !== undefined) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(received, text).toBeGreaterThan(0);
    expect(sample(text, 'tidewatch_events_sent_total', 'component="out"'), text).toBeGreaterThan(0);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    expect(await stop()).toBe(0);
  });
});
