/** The listener rule's pieces (core/listen-security.ts): what counts as loopback, the token rule, the bearer check. */
import { describe, expect, it } from 'vitest';
import { BearerCheck, checkListener, isLoopbackHost } from '../../core/listen-security.js';

describe('isLoopbackHost', () => {
  it.each(['127.0.0.1', '127.0.0.2', '127.255.0.9', 'localhost', 'LOCALHOST', '::1', '[::1]', '::ffff:127.0.0.1'])('%s is loopback', (h) => {
    expect(isLoopbackHost(h)).toBe(true);
  });
  it.each(['0.0.0.0', '::', '[::]', '', '10.0.0.1', '192.0.2.2', 'fd00::2', '::ffff:10.0.0.1', 'localhost.example.com', 'web-1', '128.0.0.1', '127.0.0'])('%s is not', (h) => {
    expect(isLoopbackHost(h)).toBe(false);
  });
});

describe('checkListener', () => {
  it('refuses an exposed address without a token, or with a short one, naming the keys', () => {
    expect(() => checkListener('sources.o.http_endpoint', '0.0.0.0', undefined, 'sources.o.auth_token')).toThrow(
      expect.objectContaining({ code: 'TW_LISTEN_UNPROTECTED', message: expect.stringContaining('sources.o.http_endpoint: listening on 0.0.0.0 (not loopback) needs sources.o.auth_token') }),
    );
    expect(() => checkListener('x', '10.0.0.1', 'short-token', 'y')).toThrow(expect.objectContaining({ code: 'TW_LISTEN_UNPROTECTED' }));
    expect(() => checkListener('x', '10.0.0.1', 'a'.repeat(16), 'y')).not.toThrow();
  });
  it('leaves loopback alone, with or without a token', () => {
    expect(() => checkListener('x', '127.0.0.1', undefined, 'y')).not.toThrow();
    expect(() => checkListener('x', '::1', 'abc', 'y')).not.toThrow();
  });
});

describe('BearerCheck', () => {
  it('accepts only the configured token, case-insensitive scheme, and everything when none is set', () => {
    const b = new BearerCheck('the-token-0123456789');
    expect(b.allows('Bearer the-token-0123456789')).toBe(true);
    expect(b.allows('bearer  the-token-0123456789 ')).toBe(true);
    expect(b.allows('Bearer the-token-012345678')).toBe(false);
    expect(b.allows('the-token-0123456789')).toBe(false);
    expect(b.allows('Basic dGhlLXRva2Vu')).toBe(false);
    expect(b.allows(undefined)).toBe(false);
    expect(new BearerCheck(undefined).allows(undefined)).toBe(true);
  });
});
