import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DemoLogGenerator, DemoLogWriter, nginxTime } from '../../agent/demo-logs.js';
import { sniffSeverity } from '../../collector/transforms/sniff-severity.js';

const T0 = Date.UTC(2026, 10, 25, 10, 0, 0);
const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

function run(g: DemoLogGenerator, seconds: number, stepMs = 100): { access: string[]; app: string[]; perSecond: number[] } {
  const access: string[] = [];
  const app: string[] = [];
  const perSecond: number[] = [];
  for (let t = T0; t < T0 + seconds * 1000; t += stepMs) {
    const out = g.lines(t, t + stepMs);
    access.push(...out.access);
    app.push(...out.app);
    const s = Math.floor((t - T0) / 1000);
    perSecond[s] = (perSecond[s] ?? 0) + out.access.length + out.app.length;
  }
  return { access, app, perSecond };
}

describe('DemoLogGenerator', () => {
  it('is reproducible from its seed', () => {
    expect(run(new DemoLogGenerator({ seed: 7 }), 5)).toEqual(run(new DemoLogGenerator({ seed: 7 }), 5));
    expect(run(new DemoLogGenerator({ seed: 7 }), 5)).not.toEqual(run(new DemoLogGenerator({ seed: 8 }), 5));
  });

  it('writes a modest steady rate: 50 to 200 lines in every second', () => {
    const { perSecond } = run(new DemoLogGenerator(), 300);
    expect(Math.min(...perSecond)).toBeGreaterThanOrEqual(50);
    expect(Math.max(...perSecond)).toBeLessThanOrEqual(200);
  });

  it('writes nginx combined access lines whose status the severity sniff reads', () => {
    const { access } = run(new DemoLogGenerator(), 60);
    const re = /^\d+\.\d+\.\d+\.\d+ - - \[\d\d\/[A-Z][a-z]{2}\/\d{4}:\d\d:\d\d:\d\d \+0000\] "(GET|POST) \S+ HTTP\/1\.1" (\d{3}) \d+ "[^"]*" "[^"]*" \d+\.\d{3}$/;
    for (const line of access) expect(line).toMatch(re);
    const sev = new Set(access.map((l) => sniffSeverity(l)?.text));
    expect(sev.has('INFO')).toBe(true);
    expect(sev.has('WARN')).toBe(true);
    expect(access[0]).toContain(`[${nginxTime(T0).slice(0, 11)}`);
  });

  it('writes application lines with levels and services', () => {
    const { app } = run(new DemoLogGenerator(), 60);
    const re = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO |WARN |ERROR) \[[a-z]+\] .+ trace_id=[0-9a-f]{32}$/;
    for (const line of app) expect(line).toMatch(re);
    const levels = new Set(app.map((l) => sniffSeverity(l)?.text));
    expect([...levels].sort()).toEqual(['DEBUG', 'ERROR', 'INFO', 'WARN']);
  });

  it('has error bursts: some seconds carry many times the usual errors', () => {
    const g = new DemoLogGenerator();
    const errorsPerSecond: number[] = [];
    let bursts = 0;
    let wasBurst = false;
    for (let s = 0; s < 300; s++) {
      const t = T0 + s * 1000;
      const { access, app } = g.lines(t, t + 1000);
      errorsPerSecond.push([...access, ...app].filter((l) => sniffSeverity(l)?.text === 'ERROR').length);
      const b = g.inBurst(t + 1000);
      if (b && !wasBurst) bursts++;
      wasBurst = b;
    }
    expect(bursts).toBeGreaterThanOrEqual(2);
    const sorted = [...errorsPerSecond].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
    expect(median).toBeLessThanOrEqual(3);
    expect(Math.max(...errorsPerSecond)).toBeGreaterThanOrEqual(15);
  });
});

describe('DemoLogWriter', () => {
  it('appends lines to access.log and app.log and rotates by size, so disk use stays bounded', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tw-demo-'));
    dirs.push(dir);
    let now = T0;
    const w = new DemoLogWriter({ dir, maxBytes: 64 * 1024, now: () => now, tickMs: 60_000 });
    await w.start();
    let written = 0;
    for (let i = 0; i < 200; i++) {
      now += 1000;
      written += await w.writeDue();
    }
    await w.stop();
    await w.stop();
    expect(w.counters.lines).toBe(written);
    expect(written).toBeGreaterThan(200 * 50);
    expect(w.counters.rotations).toBeGreaterThan(4);
    expect((await readdir(dir)).sort()).toEqual(['access.log', 'access.log.1', 'app.log', 'app.log.1']);
    for (const f of await readdir(dir)) expect((await stat(join(dir, f))).size).toBeLessThanOrEqual(64 * 1024);
    const lines = (await readFile(join(dir, 'app.log'), 'utf8')).split('\n');
    expect(lines.at(-1)).toBe('');
    expect(lines.slice(0, -1).every((l) => / (DEBUG|INFO |WARN |ERROR) \[/.test(l))).toBe(true);
  });

  it('writes at most one second of lines after a stall', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tw-demo-'));
    dirs.push(dir);
    let now = T0;
    const w = new DemoLogWriter({ dir, now: () => now, tickMs: 60_000 });
    await w.start();
    now += 3_600_000;
    const n = await w.writeDue();
    await w.stop();
    expect(n).toBeLessThanOrEqual(200);
  });

  it('writes on its own timer once started', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tw-demo-'));
    dirs.push(dir);
    const w = new DemoLogWriter({ dir, tickMs: 20 });
    await w.start();
    await new Promise((r) => setTimeout(r, 300));
    await w.stop();
    expect(w.counters.lines).toBeGreaterThan(5);
    expect((await stat(join(dir, 'access.log'))).size).toBeGreaterThan(0);
  });
});
