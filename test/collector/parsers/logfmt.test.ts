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

  it('writes into the given map only when the whole line parsed', () => {
    const into = { level: 'debug' };
    expect(parseLogfmt('level=warn msg="never closed', {}, into)).toEqual({ ok: false, reason: 'unterminated_quote' });
    expect(parseLogfmt('just words', {}, into).ok).toBe(false);
    expect(into).toEqual({ level: 'debug' });
    expect(parseLogfmt('level=warn a=1', {}, into)).toEqual({ ok: true, fields: { level: 'warn', a: '1' } });
  });

  it('reads keys right when lines repeat, change and reorder them', () => {
    // Keys are remembered by position between lines; a changed key must not be mistaken for the old one.
    expect(parseLogfmt('ts=1 level=info msg=a')).toEqual({ ok: true, fields: { ts: '1', level: 'info', msg: 'a' } });
    expect(parseLogfmt('ts=2 level=info msg=b')).toEqual({ ok: true, fields: { ts: '2', level: 'info', msg: 'b' } });
    expect(parseLogfmt('ts=3 lever=x msg=c')).toEqual({ ok: true, fields: { ts: '3', lever: 'x', msg: 'c' } });
    expect(parseLogfmt('msg=d ts=4 levels=y')).toEqual({ ok: true, fields: { msg: 'd', ts: '4', levels: 'y' } });
    expect(parseLogfmt('ts=5 level=info', { prefix: 'p.' })).toEqual({ ok: true, fields: { 'p.ts': '5', 'p.level': 'info' } });
  });
});
