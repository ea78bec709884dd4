import { describe, expect, it } from 'vitest';
import type { LogRecord } from '../../../core/model.js';
import { compileCondition } from '../../../collector/parsers/filter.js';
import { compileSampler, fnv1a } from '../../../collector/parsers/sample.js';
import { dropFields, keepFields, keyMatcher, renameFields } from '../../../collector/parsers/fields.js';

function rec(attributes: LogRecord['attributes'], body = 'line'): LogRecord {
  return { kind: 'log', observed_time: 0, severity_number: 0, severity_text: '', body, attributes, resource: { 'service.name': 'shop' } };
}

describe('conditions', () => {
  const r = rec({ status: 503, path: '/healthz', method: 'GET', ua: 'kube-probe/1.31', t: '0.25' });
  it.each([
    ['status >= 500', true], ['status > 503', false], ['status < 600', true], ['status <= 502', false],
    ['status == 503', true], ['status == "503"', true], ['status != 503', false], ['t > 0.2', true],
    ['path == /healthz', true], ['path != /healthz', false], ['method in GET,HEAD', true], ['method in [POST, PUT]', false],
    ['method not_in POST,PUT', true], ['ua starts_with kube-probe', true], ['ua contains probe', true], ['ua ends_with 1.31', true],
    ['ua matches ^kube-probe/\\d', true], ['path exists', true], ['nope exists', false], ['nope missing', true],
    ['body == line', true], ['resource.service.name == shop', true], ['nope > 1', false], ['path > 1', false],
  ])('%s → %s', (expr, want) => {
    expect(compileCondition(expr)(r)).toBe(want);
  });
  it.each(['status', 'status ~= 5', 'status >= abc', 'path matches (a+)+', 'path matches (', 'path =='])('rejects %s', (expr) => {
    expect(() => compileCondition(expr)).toThrow();
  });
});

describe('sample', () => {
  it('is deterministic by key and keeps about the rate', () => {
    const s = compileSampler(0.25, 'trace_id');
    let kept = 0;
    for (let i = 0; i < 20_000; i++) {
      const a = { ...rec({}), trace_id: `t${i}` };
      const first = s.keep(a);
      expect(s.keep({ ...a })).toBe(first);
      if (first) kept++;
    }
    expect(kept / 20_000).toBeGreaterThan(0.23);
    expect(kept / 20_000).toBeLessThan(0.27);
    expect(compileSampler(0).keep(rec({}))).toBe(false);
    expect(compileSampler(1).keep(rec({}))).toBe(true);
    expect(fnv1a('a')).not.toBe(fnv1a('b'));
  });
});

describe('field steps', () => {
  it('rename, drop (with prefix.*), keep', () => {
    const a = rec({ msg: 'hello', 'http.a': 1, 'http.b': 2, keep: true, level: 'info' });
    renameFields(a, { msg: 'body', level: 'log.level', missing: 'x' });
    expect(a.body).toBe('hello');
    expect(a.attributes).toEqual({ 'http.a': 1, 'http.b': 2, keep: true, 'log.level': 'info' });
    dropFields(a, keyMatcher(['http.*']), []);
    expect(a.attributes).toEqual({ keep: true, 'log.level': 'info' });
    keepFields(a, keyMatcher(['keep']));
    expect(a.attributes).toEqual({ keep: true });
  });
});
