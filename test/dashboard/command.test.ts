import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { run } from '../../cli/commands/dashboard.js';
import { COMMANDS } from '../../cli/main.js';
import type { CommandIO } from '../../cli/io.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function io(env: Record<string, string> = {}): CommandIO & { out: string[] } {
  const out: string[] = [];
  return {
    out,
    stdout: (t) => void out.push(t),
    stderr: () => {},
    env,
    waitForStop: () => new Promise(() => {}),
  } as CommandIO & { out: string[] };
}

function config(text: string): string {
  const d = mkdtempSync(join(tmpdir(), 'tw-dash-cmd-'));
  dirs.push(d);
  const f = join(d, 'tidewatch.yaml');
  writeFileSync(f, text.replace('DATA', join(d, 'data')));
  return f;
}

describe('tidewatch dashboard', () => {
  it('is registered and prints its usage', async () => {
    expect(COMMANDS['dashboard']).toBeDefined();
    const i = io();
    expect(await run(['--help'], i)).toBe(0);
    expect(i.out.join('')).toContain('--token');
  });

  it('refuses a non-loopback address without a token, before connecting anywhere', async () => {
    await expect(run(['--config', '/nonexistent.yaml', '--host', '0.0.0.0'], io())).rejects.toMatchObject({ code: 'TW_USAGE' });
    await expect(run(['--config', '/nonexistent.yaml', '--host', '0.0.0.0'], io({ TIDEWATCH_DASHBOARD_TOKEN: 'short' }))).rejects.toMatchObject({ code: 'TW_USAGE' });
  });

  it('says so when the config has no kafka component to read from', async () => {
    const f = config('data_dir: DATA\nsources:\n  f: { type: file, include: ["/tmp/none-*.log"] }\nsinks:\n  o: { type: file, path: DATA/out.jsonl }\npipelines:\n  p: { sources: [f], sinks: [o] }\n');
    await expect(run(['--config', f, '--port', '0'], io())).rejects.toMatchObject({ code: 'TW_CONFIG_WIRING', message: expect.stringContaining('no kafka source or sink') });
  });
});
