/**
 * The demo input of `tidewatch up`: realistic nginx access logs (combined format plus request
 * time) and application logs with levels, with an error burst now and then (5xx on the checkout
 * path, ERROR lines from the payment service), written at a steady ~100 lines/s to
 * `<dir>/access.log` and `<dir>/app.log`, which the real `file` source then tails.
 *
 * Two parts: `DemoLogGenerator` is pure (seeded, `now` passed in: same seed and times, same
 * lines), and `DemoLogWriter` appends its lines on a timer with size-bounded rotation
 * (`app.log` → `app.log.1`, by rename, as logrotate does), so the demo never holds more than
 * 2 × 2 × `maxBytes` on disk however long it runs.
 */
import { mkdir, open, rename, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

/** A small, fast, seedable PRNG (mulberry32): the demo must be reproducible in tests. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** nginx's $time_local in UTC: `25/Nov/2026:10:00:00 +0000`. */
export function nginxTime(ms: number): string {
  const d = new Date(ms);
  return `${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
}

const AGENTS = [
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0',
  'curl/8.11.0',
  'kube-probe/1.31',
  'Go-http-client/1.1',
];

interface Route {
  readonly method: string;
  readonly path: (r: () => number) => string;
  readonly weight: number;
  readonly bytes: number;
  readonly ms: number;
}

const ROUTES: readonly Route[] = [
  { method: 'GET', path: () => '/', weight: 12, bytes: 5120, ms: 4 },
  { method: 'GET', path: (r) => `/api/products/${1000 + Math.floor(r() * 900)}`, weight: 30, bytes: 1800, ms: 18 },
  { method: 'GET', path: (r) => `/api/products?page=${1 + Math.floor(r() * 8)}&sort=price`, weight: 10, bytes: 9200, ms: 35 },
  { method: 'GET', path: () => '/api/cart', weight: 14, bytes: 740, ms: 12 },
  { method: 'POST', path: () => '/api/cart/items', weight: 8, bytes: 210, ms: 22 },
  { method: 'POST', path: () => '/api/checkout', weight: 4, bytes: 330, ms: 140 },
  { method: 'GET', path: () => '/static/app.3f9c1e.js', weight: 9, bytes: 184_000, ms: 2 },
  { method: 'GET', path: () => '/static/style.8a1d.css', weight: 6, bytes: 22_000, ms: 1 },
  { method: 'POST', path: () => '/login', weight: 3, bytes: 120, ms: 60 },
  { method: 'GET', path: () => '/healthz', weight: 4, bytes: 2, ms: 0 },
];
const ROUTE_WEIGHT = ROUTES.reduce((a, r) => a + r.weight, 0);

type Level = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

interface AppMessage {
  readonly service: string;
  readonly level: Level;
  readonly text: (r: () => number) => string;
  readonly weight: number;
}

const hex = (r: () => number, n: number): string => {
  let s = '';
  for (let i = 0; i < n; i++) s += Math.floor(r() * 16).toString(16);
  return s;
};
const int = (r: () => number, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));

const APP: readonly AppMessage[] = [
  { service: 'checkout', level: 'INFO', weight: 10, text: (r) => `order placed order_id=${hex(r, 12)} items=${int(r, 1, 6)} total_cents=${int(r, 899, 48_900)}` },
  { service: 'checkout', level: 'INFO', weight: 8, text: (r) => `cart updated cart_id=${hex(r, 10)} items=${int(r, 1, 9)}` },
  { service: 'payments', level: 'INFO', weight: 7, text: (r) => `charge authorized provider=stripe amount_cents=${int(r, 899, 48_900)} duration_ms=${int(r, 80, 420)}` },
  { service: 'catalog', level: 'INFO', weight: 12, text: (r) => `served product product_id=${int(r, 1000, 1899)} cache=${r() < 0.8 ? 'hit' : 'miss'} duration_ms=${int(r, 1, 40)}` },
  { service: 'auth', level: 'INFO', weight: 5, text: (r) => `login ok user_id=${int(r, 1, 50_000)} method=${r() < 0.7 ? 'password' : 'sso'}` },
  { service: 'worker', level: 'INFO', weight: 4, text: (r) => `job done queue=emails job_id=${hex(r, 8)} duration_ms=${int(r, 20, 900)}` },
  { service: 'catalog', level: 'DEBUG', weight: 8, text: (r) => `sql query table=products rows=${int(r, 0, 50)} duration_ms=${int(r, 1, 12)}` },
  { service: 'worker', level: 'DEBUG', weight: 4, text: (r) => `poll queue=emails depth=${int(r, 0, 40)}` },
  { service: 'catalog', level: 'WARN', weight: 3, text: (r) => `slow query table=products duration_ms=${int(r, 500, 2400)} threshold_ms=500` },
  { service: 'auth', level: 'WARN', weight: 2, text: (r) => `login failed user_id=${int(r, 1, 50_000)} reason=bad_password attempts=${int(r, 1, 5)}` },
  { service: 'worker', level: 'WARN', weight: 1, text: (r) => `retrying job queue=emails job_id=${hex(r, 8)} attempt=${int(r, 2, 5)}` },
  { service: 'payments', level: 'ERROR', weight: 1, text: (r) => `charge failed provider=stripe error="card_declined" request_id=${hex(r, 16)}` },
];

const BURST_APP: readonly AppMessage[] = [
  { service: 'payments', level: 'ERROR', weight: 6, text: (r) => `charge failed provider=stripe error="upstream timeout after 3000ms" request_id=${hex(r, 16)}` },
  { service: 'checkout', level: 'ERROR', weight: 4, text: (r) => `order failed order_id=${hex(r, 12)} error="payments unavailable: connection reset by peer"` },
  { service: 'payments', level: 'WARN', weight: 3, text: () => `circuit breaker half-open provider=stripe failures=${12}` },
];

function pick<T extends { weight: number }>(items: readonly T[], total: number, r: () => number): T {
  let x = r() * total;
  for (const it of items) {
    x -= it.weight;
    if (x < 0) return it;
  }
  return items[items.length - 1] as T;
}

export interface DemoLines {
  readonly access: string[];
  readonly app: string[];
}

export interface GeneratorOptions {
  seed?: number;
  /** Mean access-log lines per second outside bursts (default 70). */
  accessPerSecond?: number;
  /** Mean application-log lines per second outside bursts (default 40). */
  appPerSecond?: number;
}

/** Pure: the lines of a time span, from a seed. */
export class DemoLogGenerator {
  private readonly r: () => number;
  private readonly accessRate: number;
  private readonly appRate: number;
  private burstStart = Infinity;
  private burstEnd = -Infinity;
  private carryAccess = 0;
  private carryApp = 0;

  constructor(opts: GeneratorOptions = {}) {
    this.r = prng(opts.seed ?? 0x7d1e);
    this.accessRate = opts.accessPerSecond ?? 70;
    this.appRate = opts.appPerSecond ?? 40;
  }

  /** True while an error burst is on at `now`. */
  inBurst(now: number): boolean {
    return now >= this.burstStart && now < this.burstEnd;
  }

  private schedule(start: number): void {
    this.burstStart = start;
    this.burstEnd = start + 5_000 + this.r() * 10_000;
  }

  /** Lines for the span (`from`, `to`], spread evenly over it, in time order. */
  lines(from: number, to: number): DemoLines {
    const r = this.r;
    if (this.burstStart === Infinity) this.schedule(from + 10_000 + r() * 15_000);
    if (from >= this.burstEnd) this.schedule(this.burstEnd + 30_000 + r() * 60_000);
    const burst = this.inBurst(to);
    const secs = Math.max(0, to - from) / 1000;
    // A slow wave (period two minutes) so the chart is not a flat line.
    const wave = 1 + 0.2 * Math.sin((2 * Math.PI * to) / 120_000);
    this.carryAccess += this.accessRate * secs * wave * (burst ? 1.2 : 1) * (0.85 + 0.3 * r());
    this.carryApp += this.appRate * secs * wave * (burst ? 1.3 : 1) * (0.85 + 0.3 * r());
    const nAccess = Math.floor(this.carryAccess);
    const nApp = Math.floor(this.carryApp);
    this.carryAccess -= nAccess;
    this.carryApp -= nApp;
    const access: string[] = [];
    const app: string[] = [];
    for (let i = 0; i < nAccess; i++) access.push(this.accessLine(from + ((i + 1) * (to - from)) / nAccess, burst));
    for (let i = 0; i < nApp; i++) app.push(this.appLine(from + ((i + 1) * (to - from)) / nApp, burst));
    return { access, app };
  }

  private accessLine(t: number, burst: boolean): string {
    const r = this.r;
    const route = pick(ROUTES, ROUTE_WEIGHT, r);
    const path = route.path(r);
    let status = 200;
    const x = r();
    const failing = burst && (path.startsWith('/api/checkout') || path.startsWith('/api/cart')) && x < 0.7;
    if (failing) status = r() < 0.6 ? 503 : 502;
    else if (route.method === 'GET' && path.startsWith('/static/') && x < 0.3) status = 304;
    else if (x < 0.035) status = 404;
    else if (x < 0.045) status = path === '/login' ? 401 : 403;
    else if (x < 0.048) status = 500;
    else if (route.method === 'POST' && path !== '/login') status = 201;
    const bytes = status === 304 || status >= 500 ? (status >= 500 ? 157 : 0) : Math.max(0, Math.round(route.bytes * (0.8 + 0.4 * r())));
    const rt = ((failing ? 3000 + r() * 50 : route.ms * (0.5 + r())) / 1000).toFixed(3);
    const ip = `${int(r, 10, 203)}.${int(r, 0, 255)}.${int(r, 0, 255)}.${int(r, 1, 254)}`;
    const ua = AGENTS[Math.floor(r() * AGENTS.length)] ?? 'curl/8.11.0';
    const referer = path.startsWith('/api/') ? 'https://shop.example.com/' : '-';
    return `${ip} - - [${nginxTime(t)}] "${route.method} ${path} HTTP/1.1" ${status} ${bytes} "${referer}" "${ua}" ${rt}`;
  }

  private appLine(t: number, burst: boolean): string {
    const r = this.r;
    const m = burst && r() < 0.45 ? pick(BURST_APP, 13, r) : pick(APP, 65, r);
    return `${new Date(t).toISOString()} ${m.level.padEnd(5)} [${m.service}] ${m.text(r)} trace_id=${hex(r, 32)}`;
  }
}

export interface WriterOptions extends GeneratorOptions {
  /** Directory of access.log and app.log (created if missing). */
  dir: string;
  /** Bytes a file may reach before it is rotated to `<name>.1` (default 4 MiB). */
  maxBytes?: number;
  /** How often lines are appended (default 100 ms). */
  tickMs?: number;
  now?: () => number;
}

interface OutFile {
  readonly path: string;
  fh: FileHandle;
  size: number;
}

export interface WriterCounters {
  lines: number;
  rotations: number;
  /** Ticks skipped because the previous write had not finished (the next one catches up). */
  skippedTicks: number;
  errors: number;
}

/** Appends the generator's lines on a timer. `start()`/`stop()`; stop is idempotent. */
export class DemoLogWriter {
  readonly generator: DemoLogGenerator;
  readonly counters: WriterCounters = { lines: 0, rotations: 0, skippedTicks: 0, errors: 0 };
  private readonly maxBytes: number;
  private readonly tickMs: number;
  private readonly now: () => number;
  private files: { access: OutFile; app: OutFile } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private last = 0;

  constructor(private readonly opts: WriterOptions) {
    this.generator = new DemoLogGenerator(opts);
    this.maxBytes = opts.maxBytes ?? 4 * 1024 * 1024;
    this.tickMs = opts.tickMs ?? 100;
    this.now = opts.now ?? Date.now;
  }

  get paths(): { access: string; app: string } {
    return { access: join(this.opts.dir, 'access.log'), app: join(this.opts.dir, 'app.log') };
  }

  async start(): Promise<void> {
    await mkdir(this.opts.dir, { recursive: true });
    this.files = { access: await this.open(this.paths.access), app: await this.open(this.paths.app) };
    this.last = this.now();
    this.timer = setInterval(() => this.tick(), this.tickMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.writing;
    const files = this.files;
    this.files = undefined;
    if (files) await Promise.all([files.access.fh.close(), files.app.fh.close()]);
  }

  /** Writes the lines due up to now; exposed so tests can drive it without the timer. */
  async writeDue(): Promise<number> {
    const files = this.files;
    if (files === undefined) return 0;
    const now = this.now();
    // At most one second per write, so a stalled process does not write a flood when it wakes.
    const from = Math.max(this.last, now - 1000);
    this.last = now;
    const { access, app } = this.generator.lines(from, now);
    await this.append(files.access, access);
    await this.append(files.app, app);
    this.counters.lines += access.length + app.length;
    return access.length + app.length;
  }

  private tick(): void {
    if (this.writing !== undefined) {
      this.counters.skippedTicks++;
      return;
    }
    this.writing = this.writeDue()
      .then(
        () => undefined,
        () => void this.counters.errors++,
      )
      .finally(() => {
        this.writing = undefined;
      });
  }

  private async open(path: string): Promise<OutFile> {
    const fh = await open(path, 'a');
    const size = (await stat(path)).size;
    return { path, fh, size };
  }

  private async append(f: OutFile, lines: string[]): Promise<void> {
    if (lines.length === 0) return;
    const buf = Buffer.from(`${lines.join('\n')}\n`);
    if (f.size > 0 && f.size + buf.length > this.maxBytes) {
      await f.fh.close();
      await rename(f.path, `${f.path}.1`);
      const fresh = await this.open(f.path);
      f.fh = fresh.fh;
      f.size = fresh.size;
      this.counters.rotations++;
    }
    await f.fh.write(buf);
    f.size += buf.length;
  }
}
