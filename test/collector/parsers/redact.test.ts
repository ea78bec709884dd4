import { describe, expect, it } from 'vitest';
import { compileRedactor, isIpv6, luhn, sensitiveKey, DEFAULT_SENSITIVE_KEYS } from '../../../collector/parsers/redact.js';

const r = compileRedactor();

describe('redaction rules', () => {
  it.each([
    ['email', 'mail from alice.smith+shop@example.co.uk failed', 'mail from [REDACTED:email] failed'],
    ['ipv4', 'client 203.0.113.7 connected to 10.0.0.1:8080', 'client [REDACTED:ipv4] connected to [REDACTED:ipv4]:8080'],
    ['ipv6', 'from 2001:db8::5 and fe80::1ff:fe23:4567:890a', 'from [REDACTED:ipv6] and [REDACTED:ipv6]'],
    ['ipv6 full form', 'addr 2001:0db8:85a3:0000:0000:8a2e:0370:7334 up', 'addr [REDACTED:ipv6] up'],
    ['card with Luhn', 'paid with 4111 1111 1111 1111 ok', 'paid with [REDACTED:credit_card] ok'],
    ['card with dashes', 'card=5500-0000-0000-0004', 'card=[REDACTED:credit_card]'],
    ['bearer', 'Authorization: Bearer abc.DEF-123_x~y+z/== next', 'Authorization: Bearer [REDACTED:bearer] next'],
    ['jwt', 'token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U end', 'token [REDACTED:jwt] end'],
    ['aws key', 'using AKIAIOSFODNN7EXAMPLE for s3', 'using [REDACTED:aws_key] for s3'],
    ['github token', 'git push with ghp_16C7e42F292c6912E7710c838347Ae178B4a done', 'git push with [REDACTED:api_key] done'],
    ['stripe key', 'key sk_live_4eC39HqLyjWDarjtT1zdp7dc', 'key [REDACTED:api_key]'],
    ['password kv', 'login user=bob password=hunter2 ok', 'login user=bob password=[REDACTED:password] ok'],
    ['password json', '{"user":"bob","Password":"s3cr3t!"}', '{"user":"bob","Password":"[REDACTED:password]"}'],
    ['secret colon', 'client_secret: abc123def', 'client_secret: [REDACTED:password]'],
    ['url credentials', 'connecting to postgres://app:pa55w0rd@db.internal:5432/shop', 'connecting to postgres://app:[REDACTED:url_credentials]@db.internal:5432/shop'],
  ])('%s', (_n, input, want) => {
    expect(r.redact(input)).toBe(want);
  });

  it.each([
    ['clock times are not IPv6', 'at 10:00:00 and 23:59:59.123'],
    ['MAC addresses are not IPv6', 'link aa:bb:cc:dd:ee:ff up'],
    ['versions are not IPv4', 'nginx/1.25.3 and v2.1.0.4.5'],
    ['a 16-digit id failing Luhn is not a card', 'order 4111111111111112 shipped'],
    ['short numbers', 'count 12345678 ok'],
    ['no @ domain', 'user@localhost said hi'],
    ['plain words', 'the password is not in this sentence'],
  ])('leaves alone: %s', (_n, input) => {
    expect(r.redact(input)).toBe(input);
  });

  it('returns the same string when nothing matched (copy avoided)', () => {
    const s = 'GET /index.html 200';
    expect(r.redact(s)).toBe(s);
  });

  it('custom patterns, custom replacement, chosen rules', () => {
    const c = compileRedactor({ rules: ['email'], custom: [{ name: 'customer', pattern: 'CUST-\\d{6}' }], replacement: '***' });
    expect(c.redact('CUST-123456 mailed a@b.io from 10.0.0.1')).toBe('*** mailed *** from 10.0.0.1');
    expect(c.counts).toEqual({ email: 1, customer: 1 });
    expect(() => compileRedactor({ custom: [{ name: 'bad', pattern: '(a+)+' }] })).toThrow(/unsafe/);
    expect(() => compileRedactor({ custom: [{ name: 'empty', pattern: 'x*' }] })).toThrow(/empty string/);
  });

  it('stays linear on long hostile runs', () => {
    const hostile = ['a'.repeat(200_000), '1.'.repeat(100_000), `${'1'.repeat(100_000)} `, 'password='.repeat(20_000), ':'.repeat(200_000), `${'a.'.repeat(100_000)}@`];
    const start = performance.now();
    for (const s of hostile) r.redact(s);
    // Generous bound: quadratic behaviour on these inputs takes minutes, linear takes milliseconds.
    expect(performance.now() - start).toBeLessThan(5000);
  });

  it('helpers', () => {
    expect(luhn('4111111111111111')).toBe(true);
    expect(luhn('4111111111111112')).toBe(false);
    expect(isIpv6('::1')).toBe(true);
    expect(isIpv6('1::2::3')).toBe(false);
    expect(isIpv6('1:2:3')).toBe(false);
    expect(sensitiveKey('http.request.header.authorization', DEFAULT_SENSITIVE_KEYS)).toBe(true);
    expect(sensitiveKey('db_password', DEFAULT_SENSITIVE_KEYS)).toBe(true);
    expect(sensitiveKey('token_count', DEFAULT_SENSITIVE_KEYS)).toBe(false);
  });

  it('regression: a replacement exposing another match is redacted in the same call (found by fuzzing)', () => {
    const out = r.redact('user a@b.io10.0.0.1 password=x');
    expect(out).toBe('user [REDACTED:email][REDACTED:ipv4] password=[REDACTED:password]');
    expect(r.redact(out)).toBe(out);
  });
});
