/**
 * Dashboard gaps not covered by test/dashboard/ (which checks XSS in Chromium, the CSP, the Host
 * check, a missing CSRF header and a cross-origin POST): the token cookie is `Secure` over HTTPS,
 * a wrong CSRF value is refused like a missing one, and a cross-site form post that rides on the
 * token cookie is refused.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildServer } from '../../dashboard/server.js';
import { SeriesStore } from '../../dashboard/store.js';
import { type TestCerts, useTempCerts } from './certs.js';

const TOKEN = 'dashboard-token-0123456789';
let certs: TestCerts;
useTempCerts('tw-sec-dash-', (c) => (certs = c));

function server(tls: boolean): ReturnType<typeof buildServer> {
  return buildServer({
    store: new SeriesStore(),
    token: TOKEN,
    ...(tls ? { tls: { cert: readFileSync(certs.certFile, 'utf8'), key: readFileSync(certs.keyFile, 'utf8'), requestCert: false, rejectUnauthorized: false } } : {}),
  });
}

describe('dashboard token cookie and CSRF', () => {
  it('marks the token cookie Secure over HTTPS only', async () => {
    const https = server(true);
    const plain = server(false);
    try {
      const a = String((await https.inject({ url: `/?token=${TOKEN}` })).headers['set-cookie']);
      const b = String((await plain.inject({ url: `/?token=${TOKEN}` })).headers['set-cookie']);
      expect(a).toMatch(/HttpOnly; SameSite=Strict; Secure$/);
      expect(b).not.toContain('Secure');
    } finally {
      await https.close();
      await plain.close();
    }
  });

  it('refuses a wrong CSRF value and a cookie-authenticated form post, accepts the page\'s own request', async () => {
    const app = server(false);
    try {
      const cookie = String((await app.inject({ url: `/?token=${TOKEN}` })).headers['set-cookie']).split(';')[0]!;
      const { csrf } = (await app.inject({ url: '/api/v1/session', headers: { cookie } })).json() as { csrf: string };
      const post = (headers: Record<string, string>, payload: string) => app.inject({ method: 'POST', url: '/api/v1/alerts/a1/ack', headers: { cookie, ...headers }, payload });
      // A form on another site can send the cookie (were it not SameSite) but no custom header.
      const form = await post({ 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' }, 'by=attacker');
      expect(form.statusCode).toBe(403);
      const formSameOriginNoHeader = await post({ 'content-type': 'application/x-www-form-urlencoded' }, 'by=attacker');
      expect(formSameOriginNoHeader.statusCode).toBe(403);
      // One character off (a different one whatever the random token ends with: 'x' ends one in 64).
      const off = `${csrf.slice(0, -1)}${csrf.endsWith('x') ? 'y' : 'x'}`;
      const wrong = await post({ 'content-type': 'application/json', 'x-tidewatch-csrf': off }, '{"by":"me"}');
      expect(wrong.statusCode).toBe(403);
      expect(wrong.json()).toMatchObject({ error: { code: 'TW_HTTP_REQUEST' } });
      // The right header passes the CSRF check (the alert does not exist: 404, not 403).
      const right = await post({ 'content-type': 'application/json', 'x-tidewatch-csrf': csrf }, '{"by":"me"}');
      expect(right.statusCode).toBe(404);
      // Without the token, even the right CSRF header gets nowhere.
      const anon = await app.inject({ method: 'POST', url: '/api/v1/alerts/a1/ack', headers: { 'content-type': 'application/json', 'x-tidewatch-csrf': csrf }, payload: '{}' });
      expect(anon.statusCode).toBe(401);
    } finally {
      await app.close();
    }
  });
});
