import { describe, expect, it } from 'vitest';
import { compileRegex, GROK, unsafeReason } from '../../../collector/parsers/regex.js';

describe('regex parser', () => {
  it('extracts named groups, maps __ to dots and converts types', () => {
    const re = compileRegex({
      pattern: '^(?<ts>\\S+) (?<level>[A-Z]+) \\[(?<http__method>[A-Z]+) (?<status>\\d{3})\\] took (?<ms>[\\d.]+)ms$',
      types: { status: 'integer', ms: 'number' },
    });
    expect(re.fields).toEqual(['ts', 'level', 'http.method', 'status', 'ms']);
    expect(re.parse('2026-11-25T10:00:00Z INFO [GET 200] took 12.5ms')).toEqual({
      ok: true,
      fields: { ts: '2026-11-25T10:00:00Z', level: 'INFO', 'http.method': 'GET', status: 200, ms: 12.5 },
    });
    expect(re.parse('nothing like it')).toEqual({ ok: false, reason: 'no_match' });
  });

  it('skips optional groups that did not participate', () => {
    const re = compileRegex({ pattern: '^(?<a>\\w+)(?: (?<b>\\d+))?$' });
    expect(re.parse('x')).toEqual({ ok: true, fields: { a: 'x' } });
  });

  it('refuses inputs longer than maxChars', () => {
    const re = compileRegex({ pattern: '(?<a>x)', maxChars: 10 });
    expect(re.parse('x'.repeat(11))).toEqual({ ok: false, reason: 'too_long' });
  });

  it.each([
    ['(?<a>a+)+$', /nested quantifier/],
    ['^(?<w>(\\w+\\s?)*)$', /nested quantifier/],
    ['(?<x>(a|b+){2,})', /nested quantifier/],
    ['(?<a>a)\\1', /backreference/],
    ['(?<a>a)\\k<a>', /backreference/],
  ])('refuses the catastrophic pattern %s', (pattern, why) => {
    expect(unsafeReason(pattern)).toMatch(why);
    expect(() => compileRegex({ pattern })).toThrow(/unsafe pattern/);
  });

  it.each(['^(?<ip>(?:\\d{1,3}\\.){3}\\d{1,3})', '(?<a>[a+]+)', '(?<k>\\w+)=(?<v>"[^"]*"|\\S+)', '(?<x>(?:ab)+)', '(?<x>\\(+)'])('accepts the safe pattern %s', (pattern) => {
    expect(unsafeReason(pattern)).toBeUndefined();
  });

  it('rejects invalid patterns and patterns without named groups', () => {
    expect(() => compileRegex({ pattern: '(?<a>' })).toThrow(/invalid pattern/);
    expect(() => compileRegex({ pattern: '\\d+' })).toThrow(/no named group/);
  });

  it('grok-style patterns: names, dotted fields, conversions', () => {
    const re = compileRegex({
      pattern: '^%{IPORHOST:client.address} %{USER:ident} %{USER:user.name} \\[%{HTTPDATE:ts}\\] "%{WORD:method} %{URIPATHPARAM:url.original} HTTP/%{NUMBER:version}" %{INT:status:int} (?:%{INT:bytes:int}|-) %{QUOTEDSTRING:referer} %{QUOTEDSTRING} %{NUMBER:rt:float}$',
    });
    const line = '10.0.0.1 - bob [25/Nov/2026:10:00:00 +0000] "GET /a?b=1 HTTP/1.1" 200 512 "-" "curl/8.5.0" 0.042';
    expect(re.parse(line)).toEqual({
      ok: true,
      fields: { 'client.address': '10.0.0.1', ident: '-', 'user.name': 'bob', ts: '25/Nov/2026:10:00:00 +0000', method: 'GET', 'url.original': '/a?b=1', version: '1.1', status: 200, bytes: 512, referer: '"-"', rt: 0.042 },
    });
    const lvl = compileRegex({ pattern: '%{TIMESTAMP_ISO8601:time} %{LOGLEVEL:level} %{GREEDYDATA:msg}' });
    expect(lvl.parse('2026-11-25T10:00:00.123Z WARNING disk 91% full')).toEqual({ ok: true, fields: { time: '2026-11-25T10:00:00.123Z', level: 'WARNING', msg: 'disk 91% full' } });
    expect(() => compileRegex({ pattern: '%{NOPE:x}' })).toThrow(/unknown grok pattern/);
  });

  it('every grok pattern passes the safety check and compiles', () => {
    for (const [name, body] of Object.entries(GROK)) {
      expect(unsafeReason(body), name).toBeUndefined();
      expect(() => new RegExp(body)).not.toThrow();
    }
  });
});
