import { describe, expect, it } from 'vitest';
import { normalizeSeverity } from '../../../collector/parsers/severity.js';

describe('normalizeSeverity', () => {
  it.each([
    ['INFO', 9], ['info', 9], ['Information', 9], ['WARNING', 13], ['warn', 13], ['Err', 17], ['ERROR', 17],
    ['SEVERE', 17], ['FINE', 5], ['finest', 1], ['TRACE', 1], ['debug', 5], ['notice', 10], ['crit', 18],
    ['alert', 19], ['EMERG', 21], ['FATAL', 21], ['panic', 21], ['[WARN]', 13], ['<error>', 17], ['INFO:', 9],
    ['I', 9], ['W', 13], ['E', 17], ['F', 21], ['DEBUG2', 6], ['ERROR4', 20],
  ])('text %s → %i', (text, n) => {
    const s = normalizeSeverity(text);
    expect(s?.number).toBe(n);
    expect(s?.text).toBe(text);
  });

  it.each([
    [0, 'auto', 21], [3, 'auto', 17], [6, 'auto', 9], [7, 'auto', 5],
    [30, 'auto', 9], [50, 'auto', 17], [60, 'auto', 21],
    [200, 'auto', 9], [404, 'auto', 13], [503, 'auto', 17],
    ['503', 'auto', 17], ['4', 'syslog', 13], [13, 'otel', 13], [10, 'pino', 1],
  ] as const)('number %s (%s) → %i', (v, scheme, n) => {
    expect(normalizeSeverity(v, scheme)?.number).toBe(n);
  });

  it.each([['verbose-ish'], [''], ['x'.repeat(40)], [8], [15], [600], [-1], [2.5], [NaN]])('%s is unknown', (v) => {
    expect(normalizeSeverity(v)).toBeUndefined();
  });

  it('text scheme ignores numbers; otel scheme bounds', () => {
    expect(normalizeSeverity(3, 'text')).toBeUndefined();
    expect(normalizeSeverity(25, 'otel')).toBeUndefined();
  });

  it('regression: "__proto__" and "constructor" are not levels (found by fuzzing)', () => {
    expect(normalizeSeverity('__proto__')).toBeUndefined();
    expect(normalizeSeverity('constructor')).toBeUndefined();
  });
});
