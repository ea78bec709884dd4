/**
 * The smallest agent config from DESIGN.md, run as a real process: every log line becomes one
 * schema-valid JSON line in the file sink, and SIGTERM flushes and exits 0.
 */
import { spawn } from 'node:child_process';
import { appendFile, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { FileRecordSchema } from '../../core/sinks/file-record.js';
import { waitFor } from '../support/wait.js';

const BIN = new URL('../../bin/tidewatch.js', import.meta.url).pathname;

/** Writes an agent config of one source `app` and one sink `out` (YAML lines), and runs it. */
async function startAgent(config: string, data: string, source: string, sink: string) {
  await writeFile(config, [`data_dir: ${data}`, 'sources:', source, 'sinks:', sink, 'pipelines:', '  logs: { sources: [app], sinks: [out] }', ''].join('\n'));
  const child = spawn(process.execPath, [BIN, 'agent', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, stderr: () => err, exited };
}

describe('tidewatch agent --config (DESIGN.md smallest config)', () => {
  it('writes one schema-valid JSON line per log line to the file sink and exits 0 on SIGTERM', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tw-agent-'));
    const logs = join(dir, 'var', 'log', 'app');
    await mkdir(logs, { recursive: true });
    const out = join(dir, 'out.jsonl');
    const lines = Array.from({ length: 500 }, (_, i) => `2026-11-25T10:00:00Z INFO request ${i} served in ${i % 17} ms`);
    await writeFile(join(logs, 'a.log'), `${lines.slice(0, 300).join('\n')}\n`);
    const config = join(dir, 'agent.yaml');
    const { child, stderr, exited } = await startAgent(config, join(dir, 'data'), `  app: { type: file, include: ["${logs}/*.log"], start_at: beginning }`, `  out: { type: file, path: ${out} }`);
    const count = async () => (await readFile(out, 'utf8')).split('\n').filter(Boolean).length;
    await waitFor(async () => ((await count()) === 300 ? true : undefined), '300 lines', 15_000);
    await appendFile(join(logs, 'a.log'), `${lines.slice(300).join('\n')}\n`);
    await waitFor(async () => ((await count()) === 500 ? true : undefined), '500 lines', 15_000);
    child.kill('SIGTERM');
    expect(await exited, stderr()).toBe(0);

    const records = (await readFile(out, 'utf8')).trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.map((r) => r['body'])).toEqual(lines);
    for (const r of records) expect([...Value.Errors(FileRecordSchema, r)].map((e) => `${e.path} ${e.message}`)).toEqual([]);
    const first = records[0]!;
    expect(first['attributes']).toMatchObject({ 'log.file.path': join(logs, 'a.log'), 'tidewatch.generation': 0, 'tidewatch.offset': 0 });
    expect(typeof (first['resource'] as Record<string, unknown>)['tidewatch.agent.id']).toBe('string');
    expect(typeof (first['resource'] as Record<string, unknown>)['host.name']).toBe('string');
  }, 60_000);
});

describe('tidewatch agent --config, failing start', () => {
  it('exits non-zero with the error when a component cannot start (regression: it hung)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tw-agent-fail-'));
    const config = join(dir, 'agent.yaml');
    // A sink whose parent path is a file cannot be opened: start fails after config validation.
    await writeFile(join(dir, 'blocker'), 'x');
    const { stderr, exited } = await startAgent(config, join(dir, 'data'), `  app: { type: file, include: ["${dir}/*.log"] }`, `  out: { type: file, path: ${join(dir, 'blocker', 'out.jsonl')} }`);
    expect(await exited).not.toBe(0);
    expect(stderr()).toMatch(/file sink out: cannot open .*blocker.*\[TW_SINK_WRITE\]/);
  }, 30_000);
});

describe('tidewatch agent --config, SIGTERM during the start', () => {
  it('stops in order once the start is done and exits 0 (regression: the signal killed it, exit 143)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tw-agent-early-'));
    const data = join(dir, 'data');
    const config = join(dir, 'agent.yaml');
    // Nothing listens on port 1: the kafka sink's start waits connection_timeout_ms + 2 s for it,
    // then runs without it. The signal comes in the middle of that wait.
    const { child, stderr, exited } = await startAgent(config, data, `  app: { type: file, include: ["${dir}/*.log"] }`, '  out: { type: kafka, brokers: ["127.0.0.1:1"], connection_timeout_ms: 1500 }');
    // The agent id is written just before the components start.
    await waitFor(async () => ((await readFile(join(data, 'agent-id'), 'utf8').catch(() => '')) !== '' ? true : undefined), 'agent id', 15_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(stderr()).not.toMatch(/"msg":"started"/);
    child.kill('SIGTERM');
    expect(await exited, stderr()).toBe(0);
    expect(stderr()).toMatch(/"msg":"started"[\s\S]*"msg":"stopping"[\s\S]*"msg":"stopped"/);
  }, 30_000);
});
