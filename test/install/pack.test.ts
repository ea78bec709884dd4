/**
 * The operator's install path, for real: `npm pack` the project, `npm install -g` the tarball into
 * a temporary prefix (dependencies from the npm registry, no compiler: --strict-allow-scripts makes
 * any dependency with an install script fail the install), then run the installed `tidewatch`:
 * `--help`, and an agent with DESIGN.md's smallest config until SIGTERM.
 */
import { execFile, spawn } from 'node:child_process';
import { appendFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = new URL('../..', import.meta.url).pathname;

/** npm's own npm_* variables (set when vitest runs under npx/npm) must not steer the nested npm. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.toLowerCase().startsWith('npm_')) env[k] = v;
  return env;
}

async function waitFor(fn: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await fn().catch(() => false))) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('npm pack + npm install -g of the tarball', () => {
  it('installs a working tidewatch command that runs the smallest agent config', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tw-pack-'));
    dirs.push(dir);
    const env = cleanEnv();

    // npm pack runs `prepare` (dist/ up to date) and keeps only package.json `files`.
    const packed = await run('npm', ['pack', '--json', '--pack-destination', dir], { cwd: ROOT, env, maxBuffer: 64 << 20 });
    const info = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[];
    const paths = info[0]!.files.map((f) => f.path);
    expect(paths).toContain('dist/cli/main.js');
    expect(paths).toContain('dist/agent/sources/file.js');
    expect(paths).toContain('bin/tidewatch.js');
    // What runs is compiled JavaScript: no tests, benches or TypeScript sources ride along.
    expect(paths.filter((p) => /^(test|bench|node_modules)\//.test(p) || (p.endsWith('.ts') && !p.endsWith('.d.ts')))).toEqual([]);
    const tarball = join(dir, info[0]!.filename);

    const prefix = join(dir, 'prefix');
    await mkdir(prefix);
    // --strict-allow-scripts: a dependency that wants an install script (a native build) fails
    // the install instead of running it, so passing proves no compiler is needed.
    await run('npm', ['install', '-g', '--prefix', prefix, '--strict-allow-scripts', '--no-audit', '--no-fund', '--prefer-offline', tarball], {
      cwd: dir,
      env,
      maxBuffer: 64 << 20,
    });
    const bin = join(prefix, 'bin', 'tidewatch');

    const help = await run(bin, ['--help'], { env });
    expect(help.stdout).toMatch(/^Usage: tidewatch <command>/);
    expect(help.stdout).toContain('agent');
    const version = await run(bin, ['--version'], { env });
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(version.stdout.trim()).toBe(`tidewatch ${pkg.version}`);

    // DESIGN.md's smallest agent config, paths moved under the temporary directory.
    const logs = join(dir, 'var', 'log', 'app');
    await mkdir(logs, { recursive: true });
    const out = join(dir, 'out.jsonl');
    const lines = Array.from({ length: 200 }, (_, i) => `2026-11-25T10:00:00Z INFO request ${i} served`);
    await writeFile(join(logs, 'a.log'), `${lines.slice(0, 120).join('\n')}\n`);
    const config = join(dir, 'agent.yaml');
    await writeFile(
      config,
      [
        `data_dir: ${join(dir, 'data')}`,
        'sources:',
        `  app: { type: file, include: ["${logs}/*.log"], start_at: beginning }`,
        'sinks:',
        `  out: { type: file, path: ${out} }`,
        'pipelines:',
        '  logs: { sources: [app], sinks: [out] }',
        '',
      ].join('\n'),
    );
    // Run from an unrelated directory: the installed command must not lean on the checkout.
    const child = spawn(bin, ['agent', '--config', config], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const count = async (): Promise<number> => (await readFile(out, 'utf8')).split('\n').filter(Boolean).length;
    await waitFor(async () => (await count()) === 120, 20_000, '120 lines');
    await appendFile(join(logs, 'a.log'), `${lines.slice(120).join('\n')}\n`);
    await waitFor(async () => (await count()) === 200, 20_000, '200 lines');
    child.kill('SIGTERM');
    expect(await exited, stderr).toBe(0);
    const bodies = (await readFile(out, 'utf8')).trimEnd().split('\n').map((l) => (JSON.parse(l) as { body: string }).body);
    expect(bodies).toEqual(lines);
    // The installed tree is the packed one, not a link to this checkout.
    expect(await readdir(join(prefix, 'lib', 'node_modules', 'tidewatch', 'dist', 'cli'))).toContain('main.js');
  }, 300_000);
});
