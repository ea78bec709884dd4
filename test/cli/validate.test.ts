/**
 * `tidewatch validate` as a user runs it: the real CLI in a child process (needs dist/: run
 * `npx tsc -p tsconfig.build.json` first; `npm test` does).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
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

  it('builds every component without starting it: what a factory refuses is reported at its line, as the program would refuse it at start', async () => {
    const data = join(dir, 'never-written');
    const file = await config(
      'factories.yaml',
      `data_dir: ${data}
sources:
  pods:
    type: file
    include: ["/var/log/containers/*.log"]
    multiline: { preset: cri, start_pattern: "^x" }
  otlp: { type: otlp, http_endpoint: "0.0.0.0:4318", grpc_endpoint: "" }
transforms:
  parse:
    type: parse
    routes:
      - steps:
          - regex: { pattern: "(unclosed" }
sinks:
  out: { type: file, path: ${join(dir, 'out.jsonl')} }
pipelines:
  p: { sources: [pods, otlp], transforms: [parse], sinks: [out] }
`,
    );
    const r = await tidewatch(['validate', '--config', file]);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`${file}:6: sources.pods.multiline: preset cri joins a container runtime's split lines and takes no start_pattern`);
    expect(r.stderr).toContain(`${file}:13: transforms.parse.routes[0].steps[0].regex.pattern: invalid pattern`);
    expect(r.stderr).toContain('[TW_CONFIG_SCHEMA]');
    // Nothing was started: no data directory, no output file.
    await expect(stat(data)).rejects.toThrow(/ENOENT/);
    await expect(stat(join(dir, 'out.jsonl'))).rejects.toThrow(/ENOENT/);

    // The listener off loopback without a token has its own code; with the others mended it is the first problem.
    const open = await config('open.yaml', (await readFile(file, 'utf8')).replace(', start_pattern: "^x"', '').replace('(unclosed', '(?<word>closed)'));
    const r2 = await tidewatch(['validate', '--config', open]);
    expect(r2.code).not.toBe(0);
    expect(r2.stderr).toContain(`${open}:7: sources.otlp.http_endpoint: listening on 0.0.0.0 (not loopback) needs sources.otlp.auth_token`);
    expect(r2.stderr).toContain('[TW_LISTEN_UNPROTECTED]');
    const fine = await config('fine.yaml', (await readFile(open, 'utf8')).replace('0.0.0.0:4318', '127.0.0.1:0'));
    expect(await tidewatch(['validate', '--config', fine])).toEqual({ code: 0, stdout: `${fine}: ok\n`, stderr: '' });
  });

  it('checks a file that names only sources as tidewatch up takes it (up adds data_dir and the pipelines)', async () => {
    const example = fileURLToPath(new URL('../../configs/up.yaml', import.meta.url));
    expect(await tidewatch(['validate', '--config', example])).toEqual({ code: 0, stdout: `${example}: ok (for tidewatch up, which adds data_dir and the pipelines)\n`, stderr: '' });
    const bad = await config('up-bad.yaml', 'log: { level: info }\nsources:\n  app: { type: file, include: ["/var/log/app/*.log"], multiline: { preset: docker, start_pattern: x } }\n');
    const r = await tidewatch(['validate', '--config', bad]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`${bad}:3: sources.app.multiline: preset docker joins a container runtime's split lines`);
    const reserved = await config('up-reserved.yaml', 'sources:\n  tidewatch_heartbeat: { type: file, include: ["/x/*.log"] }\n');
    expect((await tidewatch(['validate', '--config', reserved])).stderr).toContain('reserved');
    // With data_dir it is an agent or collector config, checked as such.
    const agent = await config('up-not.yaml', 'data_dir: /d\nsources:\n  app: { type: file, include: ["/var/log/app/*.log"] }\n');
    expect((await tidewatch(['validate', '--config', agent])).stdout).toBe(`${agent}: ok\n`);
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
