import { describe, expect, it } from 'vitest';
import { parseJson } from '../../../collector/parsers/json.js';

describe('parseJson', () => {
  it.each([
    ['flat object', '{"level":"info","msg":"hi","n":3}', { level: 'info', msg: 'hi', n: 3 }],
    ['nested objects become dotted keys', '{"http":{"status":200,"req":{"method":"GET"}},"ok":true}', { 'http.status': 200, 'http.req.method': 'GET', ok: true }],
    ['arrays stay arrays', '{"tags":["a","b"],"xs":[{"a":1}]}', { tags: ['a', 'b'], xs: [{ a: 1 }] }],
    ['null values kept', '{"user":null}', { user: null }],
    ['leading spaces allowed', '  {"a":1}', { a: 1 }],
    ['empty object', '{}', {}],
  ])('%s', (_name, line, fields) => {
    const r = parseJson(line);
    expect(r).toEqual({ ok: true, fields });
  });

  it.each([
    ['not JSON at all', 'GET /index.html 200', 'not_object'],
    ['an array', '[1,2]', 'not_object'],
    ['a string', '"x"', 'not_object'],
    ['truncated', '{"a":1', 'invalid_json'],
    ['trailing garbage', '{"a":1} x', 'invalid_json'],
    ['empty', '', 'empty'],
  ])('%s fails with %s', (_name, line, reason) => {
    expect(parseJson(line)).toEqual({ ok: false, reason });
  });

  it('prefix, no flattening, depth limit, Buffer input', () => {
    expect(parseJson('{"a":{"b":1}}', { prefix: 'j.' })).toEqual({ ok: true, fields: { 'j.a.b': 1 } });
    expect(parseJson('{"a":{"b":1}}', { flatten: false })).toEqual({ ok: true, fields: { a: { b: 1 } } });
    expect(parseJson('{"a":{"b":{"c":1}}}', { maxDepth: 2 })).toEqual({ ok: true, fields: { 'a.b': { c: 1 } } });
    expect(parseJson(Buffer.from('{"é":"ü"}'))).toEqual({ ok: true, fields: { é: 'ü' } });
  });

  it('a "__proto__" key is a field, not a prototype change', () => {
    const r = parseJson('{"__proto__":{"polluted":1},"a":1}', { flatten: false });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(Object.getPrototypeOf(r.fields)).toBe(Object.prototype);
    expect(Object.keys(r.fields)).toEqual(['__proto__', 'a']);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('refuses inputs over maxChars', () => {
    expect(parseJson(`{"a":"${'x'.repeat(100)}"}`, { maxChars: 50 })).toEqual({ ok: false, reason: 'too_long' });
  });

  it('flattens correctly past the bound of its memo of dotted keys', () => {
    // 300 distinct prefixes of 300 keys each: more than the memo keeps (256 x 256), so later keys are built afresh.
    for (let p = 0; p < 300; p++) {
      const inner: Record<string, number> = {};
      for (let k = 0; k < 300; k++) inner[`k${k}`] = p * 1000 + k;
      const r = parseJson(JSON.stringify({ [`p${p}`]: { inner }, top: 1 }), { prefix: 'x.' });
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      expect(Object.keys(r.fields)).toHaveLength(301);
      expect(r.fields[`x.p${p}.inner.k0`]).toBe(p * 1000);
      expect(r.fields[`x.p${p}.inner.k299`]).toBe(p * 1000 + 299);
      expect(r.fields['x.top']).toBe(1);
    }
  });
});
