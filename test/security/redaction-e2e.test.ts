/**
 * Redaction end to end: lines carrying an e-mail address, a card number, a bearer token, a
 * password and URL credentials go through the real `tidewatch up` (file source → bus → collector
 * → dashboard), and what the dashboard serves (patterns with their sample lines, the live tail,
 * the series list, /metrics) must not contain any of them, while the lines themselves did arrive
 * (their redacted form is there).
 */
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawnUp, type UpProcess } from '../support/spawn-up.js';

const EMAIL = 'jane.doe.e2e@example.org';
const CARD = '4111 1111 1111 1111';
const BEARER = 'eyJhbGciOiJIUzI1NiJ9.e2eTokenPayload.sigXyZ123';
const PASSWORD = 'pw-e2e-Hunter2Zz';
const URL_PASSWORD = 'urlpass-e2e-99';
const SECRETS = [EMAIL, CARD, CARD.replace(/ /g, ''), BEARER, PASSWORD, URL_PASSWORD];

let dir: string;
let up: UpProcess | undefined;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tw-sec-redact-'));
});
afterEach(() => up?.kill());
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function poll<T>(what: string, fn: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}\n${up?.stderr() ?? ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('tidewatch up: secrets and personal data never reach the dashboard', () => {
  it('patterns, samples, the live tail, series and /metrics hold the redacted lines only', async () => {
    const log = join(dir, 'app.log');
    writeFileSync(log, '');
    const cfg = join(dir, 'up.yaml');
    writeFileSync(cfg, `sources:\n  app: { type: file, include: [${JSON.stringify(log)}], start_at: beginning }\n`);
    up = spawnUp(['--config', cfg, '--port', '0', '--data-dir', join(dir, 'data')]);
    const url = await up.url;

    const lines: string[] = [];
    for (let i = 0; i < 40; i++) {
      lines.push(
        `2026-11-25T10:00:${String(i % 60).padStart(2, '0')}Z ERROR payment ${i} failed for ${EMAIL} card ${CARD}`,
        `2026-11-25T10:00:${String(i % 60).padStart(2, '0')}Z INFO upstream call ${i} with Authorization: Bearer ${BEARER}`,
        `2026-11-25T10:00:${String(i % 60).padStart(2, '0')}Z WARN login retry ${i} password=${PASSWORD} via https://svc:${URL_PASSWORD}@db.internal/x`,
      );
    }
    appendFileSync(log, `${lines.join('\n')}\n`);

    const get = async (path: string): Promise<string> => (await fetch(new URL(path, url))).text();
    // The lines arrived: the tail shows their redacted form.
    const tail = await poll('the redacted lines in the live tail', async () => {
      const t = await get('/api/v1/logs');
      return t.includes('payment') && t.includes('upstream call') && t.includes('login retry') ? t : undefined;
    });
    expect(tail).toContain('[REDACTED:');
    const patterns = await poll('patterns', async () => {
      const p = await get('/api/v1/patterns');
      return p.includes('payment') && p.includes('login retry') ? p : undefined;
    });

    const everything = [tail, patterns, await get('/api/v1/series'), await get('/api/v1/overview'), await get('/metrics'), up.stdout(), up.stderr()].join('\n');
    for (const s of SECRETS) expect(everything, `${s} reached the dashboard`).not.toContain(s);
    expect(await up.stop()).toBe(0);
  });
});
