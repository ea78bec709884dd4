/**
 * Parser of the Prometheus text exposition format 0.0.4 and of OpenMetrics 1.0 text. Pure and
 * line based: it takes the body and returns metric families; it never throws on a bad line but
 * records it (a target that exposes one bad line still yields the rest, as Prometheus does not,
 * but a scrape of 10 000 good lines should not be lost to one).
 *
 * Differences handled: OpenMetrics timestamps are seconds (text format: milliseconds), counters
 * are `<family>_total` samples with optional `_created`, exemplars (` # {...} v [ts]`) follow a
 * sample and are ignored, `# UNIT` names a unit, and `# EOF` ends the exposition. Quoted metric
 * names (`{"my.metric", k="v"}`, Prometheus 3 UTF-8 names) are accepted in both.
 */
import { setAttr } from '../otlp/types.js';

export type PromType = 'counter' | 'gauge' | 'histogram' | 'gaugehistogram' | 'summary' | 'info' | 'stateset' | 'unknown' | 'untyped';

export interface PromSample {
  /** The sample's own name (`http_requests_total`, `rpc_duration_seconds_bucket`). */
  name: string;
  labels: Record<string, string>;
  value: number;
  /** Epoch ms when the exposition carried a timestamp. */
  timestamp?: number;
}

export interface PromFamily {
  name: string;
  type: PromType;
  help: string;
  unit: string;
  samples: PromSample[];
}

export interface ParseResult {
  families: PromFamily[];
  /** Lines that could not be parsed, with their 1-based numbers (at most 10 kept). */
  errors: { line: number; message: string }[];
  errorCount: number;
}

export type PromFormat = 'text' | 'openmetrics';

/** Picks the format from a response Content-Type. */
export function formatOf(contentType: string | null | undefined): PromFormat {
  return (contentType ?? '').toLowerCase().startsWith('application/openmetrics-text') ? 'openmetrics' : 'text';
}

const TYPES = new Set<string>(['counter', 'gauge', 'histogram', 'gaugehistogram', 'summary', 'info', 'stateset', 'unknown', 'untyped']);

/** Suffixes a sample may add to its family name, by family type. */
const SUFFIXES: Record<string, readonly string[]> = {
  counter: ['_total', '_created'],
  histogram: ['_bucket', '_sum', '_count', '_created'],
  gaugehistogram: ['_bucket', '_gsum', '_gcount'],
  summary: ['_sum', '_count', '_created'],
  info: ['_info'],
};

export function parseExposition(text: string, format: PromFormat = 'text'): ParseResult {
  const families = new Map<string, PromFamily>();
  const errors: ParseResult['errors'] = [];
  let errorCount = 0;
  const fail = (line: number, message: string): void => {
    errorCount++;
    if (errors.length < 10) errors.push({ line, message });
  };
  const family = (name: string): PromFamily => {
    let f = families.get(name);
    if (f === undefined) {
      f = { name, type: 'untyped', help: '', unit: '', samples: [] };
      families.set(name, f);
    }
    return f;
  };
  /** The family a sample belongs to: its own name if declared, else a declared base its suffix fits. */
  const familyOf = (sample: string): PromFamily => {
    const own = families.get(sample);
    if (own !== undefined) return own;
    for (const [type, suffixes] of Object.entries(SUFFIXES)) {
      for (const s of suffixes) {
        if (!sample.endsWith(s)) continue;
        const base = families.get(sample.slice(0, -s.length));
        if (base !== undefined && base.type === type) return base;
      }
    }
    return family(sample);
  };

  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const m = /^#\s+(HELP|TYPE|UNIT|EOF)(?:\s+(\S+)(?:\s+(.*))?)?$/.exec(line);
      if (m === null) continue; // a plain comment
      const [, kw, rawName, rest] = m;
      if (kw === 'EOF') break;
      if (rawName === undefined) {
        fail(i + 1, `# ${kw} without a metric name`);
        continue;
      }
      const name = unquoteName(rawName);
      if (kw === 'TYPE') {
        const t = (rest ?? '').trim();
        if (!TYPES.has(t)) {
          fail(i + 1, `unknown metric type "${t}"`);
          continue;
        }
        family(name).type = t as PromType;
      } else if (kw === 'HELP') family(name).help = unescapeHelp(rest ?? '');
      else family(name).unit = (rest ?? '').trim();
      continue;
    }
    try {
      const s = parseSample(line, format);
      familyOf(s.name).samples.push(s);
    } catch (err) {
      fail(i + 1, (err as Error).message);
    }
  }
  return { families: [...families.values()].filter((f) => f.samples.length > 0), errors, errorCount };
}

function unquoteName(n: string): string {
  return n.startsWith('"') && n.endsWith('"') && n.length >= 2 ? n.slice(1, -1).replace(/\\(.)/g, (_m, c: string) => (c === 'n' ? '\n' : c)) : n;
}

function unescapeHelp(s: string): string {
  return s.replace(/\\(\\|n)/g, (_m, c: string) => (c === 'n' ? '\n' : '\\'));
}

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;

/** One sample line: name, optional labels, value, optional timestamp, optional exemplar. */
export function parseSample(line: string, format: PromFormat): PromSample {
  let pos = 0;
  let name = '';
  const labels: Record<string, string> = {};
  const m = NAME_RE.exec(line);
  if (m !== null) {
    name = m[0];
    pos = name.length;
  } else if (line[0] !== '{') {
    throw new Error(`expected a metric name at "${line.slice(0, 40)}"`);
  }
  if (line[pos] === '{') {
    pos++;
    for (;;) {
      pos = skipSpaces(line, pos);
      if (line[pos] === '}') {
        pos++;
        break;
      }
      let key: string;
      if (line[pos] === '"') {
        const q = readQuoted(line, pos);
        pos = skipSpaces(line, q.end);
        if (line[pos] !== '=') {
          // A bare quoted string in braces is the metric name (UTF-8 names).
          if (name !== '') throw new Error('two metric names');
          name = q.value;
          if (line[pos] === ',') pos++;
          continue;
        }
        key = q.value;
      } else {
        const k = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(pos));
        if (k === null) throw new Error(`expected a label name at column ${pos + 1}`);
        key = k[0];
        pos = skipSpaces(line, pos + key.length);
      }
      if (line[pos] !== '=') throw new Error(`expected = after label ${key}`);
      pos = skipSpaces(line, pos + 1);
      if (line[pos] !== '"') throw new Error(`expected a quoted value for label ${key}`);
      const v = readQuoted(line, pos);
      if (Object.hasOwn(labels, key)) throw new Error(`label ${key} given twice`);
      setAttr(labels, key, v.value);
      pos = skipSpaces(line, v.end);
      if (line[pos] === ',') pos++;
      else if (line[pos] !== '}') throw new Error(`expected , or } at column ${pos + 1}`);
    }
  }
  if (name === '') throw new Error('sample without a metric name');
  // Exemplars (OpenMetrics) start with " # ": everything after is not part of the sample.
  const hash = line.indexOf(' # ', pos);
  const rest = (hash >= 0 ? line.slice(pos, hash) : line.slice(pos)).trim().split(/[ \t]+/);
  if (rest.length < 1 || rest[0] === '') throw new Error(`sample ${name} without a value`);
  if (rest.length > 2) throw new Error(`sample ${name}: unexpected text after the timestamp`);
  const value = parseValue(rest[0]!);
  if (value === undefined) throw new Error(`sample ${name}: "${rest[0]}" is not a number`);
  const s: PromSample = { name, labels, value };
  if (rest[1] !== undefined) {
    // Checked after scaling: 1e306 seconds is a finite number but an infinite time in ms, which
    // no wire batch can carry (found by test/fuzz/prometheus.test.ts).
    const ts = format === 'openmetrics' ? Number(rest[1]) * 1000 : Number(rest[1]);
    if (!Number.isFinite(ts)) throw new Error(`sample ${name}: "${rest[1]}" is not a timestamp`);
    s.timestamp = ts;
  }
  return s;
}

function skipSpaces(line: string, pos: number): number {
  while (line[pos] === ' ' || line[pos] === '\t') pos++;
  return pos;
}

function readQuoted(line: string, start: number): { value: string; end: number } {
  let out = '';
  for (let i = start + 1; i < line.length; i++) {
    const c = line[i]!;
    if (c === '\\') {
      const n = line[++i];
      if (n === 'n') out += '\n';
      else if (n === '\\' || n === '"') out += n;
      else throw new Error(`bad escape \\${n ?? ''} in a label value`);
    } else if (c === '"') return { value: out, end: i + 1 };
    else out += c;
  }
  throw new Error('unterminated quoted string');
}

export function parseValue(s: string): number | undefined {
  // Go's ParseFloat (which Prometheus uses) takes Inf, Infinity and NaN in any case, with a sign.
  const special = /^([-+]?)(inf|infinity|nan)$/i.exec(s);
  if (special !== null) {
    if (special[2]!.toLowerCase() === 'nan') return Number.NaN;
    return special[1] === '-' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  }
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s) && !/^[-+]?0x[0-9a-fA-F]+$/.test(s)) return undefined;
  return Number(s);
}
