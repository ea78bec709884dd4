/**
 * The agent loads heavy stacks only when a config asks for them: the component list alone loads
 * no gRPC, protobuf or sdk-metrics code; an `otlp` source with gRPC off loads no gRPC. Checked in
 * a fresh process against dist/ with a module-resolution hook that reports what is loaded.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const DIST = new URL('../../dist/', import.meta.url);
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tw-lazy-'));
  await writeFile(
    join(dir, 'hook.mjs'),
    "export async function resolve(s, c, next) { const r = await next(s, c); if (/grpc|protobuf|sdk-metrics/.test(r.url)) process.stderr.write(`LOADED ${r.url}\\n`); return r; }\n",
  );
  await writeFile(join(dir, 'register.mjs'), `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hook.mjs')).href)});\n`);
  await writeFile(
    join(dir, 'run.mjs'),
    `const { components } = await import(${JSON.stringify(new URL('agent/components.js', DIST).href)});
const grpc = process.argv[2];
if (grpc !== undefined) {
  const { MemoryTelemetry } = await import(${JSON.stringify(new URL('core/telemetry.js', DIST).href)});
  const { silentLogger } = await import(${JSON.stringify(new URL('core/log.js', DIST).href)});
  const f = await components.find((c) => c.type === 'otlp').load();
  const s = f.create({ http_endpoint: '127.0.0.1:0', grpc_endpoint: grpc, max_body_bytes: 4096, max_in_flight: 1, max_in_flight_bytes: 1 << 20, retry_after_s: 1, read_timeout_ms: 1000, max_connections: 10, cumulative_to_delta: false, max_delta_series: 10 },
    { name: 'x', dataDir: '/tmp', telemetry: new MemoryTelemetry(), log: silentLogger, now: Date.now, agentId: 'a', hostName: 'h', bus: undefined, emit: async () => {} });
  await s.start();
  await s.stop();
}
// CommonJS packages (grpc-js) imported from ESM land in require.cache; on some Node versions
// (24) the resolve hook does not see them, so both are reported.
const { createRequire } = await import('node:module');
for (const k of Object.keys(createRequire(import.meta.url).cache)) if (/grpc|protobuf|sdk-metrics/.test(k)) process.stderr.write('LOADED ' + k + '\\n');
`,
  );
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function loaded(args: string[]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', join(dir, 'register.mjs'), join(dir, 'run.mjs'), ...args], (err, _out, stderr) => {
      if (err) return reject(new Error(`${err.message}\n${stderr}`));
      resolve(stderr.split('\n').filter((l) => l.startsWith('LOADED ')));
    });
  });
}

describe('lazy loading', () => {
  it('the component list loads no gRPC, protobuf or sdk-metrics code', async () => {
    expect(await loaded([])).toEqual([]);
  });
  it('an otlp source with gRPC off never loads @grpc/grpc-js; with gRPC on it does', async () => {
    expect(await loaded([''])).toEqual([]);
    expect((await loaded(['127.0.0.1:0'])).some((l) => l.includes('@grpc/grpc-js'))).toBe(true);
  });
});
