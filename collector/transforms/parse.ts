/**
 * `parse`: a chain of parsing steps per route. Each record goes to the first route whose
 * `match` fits (service, file path glob, attribute values; a route without `match` takes
 * everything), and that route's steps run in order on a copy of the record. A record no route
 * takes passes unchanged.
 *
 * Steps: `json`, `logfmt`, `regex`, `preset` (nginx_combined, apache_combined, clf,
 * syslog_rfc3164, syslog_rfc5424, klog, cri, docker, kubernetes_path, java_traceback,
 * python_traceback, go_panic), `timestamp`,
 * `severity`, `rename`, `drop`, `keep`, `filter`, `sample`. Field names are attribute keys, plus
 * `body`, `severity_text`, `severity_number`, `trace_id`, `span_id` and `resource.<key>`.
 *
 * Never throws on input: a step that cannot parse its input leaves the record as it was, sets
 * the attribute `parse_error` (`<step>: <reason>`, the first failure only) and the chain goes on;
 * every failure is counted in `tidewatch_parse_errors_total{step,reason}`. A `timestamp` step
 * (or a preset) that finds no usable time sets the event time to the observed time and counts
 * `tidewatch_parse_time_fallback_total{reason}`. Configuration problems (bad pattern, zone,
 * condition) throw at create time, so the program refuses to start.
 */
import { Type, type Static } from '@sinclair/typebox';
import picomatch from 'picomatch';
import type { ComponentContext, Transform, TransformFactory } from '../../core/component.js';
import type { AttrValue, Attributes, Event, LogRecord } from '../../core/model.js';
import { AttrKeys } from '../../core/model.js';
import { TidewatchError } from '../../core/errors.js';
import type { Telemetry } from '../../core/telemetry.js';
import { parseJson } from '../parsers/json.js';
import { parseLogfmt } from '../parsers/logfmt.js';
import { compileRegex } from '../parsers/regex.js';
import { PRESETS, presetParsers, WRITES_INTO, type PresetName } from '../parsers/presets.js';
import { compileTimestamp, DEFAULT_TIME_FORMATS, zone as resolveZone } from '../parsers/timestamp.js';
import { normalizeSeverity, type SeverityScheme } from '../parsers/severity.js';
import { deleteField, dropFields, getField, keepFields, keyMatcher, renameFields } from '../parsers/fields.js';
import { all, any, compileCondition } from '../parsers/filter.js';
import { compileSampler } from '../parsers/sample.js';
import type { Fields, ParseResult } from '../parsers/result.js';

// ---------------------------------------------------------------------------------------------
// Schema

const source = () => Type.String({ default: 'body', description: 'The field to parse; `body` is the log line.' });
const prefix = () => Type.String({ default: '', description: 'Prefix for every extracted key (`""`: keys as they are).' });
const closed = { additionalProperties: false } as const;

const JsonOptions = Type.Object(
  {
    source: source(),
    prefix: prefix(),
    flatten: Type.Boolean({ default: true, description: 'Nested objects become dotted keys (`http.status`), as OpenTelemetry attributes are flat.' }),
    max_depth: Type.Integer({ minimum: 1, maximum: 64, default: 8, description: 'Objects nested deeper than this are kept whole.' }),
  },
  { ...closed, description: 'Parses a JSON object into attributes (`json: {}` for the defaults).' },
);
const LogfmtOptions = Type.Object({ source: source(), prefix: prefix() }, { ...closed, description: 'Parses key=value pairs into attributes (`logfmt: {}`).' });
const RegexOptions = Type.Object(
  {
    pattern: Type.String({ description: 'A JavaScript regular expression with named groups (`__` in a name stands for a dot) and grok-style `%{IP:client.address}`, `%{INT:status:int}`. Refused at start when it can backtrack catastrophically.' }),
    source: source(),
    prefix: prefix(),
    ignore_case: Type.Boolean({ default: false, description: 'Case-insensitive matching.' }),
    max_chars: Type.Integer({ minimum: 1, maximum: 1_048_576, default: 8192, description: 'Longer inputs are not matched (parse_error too_long): bounds the cost of any pattern.' }),
    types: Type.Record(Type.String(), Type.Union([Type.Literal('string'), Type.Literal('integer'), Type.Literal('number'), Type.Literal('boolean')]), {
      default: {},
      description: 'Conversions of captured groups by name (`status: integer`).',
    }),
  },
  { ...closed, description: 'Extracts named groups into attributes.' },
);
const TimestampOptions = Type.Object(
  {
    field: Type.String({ default: 'timestamp', description: 'The field holding the time.' }),
    formats: Type.Array(Type.String(), {
      default: [...DEFAULT_TIME_FORMATS],
      description: 'Tried in order: rfc3339, java, epoch, epoch_s/ms/us/ns, apache, syslog, klog, or a strftime pattern (`%Y-%m-%d %H:%M:%S`).',
    }),
    timezone: Type.String({ default: 'UTC', description: 'Zone of times written without one: UTC, local, +02:00 or an IANA name.' }),
    remove: Type.Boolean({ default: false, description: 'Remove the field once its time is the event time.' }),
  },
  { ...closed, description: 'Sets the event time from a field; missing or unparsable: the observed time, counted.' },
);
const SeverityOptions = Type.Object(
  {
    field: Type.String({ default: 'level', description: 'The field holding the level.' }),
    scheme: Type.Union(['auto', 'text', 'syslog', 'pino', 'http', 'otel'].map((x) => Type.Literal(x)), {
      default: 'auto',
      description: 'How to read numbers: auto (0-7 syslog, 10-60 pino, 100-599 HTTP status), or one scheme.',
    }),
    remove: Type.Boolean({ default: false, description: 'Remove the field once it is the severity.' }),
  },
  { ...closed, description: 'Sets the OpenTelemetry severity from a field (text levels in any case, klog letters, numbers).' },
);
const FilterOptions = Type.Object(
  {
    keep_if: Type.Array(Type.String(), { default: [], description: 'Keep only records where all these `field op value` conditions hold.' }),
    drop_if: Type.Array(Type.String(), { default: [], description: 'Drop records where any of these conditions holds.' }),
  },
  { ...closed, description: 'Drops records by conditions on fields (ops: == != > >= < <= contains starts_with ends_with matches in not_in exists missing).' },
);
const SampleOptions = Type.Object(
  {
    rate: Type.Number({ minimum: 0, maximum: 1, description: 'Fraction of records kept.' }),
    key: Type.String({ default: 'body', description: 'Field hashed to decide: records with the same value are kept or dropped together.' }),
  },
  { ...closed, description: 'Keeps a deterministic fraction of records; kept ones carry `tidewatch.sample_rate`.' },
);

/**
 * One step: exactly one of the step keys (checked at create time). A single object schema rather
 * than a union, so the configuration reference lists every step's options.
 */
const Step = Type.Object(
  {
    json: Type.Optional(JsonOptions),
    logfmt: Type.Optional(LogfmtOptions),
    regex: Type.Optional(RegexOptions),
    preset: Type.Optional(Type.Union(PRESETS.map((p) => Type.Literal(p)), { description: 'Parses a known format into attributes, event time and severity.' })),
    source: Type.Optional(Type.String({ description: 'With `preset`: the field to parse (default `body`).' })),
    timezone: Type.Optional(Type.String({ description: 'With `preset`: zone of times written without one (syslog RFC 3164, klog); default UTC.' })),
    timestamp: Type.Optional(TimestampOptions),
    severity: Type.Optional(SeverityOptions),
    rename: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'from → to; `to: body` makes a field the body, `resource.<key>` a resource attribute.' })),
    drop: Type.Optional(Type.Array(Type.String(), { description: 'Attribute keys (or `prefix.*`) to remove.' })),
    keep: Type.Optional(Type.Array(Type.String(), { description: 'Attribute keys (or `prefix.*`) to keep; the others go.' })),
    filter: Type.Optional(FilterOptions),
    sample: Type.Optional(SampleOptions),
  },
  closed,
);
const STEP_KINDS = ['json', 'logfmt', 'regex', 'preset', 'timestamp', 'severity', 'rename', 'drop', 'keep', 'filter', 'sample'] as const;

const Route = Type.Object(
  {
    name: Type.Optional(Type.String({ description: 'Label for telemetry (default route_<index>).' })),
    match: Type.Object(
      {
        service: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String())], { description: 'service.name (resource, else attribute) equals one of these.' })),
        // minLength: picomatch throws a TypeError on "" at start (found by test/fuzz/config.test.ts).
        path_glob: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }))], { description: 'log.file.path matches one of these globs.' })),
        attributes: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'Every listed attribute equals its value.' })),
      },
      { ...closed, default: {}, description: 'Which records this route takes; all listed criteria must hold; empty takes all.' },
    ),
    steps: Type.Array(Step, {
      description: 'Run in order; each step is one of json, logfmt, regex, preset, timestamp, severity, rename, drop, keep, filter, sample.',
    }),
  },
  closed,
);

export const schema = Type.Object(
  {
    routes: Type.Array(Route, { minItems: 1, description: 'Tried in order; the first whose match fits parses the record.' }),
    error_attribute: Type.String({ default: 'parse_error', description: 'Attribute set on a record a step could not parse (`<step>: <reason>`).' }),
  },
  closed,
);
export type ParseConfig = Static<typeof schema>;

// ---------------------------------------------------------------------------------------------
// Compiled chain

/** What one step did to a record. */
type Outcome = undefined | 'drop' | { step: string; reason: string };

interface CompiledStep {
  readonly label: string;
  run(rec: LogRecord, now: number, counts: Counts): Outcome;
}

interface CompiledRoute {
  readonly name: string;
  readonly matches: (rec: LogRecord) => boolean;
  readonly steps: readonly CompiledStep[];
  readonly writesResource: boolean;
  /** Tallies since the last report: plain fields, because they change on every record. */
  parsed: number;
  failed: number;
}

/** Per-batch tallies, added to telemetry once per batch (STYLE.md rule 8). */
class Counts {
  readonly m = new Map<string, { name: string; labels: Record<string, string>; n: number }>();
  add(name: string, labels: Record<string, string>, key: string): void {
    const k = `${name}|${key}`;
    const c = this.m.get(k);
    if (c === undefined) this.m.set(k, { name, labels, n: 1 });
    else c.n++;
  }
  report(t: Telemetry, component: string): void {
    for (const c of this.m.values()) t.add(c.name, { component, ...c.labels }, c.n);
    this.m.clear();
  }
}

function sourceText(rec: LogRecord, field: string): string | undefined {
  const v = getField(rec, field);
  return typeof v === 'string' ? v : undefined;
}

/**
 * A copy built key by key into a fresh literal. Not `{ ...m }`: V8 gives a spread copy a map
 * that makes every property added later slow (the parsed fields are added next): about 4x on
 * the nginx preset in bench/parse.mjs.
 */
function copyMap(m: Attributes): Attributes {
  const out: Attributes = {};
  for (const k in m) {
    const v = m[k]!;
    if (k === '__proto__') Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    else out[k] = v;
  }
  return out;
}

/** Same reason as copyMap: a literal, not a spread, so setting `time` later stays fast. */
function copyRecord(e: LogRecord, withResource: boolean): LogRecord {
  const rec: LogRecord = {
    kind: 'log',
    observed_time: e.observed_time,
    severity_number: e.severity_number,
    severity_text: e.severity_text,
    body: e.body,
    attributes: copyMap(e.attributes),
    resource: withResource ? copyMap(e.resource) : e.resource,
  };
  if (e.time !== undefined) rec.time = e.time;
  if (e.scope !== undefined) rec.scope = e.scope;
  if (e.trace_id !== undefined) rec.trace_id = e.trace_id;
  if (e.span_id !== undefined) rec.span_id = e.span_id;
  return rec;
}

function merge(rec: LogRecord, fields: Fields): void {
  for (const k in fields) {
    const v = fields[k]!;
    if (k === '__proto__') Object.defineProperty(rec.attributes, k, { value: v, enumerable: true, writable: true, configurable: true });
    else rec.attributes[k] = v;
  }
}

function configError(where: string, err: unknown): TidewatchError {
  return new TidewatchError('TW_CONFIG_SCHEMA', `parse: ${where}: ${(err as Error).message}`, { where });
}

function applyResult(rec: LogRecord, label: string, r: ParseResult, counts: Counts, alreadyInto: boolean): Outcome {
  if (!r.ok) return { step: label, reason: r.reason };
  if (!alreadyInto) merge(rec, r.fields);
  if (r.time !== undefined) rec.time = r.time;
  else if (r.timeError === true) {
    rec.time = rec.observed_time;
    counts.add('tidewatch_parse_time_fallback_total', { reason: 'unparsable' }, 'unparsable');
  }
  if (r.severityNumber !== undefined) {
    rec.severity_number = r.severityNumber;
    rec.severity_text = r.severityText ?? '';
  }
  return undefined;
}

type StepConfig = Static<typeof Step>;

function compileStep(step: StepConfig, where: string): CompiledStep {
  const kinds = STEP_KINDS.filter((k) => step[k] !== undefined);
  if (kinds.length !== 1) {
    throw configError(where, new Error(kinds.length === 0 ? `a step needs one of ${STEP_KINDS.join(', ')}` : `one step per list item, found ${kinds.join(' and ')}`));
  }
  if (step.preset === undefined && (step.source !== undefined || step.timezone !== undefined)) {
    throw configError(where, new Error('`source` and `timezone` at step level go with `preset` (other steps take them inside their options)'));
  }
  if (step.json !== undefined) {
    const o = step.json;
    const src = o.source ?? 'body';
    const opts = { prefix: o.prefix ?? '', flatten: o.flatten ?? true, maxDepth: o.max_depth ?? 8 };
    return {
      label: 'json',
      run(rec, _now, counts) {
        const s = sourceText(rec, src);
        if (s === undefined) return { step: 'json', reason: 'missing_source' };
        // JSON fails before writing anything, so it can write straight into the attributes.
        return applyResult(rec, 'json', parseJson(s, opts, rec.attributes), counts, true);
      },
    };
  }
  if (step.logfmt !== undefined) {
    const src = step.logfmt.source ?? 'body';
    const opts = { prefix: step.logfmt.prefix ?? '' };
    return {
      label: 'logfmt',
      run(rec, _now, counts) {
        const s = sourceText(rec, src);
        if (s === undefined) return { step: 'logfmt', reason: 'missing_source' };
        // logfmt writes nothing unless the whole line parsed, so it too writes into the attributes.
        return applyResult(rec, 'logfmt', parseLogfmt(s, opts, rec.attributes), counts, true);
      },
    };
  }
  if (step.regex !== undefined) {
    const o = step.regex;
    let re: ReturnType<typeof compileRegex>;
    try {
      re = compileRegex({ pattern: o.pattern, ignoreCase: o.ignore_case ?? false, maxChars: o.max_chars ?? 8192, types: o.types ?? {}, prefix: o.prefix ?? '' });
    } catch (err) {
      throw configError(`${where}.regex.pattern`, err);
    }
    const src = o.source ?? 'body';
    return {
      label: 'regex',
      run(rec, _now, counts) {
        const s = sourceText(rec, src);
        if (s === undefined) return { step: 'regex', reason: 'missing_source' };
        return applyResult(rec, 'regex', re.parse(s, rec.attributes), counts, true);
      },
    };
  }
  if (step.preset !== undefined) {
    const name: PresetName = step.preset as PresetName;
    const parser = presetParsers[name];
    let z;
    try {
      z = resolveZone(step.timezone);
    } catch (err) {
      throw configError(`${where}.timezone`, err);
    }
    const src = step.source ?? 'body';
    const into = WRITES_INTO.has(name);
    return {
      label: name,
      run(rec, now, counts) {
        const s = sourceText(rec, src);
        if (s === undefined) return { step: name, reason: 'missing_source' };
        return into ? applyResult(rec, name, parser(s, now, z, rec.attributes), counts, true) : applyResult(rec, name, parser(s, now, z), counts, false);
      },
    };
  }
  if (step.timestamp !== undefined) {
    const o = step.timestamp;
    let parse: ReturnType<typeof compileTimestamp>;
    try {
      parse = compileTimestamp(o.formats ?? DEFAULT_TIME_FORMATS, o.timezone ?? 'UTC');
    } catch (err) {
      throw configError(`${where}.timestamp`, err);
    }
    const field = o.field ?? 'timestamp';
    const remove = o.remove ?? false;
    return {
      label: 'timestamp',
      run(rec, now, counts) {
        const v = getField(rec, field);
        if (v === undefined || v === null || v === '') {
          rec.time = rec.observed_time;
          counts.add('tidewatch_parse_time_fallback_total', { reason: 'missing' }, 'missing');
          return undefined;
        }
        const t = typeof v === 'string' || typeof v === 'number' ? parse(v, now) : undefined;
        if (t === undefined) {
          rec.time = rec.observed_time;
          counts.add('tidewatch_parse_time_fallback_total', { reason: 'unparsable' }, 'unparsable');
          return { step: 'timestamp', reason: 'unparsable' };
        }
        rec.time = t;
        if (remove) deleteField(rec, field);
        return undefined;
      },
    };
  }
  if (step.severity !== undefined) {
    const o = step.severity;
    const field = o.field ?? 'level';
    const scheme = (o.scheme ?? 'auto') as SeverityScheme;
    const remove = o.remove ?? false;
    return {
      label: 'severity',
      run(rec) {
        const v = getField(rec, field);
        if (v === undefined || v === null) return undefined;
        const sev = normalizeSeverity(v, scheme);
        if (sev === undefined) return { step: 'severity', reason: 'unknown_level' };
        rec.severity_number = sev.number;
        rec.severity_text = sev.text;
        if (remove) deleteField(rec, field);
        return undefined;
      },
    };
  }
  if (step.rename !== undefined) {
    const map = step.rename;
    return { label: 'rename', run: (rec) => void renameFields(rec, map) };
  }
  if (step.drop !== undefined) {
    const match = keyMatcher(step.drop);
    const reserved = step.drop.filter((k) => k.startsWith('resource.') || k === 'trace_id' || k === 'span_id');
    return { label: 'drop', run: (rec) => void dropFields(rec, match, reserved) };
  }
  if (step.keep !== undefined) {
    const match = keyMatcher(step.keep);
    return { label: 'keep', run: (rec) => void keepFields(rec, match) };
  }
  if (step.filter !== undefined) {
    let keepIf: ReturnType<typeof all>;
    let dropIf: ReturnType<typeof any>;
    try {
      keepIf = all((step.filter.keep_if ?? []).map(compileCondition));
      dropIf = any((step.filter.drop_if ?? []).map(compileCondition));
    } catch (err) {
      throw configError(`${where}.filter`, err);
    }
    return {
      label: 'filter',
      run: (rec) => (!keepIf(rec) || dropIf(rec) ? 'drop' : undefined),
    };
  }
  if (step.sample !== undefined) {
    const rate = step.sample.rate;
    const sampler = compileSampler(rate, step.sample.key ?? 'body');
    return {
      label: 'sample',
      run(rec) {
        if (!sampler.keep(rec)) return 'drop';
        // Lets counts downstream be scaled back up (as Vector's sample transform does).
        if (rate < 1) rec.attributes['tidewatch.sample_rate'] = rate;
        return undefined;
      },
    };
  }
  throw configError(where, new Error('unknown step'));
}

function asList(v: string | string[] | undefined): string[] | undefined {
  return v === undefined ? undefined : Array.isArray(v) ? v : [v];
}

function compileMatch(m: Static<typeof Route>['match'] | undefined): (rec: LogRecord) => boolean {
  const tests: ((rec: LogRecord) => boolean)[] = [];
  const services = asList(m?.service);
  if (services !== undefined) {
    const set = new Set(services);
    tests.push((r) => {
      const v = r.resource[AttrKeys.serviceName] ?? r.attributes[AttrKeys.serviceName];
      return typeof v === 'string' && set.has(v);
    });
  }
  const globs = asList(m?.path_glob);
  if (globs !== undefined) {
    const isMatch = picomatch(globs, { dot: true });
    tests.push((r) => {
      const v = r.attributes[AttrKeys.filePath];
      return typeof v === 'string' && isMatch(v);
    });
  }
  const attrs = m?.attributes;
  if (attrs !== undefined) {
    const entries = Object.entries(attrs);
    tests.push((r) => entries.every(([k, v]) => {
      const a = r.attributes[k];
      return a !== undefined && a !== null && String(a) === v;
    }));
  }
  if (tests.length === 0) return () => true;
  if (tests.length === 1) return tests[0]!;
  return (r) => tests.every((t) => t(r));
}

export function compileRoutes(config: Partial<ParseConfig>): CompiledRoute[] {
  return (config.routes ?? []).map((r, i) => {
    const where = `routes[${i}]`;
    const steps = r.steps.map((s, k) => compileStep(s, `${where}.steps[${k}]`));
    const writesResource = r.steps.some(
      (s) => Object.values(s.rename ?? {}).some((to) => to.startsWith('resource.')) || (s.drop ?? []).some((k) => k.startsWith('resource.')),
    );
    return { name: r.name ?? `route_${i}`, matches: compileMatch(r.match), steps, writesResource, parsed: 0, failed: 0 };
  });
}

// ---------------------------------------------------------------------------------------------
// Transform

export class Parse implements Transform {
  private readonly routes: CompiledRoute[];
  private readonly errorAttr: string;
  private readonly counts = new Counts();

  constructor(
    config: Partial<ParseConfig>,
    private readonly ctx: ComponentContext,
  ) {
    this.routes = compileRoutes(config);
    this.errorAttr = config.error_attribute ?? 'parse_error';
  }

  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  process(events: Event[], now: number): Event[] {
    const out: Event[] = [];
    const counts = this.counts;
    let unrouted = 0;
    for (const e of events) {
      if (e.kind !== 'log') {
        out.push(e);
        continue;
      }
      let route: CompiledRoute | undefined;
      for (const r of this.routes) {
        if (r.matches(e)) {
          route = r;
          break;
        }
      }
      if (route === undefined) {
        unrouted++;
        out.push(e);
        continue;
      }
      // Records are shared between stages (core/model.ts): parse a copy.
      const rec = copyRecord(e, route.writesResource);
      let failed = false;
      let dropped = false;
      for (const step of route.steps) {
        let o: Outcome;
        try {
          o = step.run(rec, now, counts);
        } catch {
          // A bug in a step must not stop the collector: count it and go on.
          o = { step: step.label, reason: 'internal_error' };
        }
        if (o === undefined) continue;
        if (o === 'drop') {
          dropped = true;
          counts.add('tidewatch_parse_dropped_total', { route: route.name, reason: step.label }, `${route.name}|${step.label}`);
          break;
        }
        counts.add('tidewatch_parse_errors_total', { route: route.name, step: o.step, reason: o.reason }, `${route.name}|${o.step}|${o.reason}`);
        if (!failed) {
          failed = true;
          if (rec.attributes[this.errorAttr] === undefined) rec.attributes[this.errorAttr] = `${o.step}: ${o.reason}` satisfies AttrValue;
        }
      }
      if (dropped) continue;
      if (failed) route.failed++;
      else route.parsed++;
      out.push(rec);
    }
    if (unrouted > 0) this.ctx.telemetry.add('tidewatch_parse_records_total', { component: this.ctx.name, route: '', result: 'unrouted' }, unrouted);
    for (const r of this.routes) {
      if (r.parsed > 0) this.ctx.telemetry.add('tidewatch_parse_records_total', { component: this.ctx.name, route: r.name, result: 'parsed' }, r.parsed);
      if (r.failed > 0) this.ctx.telemetry.add('tidewatch_parse_records_total', { component: this.ctx.name, route: r.name, result: 'failed' }, r.failed);
      r.parsed = 0;
      r.failed = 0;
    }
    counts.report(this.ctx.telemetry, this.ctx.name);
    return out;
  }
}

export const parseFactory: TransformFactory<typeof schema> = {
  role: 'transform',
  type: 'parse',
  description: 'Parses log records by route: json, logfmt, regex, presets (nginx, Apache, CLF, syslog, klog, container logs and their paths, tracebacks), timestamps, severities, field edits, filter, sample.',
  schema,
  create: (config, ctx) => new Parse(config, ctx),
};
