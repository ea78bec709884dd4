/**
 * `tidewatch detect` as the NAB runner calls it: the real CLI in a child process (needs dist/: run
 * `npx tsc -p tsconfig.build.json` first; `npm test` does).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../bin/tidewatch.js', import.meta.url));

function tidewatch(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

let dir: string;
let input: string;
const ROWS = 1_200;
const SPIKE = 1_000;

/** NAB's layout: `YYYY-MM-DD HH:MM:SS`, 5-minute steps, a deterministic wiggle and one spike. */
function nabLikeCsv(): string {
  const lines = ['timestamp,value'];
  const t0 = Date.UTC(2014, 3, 1);
  for (let i = 0; i < ROWS; i++) {
    const ts = new Date(t0 + i * 300_000).toISOString().replace('T', ' ').slice(0, 19);
    const wiggle = Math.sin(i * 1.7) + 0.5 * Math.sin(i * 0.31);
    const value = i === SPIKE ? 40 : 20 + wiggle;
    lines.push(`${ts},${i === 700 ? 'n/a' : String(value)}`);
  }
  return `${lines.join('\n')}\n`;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tw-detect-'));
  input = join(dir, 'in.csv');
  await writeFile(input, nabLikeCsv());
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function parseOut(text: string): string[][] {
  return text
    .trim()
    .split('\n')
    .map((l) => l.split(','));
}

describe('tidewatch detect', () => {
  it('writes one scored row per input row, in order, and alerts on the spike', async () => {
    const out = join(dir, 'out.csv');
    const r = await tidewatch(['detect', '--input', input, '--output', out]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/1200 rows/);
    expect(r.stderr).toMatch(/1 invalid values/);
    const rows = parseOut(await readFile(out, 'utf8'));
    expect(rows[0]).toEqual(['timestamp', 'value', 'anomaly_score', 'alert']);
    const inRows = parseOut(nabLikeCsv());
    expect(rows.length).toBe(inRows.length);
    for (let i = 1; i < rows.length; i++) {
      expect(rows[i]![0]).toBe(inRows[i]![0]);
      expect(rows[i]![1]).toBe(inRows[i]![1]);
      const score = Number(rows[i]![2]);
      expect(score).toBeGreaterThanOrEqual(0);
      expect(score).toBeLessThanOrEqual(1);
      expect(['0', '1']).toContain(rows[i]![3]);
    }
    // Row index i in the data is rows[i + 1] (header first).
    expect(rows[SPIKE + 1]![3]).toBe('1');
    expect(rows[701]![2]).toBe('0.000000'); // the 'n/a' value is passed through, scored 0
    const alerts = rows.slice(1).filter((x) => x[3] === '1').length;
    expect(alerts).toBeLessThanOrEqual(2);
  });

  it('writes to stdout without --output, and runs the named baseline detector', async () => {
    const a = await tidewatch(['detect', '--input', input]);
    expect(a.code).toBe(0);
    expect(parseOut(a.stdout).length).toBe(ROWS + 1);
    const b = await tidewatch(['detect', '--input', input, '--detector', 'gaussian', '--sensitivity', '0.5']);
    expect(b.code).toBe(0);
    expect(parseOut(b.stdout).length).toBe(ROWS + 1);
    expect(b.stdout).not.toBe(a.stdout);
  });

  it('reads spreadsheet-style CSV: BOM, CRLF, quoted fields, extra columns, ISO and epoch times', async () => {
    const file = join(dir, 'excel.csv');
    const rows = ['\uFEFF"value","timestamp",note'];
    for (let i = 0; i < 50; i++) {
      const t = i < 25 ? new Date(Date.UTC(2020, 0, 1) + i * 60_000).toISOString() : String(1577836800 + i * 60);
      rows.push(`"${10 + (i % 3)}",${t},"a, b"`);
    }
    await writeFile(file, `${rows.join('\r\n')}\r\n`);
    const r = await tidewatch(['detect', '--input', file]);
    expect(r.code).toBe(0);
    const out = parseOut(r.stdout);
    expect(out.length).toBe(51);
    expect(out[1]![0]).toBe('2020-01-01T00:00:00.000Z');
    expect(out[26]![0]).toBe(String(1577836800 + 25 * 60));
    expect(out[1]![1]).toBe('10');
    expect(r.stderr).not.toMatch(/invalid/);
  });

  it('gives the same output for the same input (no hidden state, no clock)', async () => {
    const [a, b] = await Promise.all([tidewatch(['detect', '--input', input]), tidewatch(['detect', '--input', input])]);
    expect(a.stdout).toBe(b.stdout);
  });

  it('rejects bad usage with exit 2, unreadable input and unwritable output with exit 1', async () => {
    const noInput = await tidewatch(['detect']);
    expect(noInput.code).toBe(2);
    expect(noInput.stderr).toMatch(/--input is required \[TW_USAGE\]/);
    const badDetector = await tidewatch(['detect', '--input', input, '--detector', 'nope']);
    expect(badDetector.code).toBe(2);
    const badSens = await tidewatch(['detect', '--input', input, '--sensitivity', '2']);
    expect(badSens.code).toBe(2);
    const missing = await tidewatch(['detect', '--input', join(dir, 'missing.csv')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/TW_INPUT_READ/);
    const isDir = await tidewatch(['detect', '--input', dir]);
    expect(isDir.code).toBe(1);
    expect(isDir.stderr).toMatch(/TW_INPUT_READ/);
    const badOut = await tidewatch(['detect', '--input', input, '--output', join(dir, 'no-such-dir', 'out.csv')]);
    expect(badOut.code).toBe(1);
    expect(badOut.stderr).toMatch(/TW_OUTPUT_WRITE/);
    const noHeader = join(dir, 'nohdr.csv');
    await writeFile(noHeader, '2014-01-01 00:00:00,1\n');
    const hdr = await tidewatch(['detect', '--input', noHeader]);
    expect(hdr.code).toBe(1);
    expect(hdr.stderr).toMatch(/timestamp.*value/);
  });
});
