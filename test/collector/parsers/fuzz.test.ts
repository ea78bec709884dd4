/**
 * Property tests: no parser throws on any input, every result is either a parse or a failure
 * with a short reason, and (where a simple model exists) parsing agrees with it.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseJson } from '../../../collector/parsers/json.js';
import { parseLogfmt } from '../../../collector/parsers/logfmt.js';
import { compileRegex } from '../../../collector/parsers/regex.js';
import { PRESETS, presetParsers } from '../../../collector/parsers/presets.js';
import { compileTimestamp } from '../../../collector/parsers/timestamp.js';
import { normalizeSeverity } from '../../../collector/parsers/severity.js';
import { compileRedactor } from '../../../collector/parsers/redact.js';
import type { ParseResult } from '../../../collector/parsers/result.js';
import { scale } from '../../support/scale.js';
import { fixture } from './fixtures.js';

const RUNS = scale(300, 5000);
const NOW = Date.UTC(2026, 10, 25);

function wellFormed(r: ParseResult): void {
  if (r.ok) expect(typeof r.fields).toBe('object');
  else expect(r.reason).toMatch(/^[a-z_]{2,40}$/);
}

/** Arbitrary text, plus mutations of real lines (closer to what breaks parsers than pure noise). */
function lines(seeds: string[]): fc.Arbitrary<string> {
  const mutated = fc
    .tuple(fc.constantFrom(...seeds), fc.nat(), fc.nat(), fc.string({ maxLength: 8 }))
    .map(([s, a, b, ins]) => {
      const i = a % (s.length + 1);
      const j = Math.min(s.length, i + (b % 12));
      return s.slice(0, i) + ins + s.slice(j);
    });
  return fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 200 }), mutated, fc.constantFrom(...seeds));
}

describe('no parser throws', () => {
  for (const p of PRESETS) {
    const multi = p === 'java_traceback' || p === 'python_traceback' || p === 'go_panic';
    const seeds = [...fixture(`${p}.log`, multi), ...fixture(`${p}.malformed.log`, multi)];
    it(`preset ${p}`, () => {
      fc.assert(fc.property(lines(seeds), (s) => wellFormed(presetParsers[p](s, NOW))), { numRuns: RUNS });
    });
  }

  it('json', () => {
    const seeds = ['{"a":1,"b":{"c":[1,2]}}', '{"level":"info","msg":"x"}'];
    fc.assert(fc.property(fc.oneof(lines(seeds), fc.json()), (s) => wellFormed(parseJson(s))), { numRuns: RUNS });
  });

  it('json: any object round-trips through flattening into the same leaves', () => {
    const leaf = fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null));
    const obj = fc.dictionary(fc.string({ minLength: 1, maxLength: 5 }).filter((k) => !k.includes('.') && k !== '__proto__'), leaf, { maxKeys: 5 });
    fc.assert(
      fc.property(obj, fc.dictionary(fc.stringMatching(/^[a-z]{1,4}$/), obj, { maxKeys: 3 }), (flat, nested) => {
        const input = { ...flat, ...nested };
        const r = parseJson(JSON.stringify(input));
        expect(r.ok).toBe(true);
        if (!r.ok) return;
        for (const [k, v] of Object.entries(flat)) if (!(k in nested)) expect(r.fields[k]).toEqual(v);
        for (const [k, o] of Object.entries(nested)) for (const [k2, v] of Object.entries(o)) expect(r.fields[`${k}.${k2}`]).toEqual(v);
      }),
      { numRuns: RUNS },
    );
  });

  it('logfmt', () => {
    fc.assert(fc.property(lines(['a=1 b="x y" c', 'level=info msg="hi \\"there\\""']), (s) => wellFormed(parseLogfmt(s))), { numRuns: RUNS });
  });

  it('logfmt agrees with a model on generated pairs', () => {
    const key = fc.stringMatching(/^[a-z_.]{1,8}$/);
    const value = fc.string({ maxLength: 12 }).filter((v) => !v.includes('\\'));
    fc.assert(
      fc.property(fc.uniqueArray(fc.tuple(key, value), { selector: (p) => p[0], minLength: 1, maxLength: 6 }), (pairs) => {
        const line = pairs.map(([k, v]) => `${k}="${v.replace(/"/g, '\\"')}"`).join(' ');
        const r = parseLogfmt(line);
        expect(r.ok).toBe(true);
        if (r.ok) expect(r.fields).toEqual(Object.fromEntries(pairs));
      }),
      { numRuns: RUNS },
    );
  });

  it('regex', () => {
    const re = compileRegex({ pattern: '^(?<a>\\w+) (?<b>\\d+)' , types: { b: 'integer' } });
    fc.assert(fc.property(lines(['abc 123', 'x 1 rest']), (s) => wellFormed(re.parse(s))), { numRuns: RUNS });
  });

  it('timestamps and severities', () => {
    const ts = compileTimestamp(['rfc3339', 'epoch', 'apache', 'syslog', 'klog', '%d/%m/%Y %H:%M:%S %z']);
    const seeds = ['2026-11-25T10:00:00.123Z', '1795600800', '10/Oct/2000:13:55:36 -0700', 'Oct 11 22:14:15', '25/11/2026 10:00:01 +0100'];
    fc.assert(
      fc.property(fc.oneof(lines(seeds), fc.double()), (s) => {
        const t = ts(s, NOW);
        if (t !== undefined) expect(Number.isFinite(t)).toBe(true);
        const sev = normalizeSeverity(s);
        if (sev !== undefined) expect(sev.number).toBeGreaterThanOrEqual(1);
      }),
      { numRuns: RUNS },
    );
  });

  it('redaction never throws and never grows a clean string', () => {
    const red = compileRedactor();
    const seeds = ['user a@b.io from 10.0.0.1 card 4111 1111 1111 1111 password=x Bearer abc', 'fe80::1 AKIAIOSFODNN7EXAMPLE'];
    fc.assert(
      fc.property(lines(seeds), (s) => {
        const out = red.redact(s);
        expect(typeof out).toBe('string');
        // Idempotent: redacting the output again changes nothing.
        expect(red.redact(out)).toBe(out);
      }),
      { numRuns: RUNS },
    );
  });
});
