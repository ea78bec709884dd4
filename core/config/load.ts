/**
 * Loads a tidewatch config: YAML → `${VAR}` expansion → top-level schema → each component's own
 * schema (defaults applied) → pipeline wiring. Config fails fast (STYLE.md rule 4): every problem
 * is a TidewatchError whose message starts `FILE:LINE: key.path: what is wrong`, and whose
 * `details` carry `{ file, line, key }` of the first problem (plus `issues`, all of them).
 *
 * Only the factories of the component types the config names are loaded (ComponentEntry.load),
 * so validating an agent config never imports the collector's heavy parts.
 */
import { readFile } from 'node:fs/promises';
import { LineCounter, isMap, isPair, isScalar, isSeq, parseDocument, visit, type Document, type Node, type Scalar } from 'yaml';
import type { ComponentEntry, ComponentFactory, Role, SourceContext } from '../component.js';
import { silentLogger } from '../log.js';
import { MemoryTelemetry } from '../telemetry.js';
import { TidewatchError, type ErrorCode } from '../errors.js';
import { redactSecrets, registerConfigSecrets, registerSecretVars } from '../secrets.js';
import { checkValue, didYouMean, show, type Issue, type Path } from './check.js';
import { expandEnv, type Env } from './env.js';
import { TopLevelSchema, type TopLevel } from './schema.js';

export interface ComponentConfig {
  type: string;
  /** Options, validated against the component's schema, defaults applied. */
  [option: string]: unknown;
}

export interface PipelineConfig {
  sources: string[];
  /** In the order the batches pass through them. */
  transforms: string[];
  sinks: string[];
}

export interface TidewatchConfig {
  /** The path it was loaded from (`<inline>` for strings given to parseConfig without a name). */
  file: string;
  data_dir: string;
  agent: { id?: string; host_name?: string };
  log: { level: 'debug' | 'info' | 'warn' | 'error' };
  sources: Record<string, ComponentConfig>;
  transforms: Record<string, ComponentConfig>;
  sinks: Record<string, ComponentConfig>;
  pipelines: Record<string, PipelineConfig>;
}

export interface LoadOptions {
  env: Env;
  /** The program's component list (agent/components.ts, collector/components.ts, or both). */
  components: readonly ComponentEntry[];
  /**
   * Also build every component (`create`, never `start`: nothing listens, connects or writes),
   * so what a factory checks beyond its schema (patterns, presets, options that exclude each
   * other, a listener off loopback without a token) is reported here, located like a schema
   * problem. `tidewatch validate` sets it; the programs build their components anyway.
   */
  build?: boolean;
}

/** One problem found in a config, located. */
export interface ConfigIssue {
  line: number;
  /** Dotted key path (`sources.app.include[0]`); empty for the document as a whole. */
  key: string;
  message: string;
}

export async function loadConfig(file: string, opts: LoadOptions): Promise<TidewatchConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : String(code ?? err);
    throw new TidewatchError('TW_CONFIG_READ', `${file}: cannot read config: ${why}`, { file }, { cause: err });
  }
  return parseConfig(text, file, opts);
}

const SECTIONS = [
  ['sources', 'source'],
  ['transforms', 'transform'],
  ['sinks', 'sink'],
] as const satisfies readonly (readonly [keyof TopLevel, Role])[];

export async function parseConfig(text: string, file: string, opts: LoadOptions): Promise<TidewatchConfig> {
  const name = file === '' ? '<inline>' : file;
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true, merge: true });
  const where = new Locator(doc, lines, name);

  // Only the first syntax error: the ones after it are mostly its echoes.
  const syntax = doc.errors[0];
  if (syntax !== undefined) {
    const line = syntax.linePos?.[0].line ?? 1;
    const source = text.split('\n')[line - 1] ?? '';
    // `${VAR}` is a plain scalar in block style, but `{` ends it inside `{ }` or `[ ]`.
    const hint = /(^|[^"'])\$\{/.test(source) && /[{[]/.test(source) ? ' (inside { } or [ ], quote variable references: "${VAR}")' : '';
    where.fail('TW_CONFIG_SYNTAX', [{ line, key: '', message: `invalid YAML: ${firstLine(syntax.message)}${hint}` }]);
  }

  const expandedPaths = new Set<string>();
  where.fail('TW_CONFIG_ENV', expandDocument(doc, opts.env, where, expandedPaths));
  const expanded = (path: Path): boolean => expandedPaths.has(keyPath(path));

  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    // An alias without its anchor, or an alias bomb: yaml reports these only when resolving.
    let line = 1;
    visit(doc, {
      Alias(_k, node) {
        if (node.resolve(doc) !== undefined) return undefined;
        line = where.lineOf(node) ?? 1;
        return visit.BREAK;
      },
    });
    where.fail('TW_CONFIG_SYNTAX', [{ line, key: '', message: `invalid YAML: ${firstLine((err as Error).message)}` }]);
  }
  // Secrets (values under secret keys, URL credentials) are known before any message could show them.
  registerConfigSecrets(raw);
  if (raw === null || raw === undefined) where.fail('TW_CONFIG_SCHEMA', [{ line: 1, key: '', message: 'the config is empty (expected a map with data_dir, sources, sinks, pipelines)' }]);
  if (typeof raw !== 'object' || Array.isArray(raw)) where.fail('TW_CONFIG_SCHEMA', [{ line: 1, key: '', message: `expected a map at the top level (got ${show(raw)})` }]);

  const top = checkValue(TopLevelSchema, raw, [], expanded);
  where.fail('TW_CONFIG_SCHEMA', top.issues.map((i) => where.issue(i)));
  const cfg = top.value as TopLevel;

  const out: TidewatchConfig = {
    file: name,
    data_dir: cfg.data_dir,
    agent: { ...cfg.agent },
    log: { level: cfg.log?.level ?? 'info' },
    sources: {},
    transforms: {},
    sinks: {},
    pipelines: {},
  };

  // Components: the type must be one this program ships, then the options must fit its schema.
  const unknown: ConfigIssue[] = [];
  const invalid: ConfigIssue[] = [];
  /** What factories refused when built (opts.build), by error code. */
  const refused = new Map<ErrorCode, ConfigIssue[]>();
  const factories = new Map<ComponentEntry, Promise<ComponentFactory>>();
  for (const [section, role] of SECTIONS) {
    for (const [compName, comp] of Object.entries(cfg[section] ?? {})) {
      const path = [section, compName] as const;
      const entry = opts.components.find((c) => c.role === role && c.type === comp.type);
      if (entry === undefined) {
        unknown.push(where.issue({ path: [...path, 'type'], at: 'value', message: unknownType(role, comp.type, opts.components) }));
        continue;
      }
      let loading = factories.get(entry);
      if (loading === undefined) {
        loading = entry.load();
        factories.set(entry, loading);
      }
      const factory = await loading;
      if (factory.role !== role || factory.type !== entry.type) {
        throw new TidewatchError('TW_INTERNAL', `component list entry ${role} "${entry.type}" loads the ${factory.role} "${factory.type}"`);
      }
      const { type, ...options } = comp;
      const checked = checkValue(factory.schema, options, path, expanded);
      invalid.push(...checked.issues.map((i) => where.issue(i)));
      out[section][compName] = { ...(checked.value as Record<string, unknown>), type };
      if (opts.build === true && checked.issues.length === 0) {
        try {
          dryBuild(factory, checked.value, compName, cfg.data_dir);
        } catch (err) {
          const code = err instanceof TidewatchError ? err.code : 'TW_CONFIG_SCHEMA';
          const list = refused.get(code) ?? [];
          list.push(where.issue(refusal(path, (err as Error).message)));
          refused.set(code, list);
        }
      }
    }
  }
  where.fail('TW_COMPONENT_UNKNOWN', unknown);
  where.fail('TW_CONFIG_SCHEMA', invalid);
  for (const [code, issues] of refused) where.fail(code, issues);

  // Wiring: every name a pipeline lists must exist, in the right section, once.
  const wiring: ConfigIssue[] = [];
  for (const [pipeName, p] of Object.entries(cfg.pipelines ?? {})) {
    const lists = { sources: p.sources, transforms: p.transforms ?? [], sinks: p.sinks };
    for (const [section, role] of SECTIONS) {
      const seen = new Set<string>();
      lists[section].forEach((ref, i) => {
        const path = ['pipelines', pipeName, section, i];
        if (seen.has(ref)) wiring.push(where.issue({ path, at: 'value', message: `"${ref}" is listed twice` }));
        seen.add(ref);
        // Own keys only: a pipeline naming "toString" must not find Object.prototype's.
        if (Object.hasOwn(out[section], ref)) return;
        const other = SECTIONS.find(([s]) => s !== section && Object.hasOwn(out[s], ref));
        const hint = didYouMean(ref, Object.keys(out[section]));
        const message =
          other !== undefined
            ? `"${ref}" is a ${other[1]}, not a ${role}`
            : `no ${role} named "${ref}" (${hint !== undefined ? `did you mean "${hint}"?` : `defined: ${listOrNone(Object.keys(out[section]))}`})`;
        wiring.push(where.issue({ path, at: 'value', message }));
      });
    }
    out.pipelines[pipeName] = { sources: [...lists.sources], transforms: [...lists.transforms], sinks: [...lists.sinks] };
  }
  where.fail('TW_CONFIG_WIRING', wiring);

  return out;
}

function unknownType(role: Role, type: string, components: readonly ComponentEntry[]): string {
  const ours = components.filter((c) => c.role === role).map((c) => c.type);
  const hint = didYouMean(type, ours);
  const elsewhere = components.find((c) => c.type === type);
  const because =
    hint !== undefined
      ? ` (did you mean "${hint}"?)`
      : elsewhere !== undefined
        ? ` ("${type}" is a ${elsewhere.role}; ${role} types here: ${listOrNone(ours)})`
        : ` (${role} types here: ${listOrNone(ours)})`;
  return `unknown ${role} type "${type}"${because}`;
}

function listOrNone(names: readonly string[]): string {
  return names.length === 0 ? 'none' : [...new Set(names)].sort().join(', ');
}

function firstLine(s: string): string {
  const line = s.split('\n')[0] ?? s;
  return line.replace(/ at line \d+, column \d+:?$/, '');
}

/** Formats a key path: `sources.app.include[0]`. */
export function keyPath(path: Path): string {
  let s = '';
  for (const seg of path) s += typeof seg === 'number' ? `[${seg}]` : s === '' ? seg : `.${seg}`;
  return s;
}

/**
 * Expands `${VAR}` in every scalar value (never in keys, never in comments: a value with `#` or
 * `: ` cannot change the document's structure, as it would with text substitution). Expanded
 * values stay strings here; their paths are recorded so that checkValue turns them into numbers
 * or booleans where the component's schema asks for one.
 */
function expandDocument(doc: Document, env: Env, where: Locator, expandedPaths: Set<string>): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  visit(doc, {
    Scalar(key, node, ancestors) {
      if (key === 'key' || typeof node.value !== 'string') return;
      // Before anything can echo it: `${KAFKA_PASSWORD}`'s value is a secret wherever it lands.
      registerSecretVars(node.value, env);
      const r = expandEnv(node.value, env);
      const k = keyPath(pathOf(ancestors, node));
      if (!r.ok) {
        const line = where.lineOf(node) ?? 1;
        issues.push({
          line,
          key: k,
          message:
            r.reason === 'missing'
              ? `environment variable ${r.name} is not set (write \${${r.name}:-default} to give a default)`
              : `malformed variable reference ${JSON.stringify(r.text)} (expected \${NAME} or \${NAME:-default}; write $\${ for a literal \${)`,
        });
        return;
      }
      if (!r.expanded) return;
      node.value = r.value;
      expandedPaths.add(k);
    },
  });
  return issues;
}

function pathOf(ancestors: readonly unknown[], node: unknown): (string | number)[] {
  const path: (string | number)[] = [];
  const chain = [...ancestors, node];
  for (let i = 0; i < chain.length - 1; i++) {
    const a = chain[i];
    const next = chain[i + 1];
    if (isPair(a) && isScalar(a.key)) path.push(String(a.key.value));
    else if (isSeq(a)) path.push(a.items.indexOf(next as Node));
  }
  return path;
}

/** Maps key paths to lines, and turns issues into one TidewatchError. */
class Locator {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
    private readonly file: string,
  ) {}

  lineOf(node: Node | Scalar | null | undefined): number | undefined {
    const start = node?.range?.[0];
    return start === undefined ? undefined : this.lines.linePos(start).line;
  }

  issue(i: Issue): ConfigIssue {
    return { line: this.locate(i.path, i.at), key: keyPath(i.path), message: i.message };
  }

  /**
   * The line of a key path: a map entry's key line (what the operator edits), a list item's own
   * line; for a missing key, its parent's line. Falls back to the deepest ancestor found (aliases,
   * merged keys).
   */
  private locate(path: Path, at: Issue['at']): number {
    const target = at === 'parent' ? path.slice(0, -1) : path;
    let node: unknown = this.doc.contents;
    let line = this.lineOf(node as Node) ?? 1;
    for (const seg of target) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
        if (pair === undefined) return line;
        line = this.lineOf(pair.key as Node) ?? line;
        node = pair.value;
      } else if (isSeq(node) && typeof seg === 'number') {
        const item = node.items[seg];
        if (item === undefined) return line;
        line = this.lineOf(item as Node) ?? line;
        node = item;
      } else {
        return line;
      }
    }
    return line;
  }

  fail(code: ErrorCode, issues: readonly ConfigIssue[]): void {
    if (issues.length === 0) return;
    const fmt = (i: ConfigIssue): string => `${this.file}:${i.line}: ${i.key === '' ? '' : `${i.key}: `}${i.message}`;
    const [first, ...rest] = issues as [ConfigIssue, ...ConfigIssue[]];
    const more = rest.length === 0 ? '' : `\n${rest.map((i) => `  ${fmt(i)}`).join('\n')}`;
    // A value echoed in a message (`got "..."`) may be a secret registered from elsewhere in the
    // config, or the value of a `${..._TOKEN}`: masked here, so the error is safe wherever it goes.
    throw new TidewatchError(code, redactSecrets(fmt(first) + more), { file: this.file, line: first.line, key: first.key, issues });
  }
}

/**
 * A factory's refusal, located at the key its message names: factories write `sources.app.x: why`
 * or `app: routes[0].steps[1].regex.pattern: why`; else at the component.
 */
function refusal(path: readonly [string, string], message: string): Issue {
  const [section, name] = path;
  let rest = message;
  for (const prefix of [`${section}.${name}`, name]) {
    if (rest.startsWith(`${prefix}.`) || rest.startsWith(`${prefix}[`) || rest.startsWith(`${prefix}: `)) {
      rest = rest.slice(prefix.length).replace(/^: /, '');
      break;
    }
  }
  const m = /^\.?((?:[A-Za-z0-9_-]+|\[\d+\])(?:\.[A-Za-z0-9_-]+|\[\d+\])*): (.*)$/s.exec(rest);
  if (rest === message || m === null) return { path, at: 'key', message };
  const sub: (string | number)[] = [];
  for (const [, key, index] of m[1]!.matchAll(/([A-Za-z0-9_-]+)|\[(\d+)\]/g)) sub.push(index === undefined ? key! : Number(index));
  return { path: [...path, ...sub], at: 'key', message: m[2]! };
}

/** Builds a component as a program would and drops it: never started, it holds nothing. */
function dryBuild(factory: ComponentFactory, config: unknown, name: string, dataDir: string): void {
  const refuse = (): Promise<void> => Promise.reject(new TidewatchError('TW_STOPPED', 'built by validate, not running'));
  const ctx: SourceContext = {
    name,
    dataDir,
    telemetry: new MemoryTelemetry(),
    log: silentLogger,
    now: Date.now,
    agentId: 'validate',
    hostName: 'validate',
    bus: undefined,
    emit: refuse,
    emitLines: refuse,
  };
  // The schema check above made `config` fit this factory's schema.
  (factory.create as (c: unknown, x: SourceContext) => unknown)(config, ctx);
}
