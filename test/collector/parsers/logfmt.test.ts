import { describe, expect, it } from 'vitest';
import { parseLogfmt } from '../../../collector/parsers/logfmt.js';

describe('parseLogfmt', () => {
  it.each([
    ['plain pairs', 'level=info msg=started port=8080', { level: 'info', msg: 'started', port: '8080' }],
    ['quoted value with spaces', 'msg="user logged in" user=bob', { msg: 'user logged in', user: 'bob' }],
    ['escapes in quotes', 'err="said \\"no\\"\\n" a=1', { err: 'said "no"\n', a: '1' }],
    ['bare key is true', 'level=warn cached', { level: 'warn', cached: true }],
    ['empty value', 'a= b=2', { a: '', b: '2' }],
    ['dotted keys and extra spaces', '  http.status=500   t=0.25  ', { 'http.status': '500', t: '0.25' }],
    ['go kit style', 'ts=2026-11-25T10:00:00Z caller=main.go:42 level=error err="connection reset"', { ts: '2026-11-25T10:00:00Z', caller: 'main.go:42', level: 'error', err: 'connection reset' }],
    ['value with =', 'q=a=b', { q: 'a=b' }],
  ])('%s', (_n, line, fields) => {
    expect(parseLogfmt(line)).toEqual({ ok: true, fields });
  });

  it.each([
    ['free text', 'just some words here', 'no_pairs'],
    ['empty', '', 'no_pairs'],
    ['unterminated quote', 'msg="never closed a=1', 'unterminated_quote'],
  ])('%s fails with %s', (_n, line, reason) => {
    expect(parseLogfmt(line)).toEqual({ ok: false, reason });
  });

  it('prefixes keys', () => {
    expect(parseLogfmt('a=1', { prefix: 'lf.' })).toEqual({ ok: true, fields: { 'lf.a': '1' } });
  });
});
