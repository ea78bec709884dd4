/**
 * The first minute of a newcomer, in a real browser: `tidewatch up` (the real CLI, from dist/),
 * its printed URL opened in headless Chromium (Debian's chromium, driven by playwright-core), and
 * the chart gaining points second by second. Set TW_UPDATE_SCREENSHOT=1 to refresh
 * docs/screenshot.png (the README shows it); every run saves .cache/screenshots/up.png.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnUp, type UpProcess } from '../support/spawn-up.js';

const CHROMIUM = process.env.TW_CHROMIUM ?? '/usr/bin/chromium';
let up: UpProcess | undefined;
let browser: BrowserContext | undefined;
let dir = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tw-browser-'));
  up = spawnUp(['--port', '0', '--data-dir', join(dir, 'data')]);
  browser = await chromium.launchPersistentContext(join(dir, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    viewport: { width: 1280, height: 860 },
  });
});

afterAll(async () => {
  await browser?.close();
  up?.kill();
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

describe('dashboard of tidewatch up in Chromium', () => {
  it('shows a live chart that gains a point every second, with no script or CSP errors', async () => {
    const url = await up!.url;
    const page = await browser!.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' || /Content Security Policy/i.test(m.text())) problems.push(`console: ${m.text()}`);
    });
    await page.goto(url);
    expect(await page.locator('h1').textContent()).toBe('tidewatch');

    const chart = page.locator('#chart');
    const read = async () => ({
      points: Number(await chart.getAttribute('data-points')),
      last: Number(await chart.getAttribute('data-last')),
      // uPlot draws on one canvas inside the chart element.
      drawn: await page.locator('#chart canvas').count(),
    });
    // Polled from here: the page's CSP forbids the string evaluation waitForFunction would need.
    for (let i = 0; i < 150 && (await read()).points < 2; i++) await page.waitForTimeout(200);
    const before = await read();
    await page.waitForTimeout(3500);
    const after = await read();
    expect(before.drawn).toBe(1);
    // The last point moves with the clock: three seconds later, about three new seconds.
    expect(after.last - before.last).toBeGreaterThanOrEqual(2);
    expect(after.last - before.last).toBeLessThanOrEqual(5);
    expect(after.points).toBeGreaterThan(before.points);

    // The tiles and the severity table are filled from the same data, as text.
    expect(Number(await page.locator('#stat-rate').textContent())).toBeGreaterThan(0);
    const severities = await page.locator('#severities tbody td:first-child').allTextContents();
    expect(severities).toContain('info');
    expect(await page.locator('#status').textContent()).toBe('live');
    expect(problems).toEqual([]);

    await mkdir('.cache/screenshots', { recursive: true });
    if (process.env.TW_UPDATE_SCREENSHOT === '1') {
      await page.waitForTimeout(Number(process.env.TW_SCREENSHOT_WAIT_MS ?? 30_000));
      await page.screenshot({ path: 'docs/screenshot.png', fullPage: true });
    }
    await page.screenshot({ path: '.cache/screenshots/up.png', fullPage: true });
  });

  it('exits 0 on SIGTERM with the page still open', async () => {
    expect(await up!.stop()).toBe(0);
  });
});
