/**
 * The operator's install path, for real: `npm pack` the project, `npm install -g` the tarball into
 * a temporary prefix (dependencies from the npm registry; no native addon and no install script
 * but plain `node` ones, so no compiler), then run the installed `tidewatch`:
 * `--help`, and an agent with DESIGN.md's smallest config until SIGTERM.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { appendFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { until } from '../support/wait.js';

const run = promisify(execFile);
const ROOT = new URL('../..', import.meta.url).pathname;

/** npm's own npm_* variables (set when vitest runs under npx/npm) must not steer the nested npm. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.toLowerCase().startsWith('npm_')) env[k] = v;
  return env;
}

const dirs: string[] = [];
const children: ChildProcess[] = [];
afterAll(async () => {
  // A failed assertion must not leave the installed agent running.
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
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
    // npm 11 wants the prefix's lib/ to exist for a global install (ENOENT on lstat otherwise).
    await mkdir(join(prefix, 'lib'), { recursive: true });
    // Exactly what an operator types (plus --prefer-offline: the npm cache spares the registry).
    const installed = await run('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', '--prefer-offline', tarball], {
      cwd: dir,
      env,
      maxBuffer: 64 << 20,
    });
    expect(`${installed.stdout}${installed.stderr}`).not.toMatch(/gyp|prebuild|g\+\+|make: /i);
    // No compiler needed: nothing in the installed tree is a native addon or builds one, and the
    // only install-time scripts are plain `node` scripts (protobufjs' postinstall prints a notice;
    // tidewatch's own `prepare` sees no sources and does nothing).
    const pkgRoot = join(prefix, 'lib', 'node_modules', 'tidewatch');
    const native: string[] = [];
    const scripts: string[] = [];
    for (const f of await readdir(join(prefix, 'lib', 'node_modules'), { recursive: true })) {
      if (f.endsWith('binding.gyp') || f.endsWith('.node')) native.push(f);
      if (!f.endsWith('package.json') || !/(^|\/)node_modules\/(@[^/]+\/)?[^/]+\/package\.json$|^tidewatch\/package\.json$/.test(f)) continue;
      const meta = JSON.parse(await readFile(join(prefix, 'lib', 'node_modules', f), 'utf8')) as { name?: string; gypfile?: boolean; scripts?: Record<string, string> };
      if (meta.gypfile === true) native.push(f);
      // `prepare` runs at install only for the tarball itself, not for registry dependencies.
      const kinds = f === 'tidewatch/package.json' ? ['preinstall', 'install', 'postinstall', 'prepare'] : ['preinstall', 'install', 'postinstall'];
      for (const s of kinds) {
        const cmd = meta.scripts?.[s];
        if (cmd !== undefined) scripts.push(`${meta.name ?? f} ${s}: ${cmd}`);
      }
    }
    expect(native).toEqual([]);
    for (const s of scripts) expect(s).toMatch(/: node [\w./-]+$/);
    const prepared = await run(process.execPath, [join(pkgRoot, 'scripts', 'prepare.mjs')], { cwd: pkgRoot, env });
    expect(prepared.stdout).toContain('installed package, dist/ is prebuilt');
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
    children.push(child);
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const count = async (): Promise<number> => (await readFile(out, 'utf8')).split('\n').filter(Boolean).length;
    await until(async () => (await count()) === 120, '120 lines', 20_000);
    await appendFile(join(logs, 'a.log'), `${lines.slice(120).join('\n')}\n`);
    await until(async () => (await count()) === 200, '200 lines', 20_000);
    child.kill('SIGTERM');
    expect(await exited, stderr).toBe(0);
    const bodies = (await readFile(out, 'utf8')).trimEnd().split('\n').map((l) => (JSON.parse(l) as { body: string }).body);
    expect(bodies).toEqual(lines);
    // The installed tree is the packed one, not a link to this checkout.
    expect(await readdir(join(prefix, 'lib', 'node_modules', 'tidewatch', 'dist', 'cli'))).toContain('main.js');
  }, 300_000);
});
