/**
 * `tidewatch validate` as a user runs it: the real CLI in a child process (needs dist/: run
 * `npx tsc -p tsconfig.build.json` first; `npm test` does).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../bin/tidewatch.js', import.meta.url));

function tidewatch(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

// Only the `file` sink, which both programs ship for good; the loader's own tests cover sources
// and pipelines with test components.
const SMALLEST = `data_dir: /var/lib/tidewatch          # checkpoints, disk buffers, embedded store
log: { level: info }
sinks:
  out: { type: file, path: /tmp/out.jsonl }
`;

describe('tidewatch validate', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tw-validate-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function config(name: string, text: string): Promise<string> {
    const file = join(dir, name);
    await writeFile(file, text);
    return file;
  }

  it('exits 0 and prints FILE: ok for a valid config', async () => {
    const file = await config('ok.yaml', SMALLEST);
    const r = await tidewatch(['validate', '--config', file]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${file}: ok\n`);
    expect(r.code).toBe(0);
  });

  it('exits non-zero on a typo\'d key, naming file, line and key', async () => {
    const file = await config('typo.yaml', SMALLEST.replace('path: /tmp/out.jsonl', 'pth: /tmp/out.jsonl'));
    const r = await tidewatch(['validate', '--config', file]);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`${file}:4: sinks.out.pth: unknown key (did you mean "path"?)`);
    expect(r.stderr).toContain('[TW_CONFIG_SCHEMA]');
  });

  it('exits non-zero on a wrong type, naming file, line and key', async () => {
    const file = await config('type.yaml', `data_dir: /d
sinks:
  out:
    type: file
    path: /tmp/out.jsonl
    fsync: sometimes
`);
    const r = await tidewatch(['validate', '--config', file]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`${file}:6: sinks.out.fsync: expected boolean (got "sometimes")`);
  });

  it('expands ${VAR} from the environment and names a missing one', async () => {
    const file = await config('env.yaml', SMALLEST.replace('/tmp/out.jsonl', '"${OUT_DIR}/out.jsonl"'));
    expect((await tidewatch(['validate', '--config', file], { OUT_DIR: '/tmp' })).code).toBe(0);
    const r = await tidewatch(['validate', '--config', file]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`${file}:4: sinks.out.path: environment variable OUT_DIR is not set`);
    expect(r.stderr).toContain('[TW_CONFIG_ENV]');
  });

  it('reports a missing file and a missing --config as errors', async () => {
    const r = await tidewatch(['validate', '--config', join(dir, 'none.yaml')]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('[TW_CONFIG_READ]');
    const u = await tidewatch(['validate']);
    expect(u.code).toBe(2);
    expect(u.stderr).toContain('--config FILE is required');
  });

  it('is listed in --help', async () => {
    const r = await tidewatch(['--help']);
    expect(r.stdout).toMatch(/\n {2}validate +check a config file/);
  });
});
