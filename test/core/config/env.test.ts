import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expandEnv } from '../../../core/config/env.js';

describe('expandEnv', () => {
  const env = { A: 'x', EMPTY: '', DOLLAR: '${A}' };

  it.each([
    ['plain', 'plain'],
    ['${A}', 'x'],
    ['pre-${A}-post', 'pre-x-post'],
    ['${A}${A}', 'xx'],
    ['${B:-dflt}', 'dflt'],
    ['${EMPTY:-dflt}', 'dflt'],
    ['${A:-dflt}', 'x'],
    ['${B:-}', ''],
    ['$${A}', '${A}'],
    ['$$${A}', '$${A}'],
    ['cost $5 and $', 'cost $5 and $'],
    // Not recursive: a value that looks like a reference stays as it is.
    ['${DOLLAR}', '${A}'],
  ])('%s → %s', (input, want) => {
    expect(expandEnv(input, env)).toMatchObject({ ok: true, value: want });
  });

  it('reports a missing variable by name, and malformed references', () => {
    expect(expandEnv('a ${NOPE} b', env)).toEqual({ ok: false, reason: 'missing', name: 'NOPE' });
    expect(expandEnv('${EMPTY}', env)).toEqual({ ok: true, value: '', expanded: true });
    expect(expandEnv('${A', env)).toEqual({ ok: false, reason: 'malformed', text: '${A' });
    expect(expandEnv('${1A}', env)).toEqual({ ok: false, reason: 'malformed', text: '${1A}' });
    expect(expandEnv('${}', env)).toEqual({ ok: false, reason: 'malformed', text: '${}' });
  });

  it('leaves any text without "${" unchanged, and escapes round-trip', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('$', '{', '}', 'a', 'B', '_', ':', '-') }), (s) => {
        const r = expandEnv(s, env);
        if (!s.includes('${')) expect(r).toEqual({ ok: true, value: s, expanded: false });
        // Escaping every `${` as `$${` gives the original text back.
        const escaped = s.replaceAll('${', () => '$${');
        if (!s.includes('$$')) expect(expandEnv(escaped, {})).toMatchObject({ ok: true, value: s });
        // Never throws, whatever the input.
        expect(typeof r.ok).toBe('boolean');
      }),
      { numRuns: 2000 },
    );
  });
});
