/**
 * Every page in real headless Chromium (Debian's chromium via playwright-core), against the
 * dashboard role fed over an in-process bus. To control every value (XSS payloads, a silent
 * host, pending and resolved alerts), this test publishes the wire records (core/wire.ts) that
 * the rules engine, the patterns sink, heartbeats and the tail produce; up-alert.browser.test.ts
 * proves the real chain, a rule firing in `tidewatch up`. Rollups are published once a second,
 * like the collector's rollup stage. Screenshots go to docs/screenshots/.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBus, type Bus } from '../../core/transports/bus.js';
import { startDashboard, type DashboardService } from '../../dashboard/service.js';
import { alert, heartbeat, linesPoint, logLine, pattern, publishAlert, publishHeartbeat, publishPattern, publishPoints, publishTail } from './fixture.js';

const CHROMIUM = process.env.TW_CHROMIUM ?? '/usr/bin/chromium';
const XSS = '<img src=x onerror="document.title=\'pwned\'"><script>document.title="pwned"</script>';
let bus: Bus;
let dash: DashboardService;
let browser: BrowserContext;
let dir = '';
let ticker: NodeJS.Timeout | undefined;

const HOSTS = ['web-1', 'web-2'];
const SEVERITIES: Record<string, number> = { info: 40, warn: 6, error: 3 };

function second(): number {
  return Math.floor(Date.now() / 1000) * 1000;
}

async function publishSecond(t: number): Promise<void> {
  const pts = [];
  for (const h of HOSTS) for (const [sev, n] of Object.entries(SEVERITIES)) pts.push(linesPoint(t, n + (t / 1000) % 5, { severity: sev, 'host.name': h }));
  await publishPoints(bus, pts);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tw-pages-'));
  bus = createBus();
  await bus.start();
  dash = await startDashboard({ transport: bus, port: 0, dataDir: join(dir, 'data') });
  const now = second();
  for (let t = now - 180_000; t <= now; t += 1000) await publishSecond(t);
  let last = now;
  ticker = setInterval(() => {
    const t = second();
    if (t > last) {
      last = t;
      void publishSecond(t);
    }
  }, 100);
  await publishPattern(bus, pattern({ pattern_id: 'p-get', template: 'GET /api/<*> 200 <*>ms', count: 900, last_seen: now }));
  await publishPattern(bus, pattern({ pattern_id: 'p-xss', template: `user said ${XSS} <*>`, count: 12, first_seen: now - 5000, last_seen: now, sample: XSS }));
  await publishHeartbeat(bus, heartbeat({ agent_id: 'ag-1', host: 'web-1', time: now, interval_ms: 60_000 }));
  await publishHeartbeat(bus, heartbeat({ agent_id: 'ag-2', host: 'web-2', time: now - 600_000, interval_ms: 10_000 }));
  await publishTail(bus, [
    logLine('GET /api/cart 200 12ms', { severity_number: 9, severity_text: 'info', attributes: { 'tidewatch.pattern.id': 'p-get' } }),
    logLine(`login failed for ${XSS}`, { attributes: { 'tidewatch.pattern.id': 'p-xss', user: XSS }, resource: { 'host.name': `web-2${XSS}` } }),
  ]);
  browser = await chromium.launchPersistentContext(join(dir, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    viewport: { width: 1280, height: 900 },
  });
});

afterAll(async () => {
  if (ticker !== undefined) clearInterval(ticker);
  await browser?.close();
  await dash?.stop();
  await bus?.stop();
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

interface Watched {
  page: Page;
  problems: string[];
}

async function open(hash: string): Promise<Watched> {
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('dialog', (d) => {
    problems.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  page.on('console', (m) => {
    if (m.type() === 'error' || /Content Security Policy/i.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  await page.goto(`${dash.url}${hash}`);
  return { page, problems };
}

async function until(what: string, f: () => Promise<boolean>, ms = 15_000, stepMs = 200): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await f()) return;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function shot(page: Page, name: string): Promise<void> {
  await mkdir('docs/screenshots', { recursive: true });
  await page.screenshot({ path: `docs/screenshots/${name}.png`, fullPage: true });
}

describe('dashboard pages in Chromium', () => {
  it('Overview: live chart, tiles, firing alerts, agents with a silent host, top and new patterns', async () => {
    await publishAlert(bus, alert({ alert_id: 'ov-1', rule: 'HighErrorRate', time: Date.now(), started_at: Date.now() }));
    const { page, problems } = await open('#/overview');
    await until('chart points', async () => Number(await page.locator('#chart').getAttribute('data-points')) > 100);
    expect(await page.locator('#chart canvas').count()).toBe(1);
    await until('firing alert', async () => (await page.locator('#ov-alerts li').count()) > 0);
    expect(await page.locator('#ov-alerts').textContent()).toContain('HighErrorRate');
    expect(await page.locator('#nav-firing').textContent()).toBe('1');
    const agents = await page.locator('#ov-agents tbody tr').allTextContents();
    expect(agents.join('|')).toMatch(/web-1ok/);
    expect(agents.join('|')).toMatch(/web-2silent/);
    expect(await page.locator('#ov-top tbody tr').first().textContent()).toContain('GET /api/<*> 200 <*>ms');
    expect(await page.locator('#ov-new tbody tr').first().textContent()).toContain('user said <img');
    expect(Number(await page.locator('#stat-rate').textContent())).toBeGreaterThan(0);
    await shot(page, 'overview');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('Explore: several series per chart, grouped, a live point arrives within a second or two, zoom narrows the range', async () => {
    const { page, problems } = await open('#/explore');
    const chart = page.locator('#ex-chart');
    await until('explore chart', async () => Number(await chart.getAttribute('data-series')) >= 6);
    expect(await page.locator('#ex-chart canvas').count()).toBe(1);
    const before = Number(await chart.getAttribute('data-last'));
    await until('a live point', async () => Number(await chart.getAttribute('data-last')) > before, 4000);
    // Latency: a point (its time is the end of its 1 s window) is drawn within 1 s of that time.
    const latencies: number[] = [];
    for (let i = 0; i < 3; i++) {
      const seen = Number(await chart.getAttribute('data-last'));
      let latest = seen;
      await until('the next live point', async () => (latest = Number(await chart.getAttribute('data-last'))) > seen, 4000, 20);
      latencies.push(Date.now() - latest * 1000);
    }
    expect(Math.max(...latencies)).toBeLessThan(1000);
    // Group by host: one line per host.
    await page.selectOption('#ex-group', 'host.name');
    await until('grouped', async () => Number(await chart.getAttribute('data-series')) === 2);
    // Filter on a label.
    await page.fill('#ex-filter', 'severity=error');
    await page.locator('#ex-filter').press('Enter');
    await page.selectOption('#ex-group', '');
    await until('filtered', async () => Number(await chart.getAttribute('data-series')) === 2);
    await shot(page, 'explore');
    // Zoom: drag across the middle of the plot.
    const box = (await page.locator('#ex-chart .u-over').boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.4, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2, { steps: 5 });
    await page.mouse.up();
    await until('zoomed', async () => (await chart.getAttribute('data-zoomed')) === '1');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('Logs: live tail with highlighting, XSS payloads shown as text, patterns with sparklines, pattern to its lines', async () => {
    const { page, problems } = await open('#/logs');
    await until('tail lines', async () => (await page.locator('#lg-lines .line').count()) >= 2);
    const text = await page.locator('#lg-lines').textContent();
    expect(text).toContain(`login failed for ${XSS}`);
    expect(text).toContain(`web-2${XSS}`);
    expect(text).toContain(`user=${XSS}`);
    expect(await page.locator('#lg-lines img, #lg-lines script').count()).toBe(0);
    // A new line arrives live and is highlighted as text.
    await page.fill('#lg-contains', 'failed');
    await page.locator('#lg-contains').press('Enter');
    await publishTail(bus, [logLine(`payment failed <b>bold</b> ${XSS}`, { attributes: { 'tidewatch.pattern.id': 'p-xss' } })]);
    await until('new line', async () => (await page.locator('#lg-lines').textContent())!.includes('payment failed <b>bold</b>'));
    expect(await page.locator('#lg-lines mark').first().textContent()).toBe('failed');
    expect(await page.locator('#lg-lines b, #lg-lines img').count()).toBe(0);
    await until('patterns', async () => (await page.locator('#lg-patterns tbody tr').count()) === 2);
    expect(await page.locator('#lg-patterns canvas.spark').count()).toBe(2);
    expect(await page.locator('#lg-patterns').textContent()).toContain(`user said ${XSS} <*>`);
    await page.fill('#lg-contains', '');
    await page.locator('#lg-contains').press('Enter');
    await page.locator('#lg-patterns tr[data-pattern="p-get"]').click();
    await until('pattern lines', async () => (await page.locator('#lg-lines .line').count()) === 1);
    expect(await page.locator('#lg-lines').textContent()).toContain('GET /api/cart 200 12ms');
    await shot(page, 'logs');
    expect(await page.title()).toBe('tidewatch');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('Alerts: a rule firing appears on the open page; acknowledge and silence work through CSRF-protected POSTs', async () => {
    const { page, problems } = await open('#/alerts');
    await until('alerts table', async () => (await page.locator('body').getAttribute('data-ready')) === '1');
    const t = Date.now();
    await publishAlert(bus, alert({ alert_id: 'live-1', rule: 'DiskAlmostFull', severity: 'warning', labels: { host: XSS }, summary: `disk 95% ${XSS}`, time: t, started_at: t }));
    await publishAlert(bus, alert({ alert_id: 'pend-1', rule: 'SlowRequests', labels: { alertstate: 'pending' }, time: t, started_at: t }));
    await publishAlert(bus, alert({ alert_id: 'old-1', rule: 'OldThing', state: 'resolved', time: t, started_at: t - 60_000, resolved_at: t }));
    const row = page.locator('#al-table tr[data-alert="live-1"]');
    await until('alert row', async () => (await row.count()) === 1, 5000);
    expect(await row.textContent()).toContain(`disk 95% ${XSS}`);
    expect(await row.textContent()).toContain(`host=${XSS}`);
    expect(await page.locator('#al-table img').count()).toBe(0);
    expect(await page.locator('#al-table tr[data-alert="pend-1"] td').first().textContent()).toBe('pending');
    expect(await page.locator('#al-table tr[data-alert="old-1"] td').first().textContent()).toBe('resolved');
    await row.locator('button.ack').click();
    await until('acked', async () => (await row.locator('td').first().textContent())!.includes('acked'));
    await row.locator('button.silence').click();
    await until('silenced', async () => (await row.locator('td').first().textContent())!.includes('silenced'));
    expect(await page.locator('#al-history').textContent()).toContain('acknowledged');
    await shot(page, 'alerts');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('Agents: per host last seen, lines/s, lag and drops; a silent host is flagged', async () => {
    const { page, problems } = await open('#/agents');
    await until('agents', async () => (await page.locator('#ag-table tbody tr').count()) === 2);
    expect(await page.locator('#ag-table tr[data-agent="ag-2"] td').nth(1).textContent()).toBe('silent');
    expect(await page.locator('#ag-table tr[data-agent="ag-1"] td').nth(1).textContent()).toBe('ok');
    expect(Number(await page.locator('#ag-table tr[data-agent="ag-1"] td').nth(3).textContent())).toBeGreaterThan(0);
    expect(await page.locator('#nav-silent').textContent()).toBe('1');
    await shot(page, 'agents');
    expect(problems).toEqual([]);
    await page.close();
  });
});

describe('token auth in Chromium', () => {
  it('refuses the page without the token; /?token= once sets the cookie and the page works', async () => {
    const token = 'browser-test-token-0123456789';
    const guarded = await startDashboard({ transport: bus, port: 0, token, groupId: 'tidewatch.dashboard.guarded' });
    try {
      const page = await browser.newPage();
      const denied = await page.goto(guarded.url);
      expect(denied?.status()).toBe(401);
      await page.goto(`${guarded.url}?token=${token}`);
      expect(page.url()).toBe(guarded.url); // the token left the address bar
      await until('chart with data', async () => Number(await page.locator('#chart').getAttribute('data-points')) > 0);
      expect(await page.locator('#status').textContent()).toBe('live');
      await page.close();
    } finally {
      await guarded.stop();
    }
  });
});
