import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ComponentEntry, SinkFactory, SourceFactory, TransformFactory } from '../../../core/component.js';
import { loadConfig, parseConfig } from '../../../core/config/load.js';
import { TidewatchError } from '../../../core/errors.js';

const fileSourceSchema = Type.Object(
  {
    include: Type.Array(Type.String(), { minItems: 1, description: 'globs' }),
    start_at: Type.Union([Type.Literal('beginning'), Type.Literal('end')], { default: 'end' }),
    max_line_bytes: Type.Integer({ minimum: 1, default: 65536 }),
    multiline: Type.Optional(Type.Object({ start_pattern: Type.String(), timeout_ms: Type.Integer({ default: 1000 }) })),
  },
  { additionalProperties: false },
);
const fileSource: SourceFactory<typeof fileSourceSchema> = {
  type: 'file',
  role: 'source',
  description: 'test',
  schema: fileSourceSchema,
  create: () => ({ start: async () => {}, stop: async () => {} }),
};
const fileSinkSchema = Type.Object({ path: Type.String({ minLength: 1 }), fsync: Type.Boolean({ default: false }) });
const fileSink: SinkFactory<typeof fileSinkSchema> = {
  type: 'file',
  role: 'sink',
  description: 'test',
  schema: fileSinkSchema,
  create: () => ({ start: async () => {}, stop: async () => {}, write: async () => {} }),
};
const parseSchema = Type.Object({ format: Type.String({ default: 'auto' }) });
const parse: TransformFactory<typeof parseSchema> = {
  type: 'parse',
  role: 'transform',
  description: 'test',
  schema: parseSchema,
  create: () => ({ start: async () => {}, stop: async () => {}, process: (e) => e }),
};

const loads: string[] = [];
const components: ComponentEntry[] = [
  { role: 'source', type: 'file', load: async () => (loads.push('source:file'), fileSource) },
  { role: 'sink', type: 'file', load: async () => (loads.push('sink:file'), fileSink) },
  { role: 'transform', type: 'parse', load: async () => (loads.push('transform:parse'), parse) },
  { role: 'sink', type: 'kafka', load: async () => { throw new Error('must not load kafka for a config that does not use it'); } },
];

const SMALLEST = `data_dir: /var/lib/tidewatch          # checkpoints, disk buffers, embedded store
sources:
  app: { type: file, include: ["/var/log/app/*.log"], start_at: beginning }
sinks:
  out: { type: file, path: /tmp/out.jsonl }
pipelines:
  logs: { sources: [app], sinks: [out] }
`;

async function fails(text: string, env: Record<string, string> = {}): Promise<TidewatchError> {
  try {
    await parseConfig(text, 'configs/x.yaml', { env, components });
  } catch (err) {
    expect(err).toBeInstanceOf(TidewatchError);
    return err as TidewatchError;
  }
  throw new Error('expected the config to be rejected');
}

describe('parseConfig', () => {
  it('loads DESIGN.md\'s smallest agent config, applying defaults, loading only the used factories', async () => {
    loads.length = 0;
    const cfg = await parseConfig(SMALLEST, 'a.yaml', { env: {}, components });
    expect(cfg).toEqual({
      file: 'a.yaml',
      data_dir: '/var/lib/tidewatch',
      agent: {},
      log: { level: 'info' },
      sources: { app: { type: 'file', include: ['/var/log/app/*.log'], start_at: 'beginning', max_line_bytes: 65536 } },
      transforms: {},
      sinks: { out: { type: 'file', path: '/tmp/out.jsonl', fsync: false } },
      pipelines: { logs: { sources: ['app'], transforms: [], sinks: ['out'] } },
    });
    expect(loads.sort()).toEqual(['sink:file', 'source:file']);
  });

  it('reports a typo\'d component key with file, line, key path and a suggestion', async () => {
    const err = await fails(SMALLEST.replace('include:', 'includ:'));
    expect(err.code).toBe('TW_CONFIG_SCHEMA');
    expect(err.message.split('\n')[0]).toBe('configs/x.yaml:3: sources.app.includ: unknown key (did you mean "include"?)');
    expect(err.details).toMatchObject({ file: 'configs/x.yaml', line: 3, key: 'sources.app.includ' });
    // The now-missing key is reported too.
    expect(err.message).toContain('sources.app.include: missing required key');
  });

  it('reports a typo\'d top-level key with a suggestion', async () => {
    const err = await fails(SMALLEST.replace('pipelines:', 'pipeline:'));
    expect(err.code).toBe('TW_CONFIG_SCHEMA');
    expect(err.message.split('\n')[0]).toBe('configs/x.yaml:6: pipeline: unknown key (did you mean "pipelines"?)');
  });

  it('reports a wrong type on the value\'s line, in block style too', async () => {
    const text = `data_dir: /d
sources:
  app:
    type: file
    include: ["/x"]
    max_line_bytes: lots
sinks: { out: { type: file, path: /o } }
pipelines: { logs: { sources: [app], sinks: [out] } }
`;
    const err = await fails(text);
    expect(err.code).toBe('TW_CONFIG_SCHEMA');
    expect(err.message).toBe('configs/x.yaml:6: sources.app.max_line_bytes: expected integer (got "lots")');
    expect(err.details).toMatchObject({ line: 6, key: 'sources.app.max_line_bytes' });
  });

  it('lists the allowed values of an enum', async () => {
    const err = await fails(SMALLEST.replace('start_at: beginning', 'start_at: begining'));
    expect(err.message).toBe('configs/x.yaml:3: sources.app.start_at: expected one of "beginning", "end" (got "begining")');
  });

  it('points list items at their own line', async () => {
    const text = `data_dir: /d
sources:
  app:
    type: file
    include:
      - /a
      - 42
sinks: { out: { type: file, path: /o } }
pipelines: { logs: { sources: [app], sinks: [out] } }
`;
    const err = await fails(text);
    expect(err.message).toBe('configs/x.yaml:7: sources.app.include[1]: expected string (got 42)');
  });

  it('reports unknown keys in nested option objects, and a missing data_dir', async () => {
    const text = `sources:
  app: { type: file, include: [/a], multiline: { start_pattern: "^x", timout_ms: 5 } }
sinks: { out: { type: file, path: /o } }
pipelines: { logs: { sources: [app], sinks: [out] } }
`;
    const err = await fails(text);
    expect(err.code).toBe('TW_CONFIG_SCHEMA');
    expect(err.message).toBe('configs/x.yaml:1: data_dir: missing required key');
    const err2 = await fails(`data_dir: /d\n${text}`);
    expect(err2.message).toBe('configs/x.yaml:3: sources.app.multiline.timout_ms: unknown key (did you mean "timeout_ms"?)');
  });

  it('treats an object schema without additionalProperties as closed', async () => {
    const err = await fails(SMALLEST.replace('path: /tmp/out.jsonl', 'path: /tmp/out.jsonl, fsnyc: true'));
    expect(err.message).toBe('configs/x.yaml:5: sinks.out.fsnyc: unknown key (did you mean "fsync"?)');
  });

  it('rejects a component type no program ships, suggesting the closest', async () => {
    const err = await fails(SMALLEST.replace('{ type: file, include', '{ type: fiel, include'));
    expect(err.code).toBe('TW_COMPONENT_UNKNOWN');
    expect(err.message).toBe('configs/x.yaml:3: sources.app.type: unknown source type "fiel" (did you mean "file"?)');
    const err2 = await fails(SMALLEST.replace('{ type: file, include', '{ type: kafka, include'));
    expect(err2.message).toBe('configs/x.yaml:3: sources.app.type: unknown source type "kafka" ("kafka" is a sink; source types here: file)');
  });

  it('checks pipeline wiring: undefined names, wrong roles, duplicates', async () => {
    const e1 = await fails(SMALLEST.replace('sources: [app]', 'sources: [ap]'));
    expect(e1.code).toBe('TW_CONFIG_WIRING');
    expect(e1.message).toBe('configs/x.yaml:7: pipelines.logs.sources[0]: no source named "ap" (did you mean "app"?)');
    const e2 = await fails(SMALLEST.replace('sinks: [out]', 'sinks: [app]'));
    expect(e2.message).toBe('configs/x.yaml:7: pipelines.logs.sinks[0]: "app" is a source, not a sink');
    const e3 = await fails(SMALLEST.replace('sinks: [out]', 'sinks: [out, out]'));
    expect(e3.message).toBe('configs/x.yaml:7: pipelines.logs.sinks[1]: "out" is listed twice');
    const e4 = await fails(SMALLEST.replace('sinks: [out]', 'sinks: []'));
    expect(e4.code).toBe('TW_CONFIG_SCHEMA');
    expect(e4.message).toBe('configs/x.yaml:7: pipelines.logs.sinks: expected array length to be greater or equal to 1 (got a list)');
  });

  it('keeps transforms in the order the pipeline lists them', async () => {
    const text = `${SMALLEST.replace('sources: [app], sinks', 'sources: [app], transforms: [b, a], sinks')}transforms:\n  a: { type: parse }\n  b: { type: parse, format: json }\n`;
    const cfg = await parseConfig(text, 'x', { env: {}, components });
    expect(cfg.pipelines['logs']?.transforms).toEqual(['b', 'a']);
    expect(cfg.transforms).toEqual({ a: { type: 'parse', format: 'auto' }, b: { type: 'parse', format: 'json' } });
  });

  it('rejects invalid component names', async () => {
    const err = await fails(SMALLEST.replace('  app: {', '  a/b: {'));
    expect(err.code).toBe('TW_CONFIG_SCHEMA');
    expect(err.message.split('\n')[0]).toMatch(/^configs\/x\.yaml:3: sources\.a\/b: invalid name/);
  });

  it('treats __proto__ and inherited names as names, never as the prototype', async () => {
    const e1 = await fails(SMALLEST.replace('  app: {', '  __proto__: {'));
    expect(e1.message.split('\n')[0]).toMatch(/^configs\/x\.yaml:3: sources\.__proto__: invalid name/);
    const e2 = await fails(SMALLEST.replace('sources: [app]', 'sources: [toString]'));
    expect(e2.code).toBe('TW_CONFIG_WIRING');
    expect(e2.message).toContain('no source named "toString"');
  });

  it('reports YAML syntax errors and duplicate keys with their line', async () => {
    const e1 = await fails('data_dir: /d\nsources:\n  app: { type: file\n');
    expect(e1.code).toBe('TW_CONFIG_SYNTAX');
    expect(e1.message).toMatch(/^configs\/x\.yaml:\d+: invalid YAML: /);
    const e2 = await fails('data_dir: /d\nsources: {}\ndata_dir: /e\n');
    expect(e2.code).toBe('TW_CONFIG_SYNTAX');
    expect(e2.details['line']).toBe(3);
    expect(e2.message).toMatch(/unique/);
  });

  it('regression: an alias without its anchor is a located syntax error, not a ReferenceError', async () => {
    const err = await fails('data_dir: /d\nsources:\n  app: *nowhere\n');
    expect(err.code).toBe('TW_CONFIG_SYNTAX');
    expect(err.message).toMatch(/^configs\/x\.yaml:3: invalid YAML: /);
  });

  it('rejects an empty document and a non-map document', async () => {
    expect((await fails('# nothing\n')).message).toMatch(/^configs\/x\.yaml:1: the config is empty/);
    expect((await fails('- a\n- b\n')).message).toBe('configs/x.yaml:1: expected a map at the top level (got a list)');
  });

  it('accepts agent identity and log level, and rejects a bad level', async () => {
    const cfg = await parseConfig(`${SMALLEST}agent: { id: a1b2, host_name: web-1 }\nlog: { level: debug }\n`, 'x', { env: {}, components });
    expect(cfg.agent).toEqual({ id: 'a1b2', host_name: 'web-1' });
    expect(cfg.log).toEqual({ level: 'debug' });
    const err = await fails(`${SMALLEST}log: { level: verbose }\n`);
    expect(err.message).toBe('configs/x.yaml:8: log.level: expected one of "debug", "info", "warn", "error" (got "verbose")');
  });

  it('accepts a config without pipelines or sinks (sources only, for `up`)', async () => {
    const cfg = await parseConfig('data_dir: /d\nsources:\n  app: { type: file, include: [/a] }\n', 'x', { env: {}, components });
    expect(cfg.pipelines).toEqual({});
    expect(cfg.sinks).toEqual({});
  });

  it('merges YAML anchors (<<) into components', async () => {
    const text = `data_dir: /d
x-common: &common { type: file, include: [/a] }
sources:
  app: { <<: *common, start_at: beginning }
`;
    // A top-level helper key is still an unknown key: anchors live inside the sections.
    expect((await fails(text)).message).toBe('configs/x.yaml:2: x-common: unknown key');
    const ok = `data_dir: /d
sources:
  one: &common { type: file, include: [/a] }
  two: { <<: *common, start_at: beginning }
`;
    const cfg = await parseConfig(ok, 'x', { env: {}, components });
    expect(cfg.sources['two']).toMatchObject({ type: 'file', include: ['/a'], start_at: 'beginning' });
  });
});

describe('parseConfig on any input', () => {
  it('resolves or throws a located TidewatchError, never anything else', async () => {
    const yamlish = fc.string({ unit: fc.constantFrom(...'ab:{}[]-,#&*!|>\'"$\n  1.~?<'.split('')), maxLength: 80 });
    await fc.assert(
      fc.asyncProperty(fc.oneof(yamlish, fc.tuple(fc.nat(SMALLEST.length), yamlish).map(([at, ins]) => SMALLEST.slice(0, at) + ins + SMALLEST.slice(at))), async (text) => {
        try {
          await parseConfig(text, 'f.yaml', { env: { a: '1' }, components });
        } catch (err) {
          expect(err).toBeInstanceOf(TidewatchError);
          const e = err as TidewatchError;
          expect(e.code).toMatch(/^TW_(CONFIG_(SYNTAX|SCHEMA|ENV|WIRING)|COMPONENT_UNKNOWN)$/);
          expect(e.message).toMatch(/^f\.yaml:\d+: /);
          expect(e.details['line']).toBeGreaterThanOrEqual(1);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('${VAR} expansion', () => {
  // A replacer function: a replacement string would turn `$$` into `$`.
  const base = (inc: string): string => SMALLEST.replace('["/var/log/app/*.log"]', () => inc);

  it('expands variables and defaults in values, not in comments or keys', async () => {
    const text = `${base('["${LOGS}/*.log", "${MISSING:-/srv}/x.log", "${EMPTY:-/e}", "$${LITERAL}"]')}# \${NOT_SET} in a comment is ignored\n`;
    const cfg = await parseConfig(text, 'x', { env: { LOGS: '/var/log/app', EMPTY: '' }, components });
    expect(cfg.sources['app']?.['include']).toEqual(['/var/log/app/*.log', '/srv/x.log', '/e', '${LITERAL}']);
  });

  it('turns an expanded value into a number or boolean only where the schema asks for one', async () => {
    const text = `data_dir: /d
sources:
  app:
    type: file
    include: [/a]
    max_line_bytes: \${MAX}
  two: { type: file, include: ["\${MAX}"], max_line_bytes: "\${MAX}" }
sinks:
  out: { type: file, path: "\${MAX}", fsync: "\${SYNC:-true}" }
pipelines: { logs: { sources: [app], sinks: [out] } }
`;
    const cfg = await parseConfig(text, 'x', { env: { MAX: '4096' }, components });
    expect(cfg.sources['app']?.['max_line_bytes']).toBe(4096);
    expect(cfg.sources['two']).toMatchObject({ include: ['4096'], max_line_bytes: 4096 });
    expect(cfg.sinks['out']).toMatchObject({ path: '4096', fsync: true });
    const bad = await fails(text, { MAX: 'big' });
    expect(bad.message.split('\n')[0]).toBe('configs/x.yaml:6: sources.app.max_line_bytes: expected integer (got "big")');
  });

  it('never converts a literal string: a quoted number is a type error', async () => {
    const err = await fails(SMALLEST.replace('start_at: beginning', 'max_line_bytes: "4096"'));
    expect(err.message).toBe('configs/x.yaml:3: sources.app.max_line_bytes: expected integer (got "4096")');
  });

  it('hints at quoting when an unquoted ${VAR} breaks a flow map', async () => {
    const err = await fails(SMALLEST.replace('start_at: beginning', 'max_line_bytes: ${MAX}'), { MAX: '1' });
    expect(err.code).toBe('TW_CONFIG_SYNTAX');
    expect(err.message).toMatch(/^configs\/x\.yaml:3: invalid YAML: .*quote variable references: "\$\{VAR\}"\)$/);
  });

  it('fails on an unset variable without default, naming it, the file and the line', async () => {
    const err = await fails(base('["${LOG_DIR}/*.log"]'));
    expect(err.code).toBe('TW_CONFIG_ENV');
    expect(err.message).toBe(
      'configs/x.yaml:3: sources.app.include[0]: environment variable LOG_DIR is not set (write ${LOG_DIR:-default} to give a default)',
    );
    expect(err.details).toMatchObject({ file: 'configs/x.yaml', line: 3, key: 'sources.app.include[0]' });
  });

  it('fails on a malformed reference', async () => {
    const err = await fails(base('["${LOG DIR}/*.log"]'));
    expect(err.code).toBe('TW_CONFIG_ENV');
    expect(err.message).toMatch(/^configs\/x\.yaml:3: sources\.app\.include\[0\]: malformed variable reference "\$\{LOG DIR\}"/);
  });
});

describe('loadConfig', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tw-config-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a file and names it in errors', async () => {
    const file = join(dir, 'a.yaml');
    await writeFile(file, SMALLEST);
    const cfg = await loadConfig(file, { env: {}, components });
    expect(cfg.file).toBe(file);
    await writeFile(file, SMALLEST.replace('path:', 'pth:'));
    await expect(loadConfig(file, { env: {}, components })).rejects.toMatchObject({
      code: 'TW_CONFIG_SCHEMA',
      details: { file, line: 5, key: 'sinks.out.pth' },
    });
  });

  it('reports a missing file as TW_CONFIG_READ', async () => {
    await expect(loadConfig(join(dir, 'nope.yaml'), { env: {}, components })).rejects.toMatchObject({
      code: 'TW_CONFIG_READ',
      message: `${join(dir, 'nope.yaml')}: cannot read config: no such file`,
    });
  });
});
