/**
 * The whole chain in `tidewatch up`, seen in real Chromium: lines written to a tailed file →
 * severity sniff → per-second rollup → the rules stage's default `error_ratio_high` rule → the
 * alerts topic → the open Alerts page. No alert is published by the test: a rule must fire.
 */
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnUp, type UpProcess } from '../support/spawn-up.js';

const CHROMIUM = process.env.TW_CHROMIUM ?? '/usr/bin/chromium';
let dir = '';
let up: UpProcess | undefined;
let browser: BrowserContext | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tw-up-alert-'));
  browser = await chromium.launchPersistentContext(join(dir, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
});

afterAll(async () => {
  await browser?.close();
  if (up !== undefined) await up.stop();
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

describe('tidewatch up: a rule fires and its alert appears in the browser', () => {
  it('shows error_ratio_high firing on the Alerts page once error lines dominate', async () => {
    const log = join(dir, 'app.log');
    await writeFile(log, '');
    const config = join(dir, 'up.yaml');
    await writeFile(config, `sources:\n  app: { type: file, include: ["${log}"], start_at: beginning }\n`);
    up = spawnUp(['--config', config, '--port', '0', '--data-dir', join(dir, 'data')]);
    const url = await up.url;
    const page = await browser!.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(`${url}#/alerts`);
    expect(await page.locator('#al-table tr[data-alert]').count()).toBe(0);
    // Healthy traffic first, then an error storm: the error share goes far above 10 %.
    let i = 0;
    const write = async (level: string, n: number) => {
      const lines = Array.from({ length: n }, () => `2026-11-25T10:00:00Z ${level} request ${i++} handled`);
      await appendFile(log, `${lines.join('\n')}\n`);
    };
    await write('INFO', 50);
    const end = Date.now() + 60_000;
    const row = page.locator('#al-table tr', { hasText: 'error_ratio_high' });
    while (Date.now() < end && (await row.count()) === 0) {
      await write('ERROR', 20);
      await write('INFO', 5);
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(await row.count()).toBeGreaterThan(0);
    expect(await row.first().textContent()).toContain('firing');
    expect(problems).toEqual([]);
  }, 120_000);
});
