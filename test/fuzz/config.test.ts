/**
 * Bad input against the config loader (issue 11), with the real component lists of both
 * programs: the shipped example configs with values replaced at random paths (wrong types, huge,
 * negative, NaN, odd strings, invalid regexes and time zones), deep nesting, alias bombs, huge
 * files and `${VAR}` edge cases. Loading resolves or throws a located TidewatchError with a config
 * code; a config that loads also builds every component it names, or fails with a TidewatchError
 * naming it (what `tidewatch agent` / `collector` do next), never a raw SyntaxError or RangeError.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { parse as parseYaml, stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { allComponents } from '../../cli/commands/validate.js';
import type { ComponentContext, ComponentFactory, SourceContext } from '../../core/component.js';
import { parseConfig, type TidewatchConfig } from '../../core/config/load.js';
import { TidewatchError } from '../../core/errors.js';
import { silentLogger } from '../../core/log.js';
import { MemoryTelemetry } from '../../core/telemetry.js';
import { scale } from '../support/scale.js';

const RUNS = scale(150, 3000);
const components = allComponents();
const dataDir = mkdtempSync(join(tmpdir(), 'tw-fuzz-config-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const CONFIG_CODES = /^TW_(CONFIG_(SYNTAX|SCHEMA|ENV|WIRING)|COMPONENT_UNKNOWN)$/;

async function loadOrLocated(text: string, env: Record<string, string> = {}): Promise<TidewatchConfig | undefined> {
  try {
    return await parseConfig(text, 'f.yaml', { env, components });
  } catch (err) {
    if (!(err instanceof TidewatchError)) throw err;
    expect(err.code).toMatch(CONFIG_CODES);
    expect(err.message).toMatch(/^f\.yaml:\d+: /);
    expect(err.details['line']).toBeGreaterThanOrEqual(1);
    return undefined;
  }
}

const ctx: SourceContext & ComponentContext = {
  name: 'x',
  dataDir,
  telemetry: new MemoryTelemetry(),
  log: silentLogger,
  now: () => Date.UTC(2026, 10, 25),
  agentId: 'a1',
  hostName: 'h1',
  bus: undefined,
  emit: () => Promise.resolve(),
};

/** Builds every component of a loaded config (no start); only TidewatchErrors may come out. */
async function buildAll(cfg: TidewatchConfig): Promise<void> {
  for (const [section, role] of [['sources', 'source'], ['transforms', 'transform'], ['sinks', 'sink']] as const) {
    for (const [name, comp] of Object.entries(cfg[section])) {
      const entry = components.find((c) => c.role === role && c.type === comp.type)!;
      const factory = (await entry.load()) as ComponentFactory;
      const { type: _type, ...options } = comp;
      try {
        const built = (factory.create as (c: unknown, x: unknown) => { stop(): Promise<void> })(options, { ...ctx, name });
        await built.stop();
      } catch (err) {
        if (!(err instanceof TidewatchError)) {
          throw new Error(`${section}.${name} (${comp.type}): create threw ${(err as Error).name}: ${(err as Error).message}`, { cause: err });
        }
      }
    }
  }
}

const seeds = readdirSync('configs')
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => ({ file: f, text: readFileSync(join('configs', f), 'utf8') }));

/** Every path to a value in a JSON-ish tree. */
function paths(v: unknown, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(at);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...at, i], out));
  else if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) paths(x, [...at, k], out);
  return out;
}

function setAt(root: unknown, path: (string | number)[], value: unknown): unknown {
  if (path.length === 0) return value;
  let node: unknown = root;
  for (const seg of path.slice(0, -1)) {
    if (typeof node !== 'object' || node === null) return root;
    node = (node as Record<string | number, unknown>)[seg];
  }
  // An earlier edit may have replaced a parent by a scalar: then this edit has nowhere to go.
  if (typeof node === 'object' && node !== null) (node as Record<string | number, unknown>)[path[path.length - 1]!] = value;
  return root;
}

const nasty = fc.oneof(
  fc.constantFrom(
    -1, 0, 1.5, 1e308, -1e308, 2 ** 53 + 2, Number.MAX_SAFE_INTEGER, '', ' ', 'NaN', '.nan', '-.inf', 'null', '~', 'true', 'yes',
    '(', '[', '*', '(?<', 'a{2,1}', '\\', '(a+)+$', 'Mars/Olympus', 'UTC+25', '%Q', '%', '::', '0.0.0.0:99999', 'host:-1', '[::1', 'http://', '${', '$${X}',
    '__proto__', 'constructor', 'toString', [], {}, [[[]]], { __proto__: 1 }, null, true,
  ),
  fc.jsonValue({ maxDepth: 3 }),
  fc.string({ maxLength: 30 }),
  fc.integer(),
  fc.double(),
);

const oddString = fc.oneof(
  fc.constantFrom('(', '[', '*', '(?<', 'a{2,1}', '\\', '(a+)+$', '(?<x>a)(?<x>b)', 'Mars/Olympus', 'UTC+25', '+99:99', '%Q', '%', '%%%', '::', '0.0.0.0:99999', 'host:-1', '[::1', ':', 'http://', 'x==', '== y', 'a matches (', 'a in [', '%{NOPE:x}', '%{WORD', '', ' ', '.', '/', '\u0000', '__proto__', 'constructor'),
  fc.string({ maxLength: 20 }),
);

describe('config loader: the shipped configs with values replaced at random', () => {
  // How many edited configs passed the schemas and were built, over all files. Counted over all
  // of them: a config whose every field is tightly checked (agent-kafka.yaml) may, by chance, see
  // no valid edit in a small run.
  let builtTotal = 0;
  for (const seed of seeds) {
    it(seed.file, async () => {
      // up.yaml leaves data_dir to `tidewatch up`; the loader alone requires it.
      const tree = { data_dir: '/var/lib/tidewatch', ...(parseYaml(seed.text) as Record<string, unknown>) };
      const all = paths(tree);
      // Strings replaced by odd strings mostly pass the schemas: they reach the factories.
      const strings = all.filter((p) => typeof p.reduce<unknown>((n, k) => (n as Record<string | number, unknown>)[k], tree) === 'string');
      let built = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(fc.tuple(fc.nat(), fc.boolean(), nasty, oddString), { minLength: 1, maxLength: 3 }), async (edits) => {
          let t: unknown = structuredClone(tree);
          for (const [i, anywhere, v, str] of edits) {
            const p = anywhere ? paths(t)[i % all.length] : strings[i % strings.length];
            if (p !== undefined) t = setAt(t, p, anywhere ? structuredClone(v) : str);
          }
          const cfg = await loadOrLocated(stringify(t));
          if (cfg !== undefined) {
            await buildAll(cfg);
            built++;
          }
        }),
        { numRuns: Math.ceil(RUNS / seeds.length) * 2 },
      );
      builtTotal += built;
    });
  }
  it('reached the factories, not only the schema checks', () => {
    expect(builtTotal).toBeGreaterThan(0);
  });
});

describe('config loader: regressions found by the property above', () => {
  it('an oversized read_buffer_bytes is a schema error (was a RangeError from Buffer.allocUnsafe at start)', async () => {
    const err = await parseConfig('data_dir: /tmp\nsources:\n  app: { type: file, include: ["/x"], read_buffer_bytes: 4386425701334942 }\n', 'f.yaml', { env: {}, components }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TidewatchError);
    expect((err as TidewatchError).message).toMatch(/^f\.yaml:3: sources\.app\.read_buffer_bytes: /);
  });

  it('an invalid exclude pattern of host_metrics fails at start with TW_CONFIG_SCHEMA (was logged as an unreadable group every interval)', async () => {
    const cfg = await parseConfig('data_dir: /tmp\nsources:\n  h: { type: host_metrics, exclude_network_devices: ["lo", "("] }\n', 'f.yaml', { env: {}, components });
    const factory = (await components.find((c) => c.type === 'host_metrics')!.load()) as ComponentFactory;
    const { type: _t, ...options } = cfg.sources['h']!;
    expect(() => (factory.create as (c: unknown, x: unknown) => unknown)(options, { ...ctx, name: 'h' })).toThrow(
      expect.objectContaining({ code: 'TW_CONFIG_SCHEMA', message: expect.stringMatching(/^sources\.h\.exclude_network_devices\[1\]: Invalid regular expression/) }),
    );
  });

  it('an empty path_glob in a parse route is a located schema error (was a TypeError from picomatch at start)', async () => {
    for (const glob of ['""', '[""]', '["/var/log/*.log", ""]']) {
      const text = `data_dir: /tmp\ntransforms:\n  p:\n    type: parse\n    routes:\n      - match: { path_glob: ${glob} }\n        steps: [{ preset: json }]\n`;
      const err = await parseConfig(text, 'f.yaml', { env: {}, components }).catch((e: unknown) => e);
      expect(err, glob).toBeInstanceOf(TidewatchError);
      expect((err as TidewatchError).message, glob).toMatch(/^f\.yaml:6: transforms\.p\.routes\[0\]\.match\.path_glob/);
    }
  });

  it('a scrape target that is no URL fails with TW_CONFIG_SCHEMA (was a TypeError from new URL)', async () => {
    const cfg = await parseConfig('data_dir: /tmp\nsources:\n  s: { type: prometheus_scrape, targets: ["0.0.0.0:99999"] }\n', 'f.yaml', { env: {}, components });
    await expect(buildAll(cfg)).resolves.toBeUndefined();
    const entry = components.find((c) => c.type === 'prometheus_scrape')!;
    const factory = (await entry.load()) as ComponentFactory;
    const { type: _t, ...options } = cfg.sources['s']!;
    expect(() => (factory.create as (c: unknown, x: unknown) => unknown)(options, ctx)).toThrow(expect.objectContaining({ code: 'TW_CONFIG_SCHEMA', message: 'scrape target "0.0.0.0:99999": not a valid URL or host:port' }));
  });
});

describe('config loader: structure', () => {
  it('deep nesting, in block and flow style, is a located error, not a stack overflow', async () => {
    for (const depth of [100, 1000, scale(5000, 50_000)]) {
      const flow = `data_dir: /tmp\nsources: ${'['.repeat(depth)}${']'.repeat(depth)}\n`;
      const flowMap = `data_dir: /tmp\nsources: ${'{a: '.repeat(depth)}1${'}'.repeat(depth)}\n`;
      let block = 'data_dir: /tmp\nsources:\n';
      for (let i = 0; i < Math.min(depth, 2000); i++) block += `${' '.repeat(2 * (i + 1))}k${i}:\n`;
      for (const text of [flow, flowMap, block]) expect(await loadOrLocated(text)).toBeUndefined();
    }
  });

  it('an alias bomb is refused without expanding it', async () => {
    let text = 'a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n';
    for (let i = 1; i < 12; i++) text += `a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(', ')}]\n`;
    text += 'data_dir: /tmp\n';
    const rss0 = process.memoryUsage().rss;
    const err = await parseConfig(text, 'f.yaml', { env: {}, components }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TidewatchError);
    expect((err as TidewatchError).code).toMatch(CONFIG_CODES);
    expect(process.memoryUsage().rss - rss0).toBeLessThan(256 * 1024 * 1024);
  });

  it('a huge file (many components, long values) loads or fails in bounded time', async () => {
    const n = scale(2000, 20_000);
    let text = 'data_dir: /tmp\nsources:\n';
    for (let i = 0; i < n; i++) text += `  s${i}: { type: file, include: ["/var/log/${'x'.repeat(50)}${i}.log"] }\n`;
    text += `sinks:\n  out: { type: file, path: /tmp/o }\npipelines:\n  p: { sources: [${Array.from({ length: n }, (_, i) => `s${i}`).join(', ')}], sinks: [out] }\n`;
    text += `# ${'c'.repeat(1_000_000)}\n`;
    const cfg = await loadOrLocated(text);
    expect(cfg && Object.keys(cfg.sources).length).toBe(n);
    // A wrong type in the last of them is still found and located.
    const bad = text.replace(`s${n - 1}: { type: file, include: [`, `s${n - 1}: { type: file, max_line_bytes: -5, include: [`);
    const err = await parseConfig(bad, 'f.yaml', { env: {}, components }).catch((e: unknown) => e as TidewatchError);
    expect(err).toBeInstanceOf(TidewatchError);
    expect((err as TidewatchError).message).toContain(`sources.s${n - 1}.max_line_bytes`);
  });

  it('random bytes and YAML-ish text', async () => {
    const yamlish = fc.string({ unit: fc.constantFrom(...'ab:{}[]-,#&*!|>\'"$\n  1.~?<%@`\t\\'.split('')), maxLength: 200 });
    await fc.assert(
      fc.asyncProperty(fc.oneof(yamlish, fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('latin1'))), async (text) => {
        const cfg = await loadOrLocated(text);
        if (cfg !== undefined) await buildAll(cfg);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('config loader: ${VAR} edge cases', () => {
  const name = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,8}$/);
  it('a variable\'s value is taken as data: any text, never re-expanded, never changes the structure', async () => {
    await fc.assert(
      fc.asyncProperty(name, fc.string({ maxLength: 40 }), async (n, value) => {
        const text = `data_dir: "\${${n}}"\nsources:\n  app: { type: file, include: ["/x/\${${n}:-d}.log"] }\n`;
        const cfg = await loadOrLocated(text, { [n]: value });
        if (value === '') {
          // data_dir must not be empty; the default stands in for an empty variable.
          if (cfg !== undefined) expect(cfg.sources['app']!['include']).toEqual(['/x/d.log']);
          return;
        }
        expect(cfg, `value ${JSON.stringify(value)}`).toBeDefined();
        expect(cfg!.data_dir).toBe(value);
        expect(cfg!.sources['app']!['include']).toEqual([`/x/${value}.log`]);
        expect(Object.keys(cfg!.sources)).toEqual(['app']);
      }),
      { numRuns: RUNS },
    );
  });

  it('malformed and unset references are located TW_CONFIG_ENV errors', async () => {
    const ref = fc.constantFrom('${', '${}', '${ X}', '${X', '${1X}', '${X:-', '${X:-${Y}}', '${X-y}', '${X:=y}', '${UNSET_VAR_Q}', '$${', '$$${X}', '${X}}', '${X:-}');
    await fc.assert(
      fc.asyncProperty(ref, fc.string({ maxLength: 5 }), async (r, around) => {
        const text = `data_dir: /tmp\nsources:\n  app:\n    type: file\n    include: [${JSON.stringify(around + r + around)}]\n`;
        try {
          await parseConfig(text, 'f.yaml', { env: { X: 'x' }, components });
        } catch (err) {
          expect(err).toBeInstanceOf(TidewatchError);
          const e = err as TidewatchError;
          expect(e.code).toMatch(CONFIG_CODES);
          if (e.code === 'TW_CONFIG_ENV') expect(e.message).toMatch(/^f\.yaml:5: sources\.app\.include\[0\]: (malformed variable reference|environment variable \w+ is not set)/);
        }
      }),
      { numRuns: scale(100, 1000) },
    );
  });

  it('a huge variable value, and many references in one value', async () => {
    const big = 'v'.repeat(5_000_000);
    const cfg = await loadOrLocated(`data_dir: "\${BIG}"\n`, { BIG: big });
    expect(cfg?.data_dir.length).toBe(big.length);
    const many = Array(50_000).fill('${X}').join('/');
    const cfg2 = await loadOrLocated(`data_dir: "${many}"\n`, { X: 'x' });
    expect(cfg2?.data_dir).toBe(Array(50_000).fill('x').join('/'));
  });
});
