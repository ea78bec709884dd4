/**
 * Bad input against the collector's parsers (issue 11), beyond test/collector/parsers/fuzz.test.ts
 * (which feeds random and mutated lines to each parser): Buffers with invalid UTF-8, huge lines at
 * and past each parser's limit, random compile-time options (strftime formats, zones, regex and
 * redaction patterns, filter expressions) and any JS value as a severity. Parsing never throws
 * and answers ok/fail with a short reason; compiling throws an Error naming the problem (the
 * parse transform turns it into TW_CONFIG_SCHEMA at start), or gives a parser that never throws.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileCondition } from '../../collector/parsers/filter.js';
import { parseJson } from '../../collector/parsers/json.js';
import { parseLogfmt } from '../../collector/parsers/logfmt.js';
import { PRESETS, presetParsers } from '../../collector/parsers/presets.js';
import { compileRedactor } from '../../collector/parsers/redact.js';
import { compileRegex } from '../../collector/parsers/regex.js';
import type { ParseResult } from '../../collector/parsers/result.js';
import { normalizeSeverity, type SeverityScheme } from '../../collector/parsers/severity.js';
import { compileTimestamp } from '../../collector/parsers/timestamp.js';
import type { LogRecord } from '../../core/model.js';
import { scale } from '../support/scale.js';

const RUNS = scale(200, 5000);
const NOW = Date.UTC(2026, 10, 25);

function wellFormed(r: ParseResult): void {
  if (r.ok) {
    expect(typeof r.fields).toBe('object');
    expect(() => JSON.stringify(r.fields)).not.toThrow();
  } else expect(r.reason).toMatch(/^[a-z_]{2,40}$/);
}

/** Each parser with its line input; all of them take string | Buffer. */
const parsers: Record<string, (s: string | Buffer) => ParseResult> = {
  ...Object.fromEntries(PRESETS.map((p) => [p, (s: string | Buffer) => presetParsers[p](s, NOW)])),
  json: (s) => parseJson(s),
  logfmt: (s) => parseLogfmt(s),
  regex: (s) => compileRegex({ pattern: '^(?<ip>\\S+) (?<rest>.*)$' }).parse(s),
};

/** Compile-time errors are plain Errors with a message; never a TypeError or RangeError from inside. */
function compilesOrExplains<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch (err) {
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).name, (err as Error).message).toBe('Error');
    expect((err as Error).message.length).toBeGreaterThan(5);
    return undefined;
  }
}

describe('parsers: bytes and sizes', () => {
  it('Buffers with invalid UTF-8, NULs and control bytes', () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
      fc.tuple(fc.constantFrom('{"a":"', 'level=info msg="', '<34>1 2026-11-25T10:00:00Z h a - - - ', '127.0.0.1 - - [25/Nov/2026:10:00:00 +0000] "GET /'), fc.uint8Array({ maxLength: 50 })).map(([head, tail]) =>
        Buffer.concat([Buffer.from(head), Buffer.from(tail), Buffer.from([0xff, 0xfe, 0x00, 0xc3])]),
      ),
    );
    fc.assert(
      fc.property(fc.constantFrom(...Object.keys(parsers)), bytes, (name, b) => wellFormed(parsers[name]!(b))),
      { numRuns: RUNS },
    );
  });

  it('huge and pathological lines stay within time and answer', () => {
    const n = scale(200_000, 2_000_000);
    const lines = [
      'x'.repeat(n),
      `{"a":${'['.repeat(n / 4)}`,
      `{"a":"${'\\"'.repeat(n / 4)}"}`,
      `{${Array.from({ length: n / 20 }, (_, i) => `"k${i}":{"x":1}`).join(',')}}`,
      'a= '.repeat(n / 3),
      `msg="${'\\'.repeat(n)}`,
      ' '.repeat(n),
      '"'.repeat(n),
      '['.repeat(n),
      `${'1'.repeat(n)} - - [`,
      `<${'9'.repeat(n)}>`,
      `I1125 ${'0'.repeat(n)}`,
      `Traceback (most recent call last):\n${'  File "a.py", line 1, in x\n'.repeat(n / 30)}`,
      `java.lang.Exception: x\n${'\tat a.b.C.d(C.java:1)\n'.repeat(n / 25)}`,
    ];
    for (const [name, parse] of Object.entries(parsers)) {
      for (const line of lines) {
        const t0 = performance.now();
        wellFormed(parse(line));
        // Generous: these are linear scans (or refused as too long) in milliseconds; a quadratic
        // one would take minutes.
        expect(performance.now() - t0, `${name} on ${JSON.stringify(line.slice(0, 30))}`).toBeLessThan(5_000);
      }
    }
  });
});

describe('parsers: random compile-time options', () => {
  it('strftime formats and zones: a parser that never throws, or a plain Error', () => {
    const directive = fc.constantFrom('%Y', '%m', '%d', '%H', '%M', '%S', '%f', '%z', '%Z', '%b', '%a', '%p', '%I', '%j', '%s', '%e', '%%', '%Q', '%', '%-d', '%3f', '%T', '%F');
    const format = fc.array(fc.oneof(directive, fc.constantFrom('-', ':', ' ', 'T', '.', '/', 'x')), { minLength: 1, maxLength: 10 }).map((p) => p.join(''));
    const zoneName = fc.option(fc.oneof(fc.constantFrom('UTC', 'local', '+02:00', '-0530', '+99:99', 'Europe/Berlin', 'Mars/Olympus', 'America/Argentina/ComodRivadavia', 'Etc/GMT+14', '', 'Z', 'utc', '+2', '__proto__'), fc.string({ maxLength: 12 })), { nil: undefined });
    const value = fc.oneof(fc.string({ maxLength: 40 }), fc.double(), fc.integer(), fc.constantFrom('2026-11-25T10:00:00Z', '1795600800', '25/Nov/2026:10:00:00 +0000', '-1', '1e400', 'NaN'));
    fc.assert(
      fc.property(fc.array(fc.oneof(format, fc.constantFrom('rfc3339', 'epoch', 'epoch_ns', 'apache', 'syslog', 'klog', 'nope')), { minLength: 1, maxLength: 3 }), zoneName, fc.array(value, { maxLength: 5 }), (formats, z, values) => {
        const parse = compilesOrExplains(() => compileTimestamp(formats, z));
        if (parse === undefined) return;
        for (const v of values) {
          const t = parse(v, NOW);
          if (t !== undefined) expect(Number.isFinite(t), `${formats.join('|')} ${String(z)} ${String(v)} -> ${t}`).toBe(true);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('regex patterns and types: refused with a reason, or a parser that never throws', () => {
    const piece = fc.constantFrom('(?<a>', '(?<b_c>', '(?:', '(', ')', '\\d+', '\\w*', '.', '.*', '[a-z]', '[', ']', '|', '?', '+', '*', '{2}', '{1,}', '\\', '\\1', '\\k<a>', '^', '$', ' ', 'x', '%{IP:ip}', '%{INT:n:int}', '%{NOPE:x}', '%{WORD', '(?=x)', '(?<=a)', '\\p{L}');
    const pattern = fc.array(piece, { maxLength: 8 }).map((p) => p.join(''));
    const types = fc.dictionary(fc.constantFrom('a', 'b_c', 'b.c', 'n', '__proto__'), fc.constantFrom('string', 'integer', 'number', 'boolean'), { maxKeys: 3 });
    fc.assert(
      fc.property(pattern, types, fc.boolean(), fc.array(fc.string({ maxLength: 40 }), { maxLength: 4 }), (p, t, ic, inputs) => {
        const re = compilesOrExplains(() => compileRegex({ pattern: p, types: t as never, ignoreCase: ic }));
        if (re === undefined) return;
        for (const s of inputs) wellFormed(re.parse(s));
      }),
      { numRuns: RUNS },
    );
  });

  it('regression: a repeated alternation of single atoms is refused at compile time (was accepted: 2 s on a 24-character line, minutes on 30)', () => {
    for (const pattern of ['^(?<x>(a|a)*)$', '^(?<x>(?:\\w|\\d)+)$', '(?<x>[a-z]|-)+']) {
      expect(() => compileRegex({ pattern }), pattern).toThrow(/repeated alternation/);
      expect(() => compileRedactor({ custom: [{ name: 'r', pattern }] }), pattern).toThrow(/repeated alternation/);
      expect(() => compileCondition(`body matches ${pattern}`), pattern).toThrow(/repeated alternation/);
    }
    // Disjoint or multi-character branches stay allowed (QUOTEDSTRING in the grok table is one).
    for (const pattern of ['(?<q>"(?:[^"\\\\]|\\\\.)*")', '(?<m>(?:GET|POST)+)', '(?<m>GET|POST) (?<p>\\S+)', '(?<x>a|b)?']) expect(() => compileRegex({ pattern }), pattern).not.toThrow();
  });

  it('redaction: random custom rules are refused or applied; built-in rules stay linear on hostile text', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ name: fc.stringMatching(/^[a-z]{1,6}$/), pattern: fc.string({ maxLength: 12 }), ignoreCase: fc.boolean() }), { maxLength: 3 }), fc.string({ maxLength: 100 }), (custom, s) => {
        const red = compilesOrExplains(() => compileRedactor({ custom }));
        if (red === undefined) return;
        expect(typeof red.redact(s)).toBe('string');
      }),
      { numRuns: RUNS },
    );
    const red = compileRedactor();
    const n = scale(20_000, 200_000);
    for (const s of ['a@'.repeat(n), '1 '.repeat(n), ':'.repeat(n), '1'.repeat(n), 'password='.repeat(n / 4), 'Bearer '.repeat(n / 4), `${'eyJ'.repeat(n / 3)}.`, '1.'.repeat(n), `${'a.'.repeat(n)}@`, 'http://'.repeat(n / 4), 'x:y@'.repeat(n / 2), '1111 '.repeat(n / 2), '1-'.repeat(n)]) {
      const t0 = performance.now();
      red.redact(s);
      expect(performance.now() - t0, JSON.stringify(s.slice(0, 12))).toBeLessThan(5_000);
    }
  });

  it('filter expressions: refused with a reason, or a condition that never throws on any record', () => {
    const token = fc.constantFrom('a', 'b.c', 'body', 'severity_text', '==', '!=', '>=', '<', 'contains', 'starts_with', 'matches', 'in', 'not_in', 'exists', 'missing', '"x y"', '"', '[1, 2]', '[', '5', '-1e400', 'NaN', '(', '(a+)+', '__proto__', '');
    const expr = fc.array(token, { maxLength: 5 }).map((t) => t.join(' '));
    const value = fc.oneof(fc.string({ maxLength: 10 }), fc.double(), fc.boolean(), fc.constant(null), fc.jsonValue({ maxDepth: 2 }));
    fc.assert(
      fc.property(expr, fc.dictionary(fc.constantFrom('a', 'b.c', 'b', '__proto__'), value as fc.Arbitrary<never>, { maxKeys: 3 }), value, (e, attributes, body) => {
        const cond = compilesOrExplains(() => compileCondition(e));
        if (cond === undefined) return;
        const rec: LogRecord = { kind: 'log', observed_time: NOW, severity_number: 9, severity_text: 'INFO', body: body as never, attributes, resource: {} };
        expect(typeof cond(rec)).toBe('boolean');
      }),
      { numRuns: RUNS },
    );
  });

  it('severity: any JS value under any scheme is a level in 1..24 or undefined', () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything(), fc.double(), fc.string({ maxLength: 10 }), fc.constantFrom('ERROR', ' warn ', 'err', '3', '003', '1e2', '-1', '0x10', 'NaN', 500, 599, 60, 7, -0, 1.5)), fc.constantFrom<SeverityScheme>('auto', 'text', 'syslog', 'pino', 'http', 'otel'), (v, scheme) => {
        const s = normalizeSeverity(v, scheme);
        if (s === undefined) return;
        expect(Number.isInteger(s.number)).toBe(true);
        expect(s.number).toBeGreaterThanOrEqual(1);
        expect(s.number).toBeLessThanOrEqual(24);
        expect(typeof s.text).toBe('string');
      }),
      { numRuns: RUNS },
    );
  });
});
