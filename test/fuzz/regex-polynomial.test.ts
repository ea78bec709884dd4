/**
 * Patterns that backtrack polynomially (issue 11): `(?<a>\w*\w*\w*)!` passed the safety check and
 * took 134 s on a 1,000-character line; two or more unbounded repetitions over overlapping
 * characters with nothing required between them split a run of n such characters in n^k ways.
 * They are now refused at start in every place a user pattern is compiled (parse regex,
 * redaction rules, filter conditions, alert-rule label matchers), while the grok table, presets
 * and shipped configs still pass, and what passes stays fast on hostile lines.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { components } from '../../collector/components.js';
import { compileCondition } from '../../collector/parsers/filter.js';
import { compileRedactor } from '../../collector/parsers/redact.js';
import { GROK, compileRegex, unsafeReason } from '../../collector/parsers/regex.js';
import { parseMatcher } from '../../collector/rules/matchers.js';
import { detectAnomaliesFactory } from '../../collector/transforms/detect-anomalies.js';
import type { ComponentContext } from '../../core/component.js';
import { parseConfig } from '../../core/config/load.js';
import { TidewatchError } from '../../core/errors.js';
import { silentLogger } from '../../core/log.js';
import { MemoryTelemetry } from '../../core/telemetry.js';
import { scale } from '../support/scale.js';

const RUNS = scale(200, 5000);
const HOSTILE = scale(3000, 8192);

const POLYNOMIAL = [
  '(?<a>\\w*\\w*\\w*)!',
  '(?<a>\\d+\\d+)x',
  '(?<a>\\w+)\\w+!',
  '(?<a>.*)\\s*x',
  '(?<a>\\d+\\.?\\d*)x',
  '(?<a>(?:x|\\w+)\\s*\\w+)!',
  '(?<a>[a-z]+[^0-9]*)!',
  '(?<a>\\w{1,}\\w{0,500})!',
  '^(?<a>\\w*\\w*)$',
];

describe('regex safety: polynomial backtracking', () => {
  it('regression: adjacent overlapping repetitions are refused with a reason and a fix (were accepted: 134 s on 1,000 characters)', () => {
    for (const pattern of POLYNOMIAL) {
      expect(() => compileRegex({ pattern }), pattern).toThrow(/unsafe pattern: adjacent repetitions over overlapping characters .* polynomially.*merge them into one/);
      expect(() => compileRedactor({ custom: [{ name: 'r', pattern }] }), pattern).toThrow(/adjacent repetitions/);
      expect(() => compileCondition(`body matches ${pattern}`), pattern).toThrow(/adjacent repetitions/);
    }
    expect(unsafeReason('(?<a>\\w*\\w*\\w*)!')).toContain('(\\w* then \\w*)');
  });

  it('still accepts disjoint neighbours, separated repetitions and overlaps with nothing that can fail after them', () => {
    for (const pattern of [
      '(?<a>\\S+)\\s+(?<b>\\S+)!',
      '(?<a>[a-z]+)(?<b>[0-9]+)x',
      '(?<a>\\w+)-(?<b>\\w+)',
      '(?<level>\\w+)\\s+(?<msg>.*)',
      '(?<level>\\w+)\\s+(?<msg>.*)$',
      '(?<n>\\d+\\.?\\d*)',
      '(?<q>"(?:[^"\\\\]|\\\\.)*")',
      '(?<ip>\\d{1,3}\\d{1,3})x',
    ]) {
      expect(unsafeReason(pattern), pattern).toBeUndefined();
      expect(() => compileRegex({ pattern }), pattern).not.toThrow();
    }
  });

  it('every grok pattern passes, alone and followed by text that can fail', () => {
    // NUMBER was `\d+\.?\d*` (214 s on 8,192 digits then a failing character): now `\d+(?:\.\d*)?`.
    for (const name of Object.keys(GROK)) {
      for (const pattern of [`%{${name}:f}`, `%{${name}:f}\u0001`]) expect(() => compileRegex({ pattern }), pattern).not.toThrow();
    }
    const t0 = performance.now();
    compileRegex({ pattern: '%{NUMBER:n}\u0001', maxChars: HOSTILE + 1 }).parse('1'.repeat(HOSTILE));
    expect(performance.now() - t0).toBeLessThan(2_000);
    // IPV6 (and IP, IPORHOST) was `[0-9A-Fa-f:]*:[0-9A-Fa-f:.]+`: its colon could be any of a run
    // of colons, 4.7 s on 64 KiB of them then a failing character. Same language, now linear.
    const colons = ':'.repeat(64 * 1024);
    for (const name of ['IPV6', 'IP', 'IPORHOST']) {
      const t1 = performance.now();
      expect(compileRegex({ pattern: `^%{${name}:a} x`, maxChars: colons.length + 1 }).parse(`${colons}!`).ok, name).toBe(false);
      expect(performance.now() - t1, name).toBeLessThan(1_000);
      expect(compileRegex({ pattern: `^%{${name}:a}$` }).parse('fe80::1ff:fe23:4567:890a'), name).toMatchObject({ ok: true, fields: { a: 'fe80::1ff:fe23:4567:890a' } });
    }
  });

  it('random sequences of repetitions: refused exactly when two overlapping ones touch, and fast when accepted', () => {
    // Every item is optional or a repetition: a required character between two overlapping
    // repetitions (`\w+a\w+`) is a known gap of the check, not exercised here.
    // Each atom with the characters it takes (from a small alphabet that hostile lines use).
    const atoms: Array<[string, string]> = [
      ['\\d', '0123456789'],
      ['[a-f]', 'abcdef'],
      ['[g-z]', 'ghijklmnopqrstuvwxyz'],
      ['\\s', ' '],
      ['x', 'x'],
      ['[0-9a-c]', '0123456789abc'],
    ];
    const item = fc.tuple(fc.integer({ min: 0, max: atoms.length - 1 }), fc.constantFrom('+', '*', '{2,}', '?'));
    fc.assert(
      fc.property(fc.array(item, { minLength: 1, maxLength: 5 }), (items) => {
        const pattern = `(?<a>${items.map(([a, q]) => atoms[a]![0] + q).join('')})!`;
        // Expected: some pair of unbounded items overlaps with only optional items between.
        let expectUnsafe = false;
        for (let x = 0; x < items.length; x++) {
          if (!['+', '*', '{2,}'].includes(items[x]![1])) continue;
          for (let y = x + 1; y < items.length; y++) {
            const [ay, qy] = items[y]!;
            if (['+', '*', '{2,}'].includes(qy) && [...atoms[ay]![1]].some((ch) => atoms[items[x]![0]]![1].includes(ch))) expectUnsafe = true;
            if (qy !== '?' && qy !== '*') break;
          }
        }
        const why = unsafeReason(pattern);
        expect(why !== undefined, `${pattern}: ${why ?? 'accepted'}`).toBe(expectUnsafe);
        if (why !== undefined) return;
        const re = new RegExp(pattern);
        for (const c of '1a x') {
          const t0 = performance.now();
          re.exec(c.repeat(2000));
          expect(performance.now() - t0, `${pattern} on ${JSON.stringify(c)}`).toBeLessThan(2_000);
        }
      }),
      { numRuns: RUNS },
    );
  });
});

describe('alert-rule label matchers', () => {
  const ctx: ComponentContext = { name: 'rules', dataDir: '/tmp', telemetry: new MemoryTelemetry(), log: silentLogger, now: () => 0, agentId: 'a', hostName: 'h', bus: undefined };

  it('regression: an unsafe label regex fails with TW_CONFIG_SCHEMA naming the matcher (was compiled unchecked)', () => {
    for (const [m, reason] of [
      ['route=~"\\\\w*\\\\w*"', /adjacent repetitions/],
      ['route!~"(a+)+"', /nested quantifier/],
      ['job=~"(?<x>a)\\\\k<x>"', /backreferences/],
    ] as const) {
      let err: unknown;
      try {
        parseMatcher(m, 'transforms.rules.rules[0].matchers');
      } catch (e) {
        err = e;
      }
      expect(err, m).toBeInstanceOf(TidewatchError);
      expect((err as TidewatchError).code).toBe('TW_CONFIG_SCHEMA');
      expect((err as Error).message).toContain('transforms.rules.rules[0].matchers: matcher');
      expect((err as Error).message).toContain('unsafe regex');
      expect((err as Error).message).toMatch(reason);
    }
    // Safe ones, as in configs/collector-rules.yaml, still work.
    expect(parseMatcher('severity=~"error|fatal"', 'w').re?.test('fatal')).toBe(true);
    expect(parseMatcher('status=~"5.."', 'w').re?.test('503')).toBe(true);
    expect(parseMatcher('path=~"/api/.*"', 'w').re?.test('/api/x')).toBe(true);
  });

  it('a config whose rule has an unsafe matcher is refused when the rules transform is built', async () => {
    const yaml =
      'data_dir: /tmp\nsources: { k: { type: kafka, brokers: ["127.0.0.1:9092"] } }\ntransforms:\n  r:\n    type: detect_anomalies\n    rules:\n' +
      '      - { name: hot, kind: threshold, metric: temp, threshold: 80, matchers: [\'host=~"\\\\d+\\\\d+x"\'] }\n' +
      'sinks: { o: { type: file, path: /tmp/x } }\npipelines: { p: { sources: [k], transforms: [r], sinks: [o] } }\n';
    const cfg = await parseConfig(yaml, 'inline.yaml', { env: {}, components });
    let err: unknown;
    try {
      detectAnomaliesFactory.create(cfg.transforms['r'] as never, ctx);
    } catch (e) {
      err = e;
    }
    expect((err as TidewatchError | undefined)?.code).toBe('TW_CONFIG_SCHEMA');
    expect((err as Error).message).toMatch(/matcher "host=~\\"\\\\\\\\d\+\\\\\\\\d\+x\\"" has an unsafe regex: adjacent repetitions/);
  });
});
