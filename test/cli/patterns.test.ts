/**
 * `tidewatch patterns` as a user runs it: the real CLI in a child process (needs dist/: run
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
    execFile(process.execPath, [BIN, ...args], { maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

// A small syslog-style fixture: whole lines with headers, CRLF on one line, a blank line,
// and user names (words without digits) that only show they are variables after a few lines.
const FIXTURE = [
  'Dec 10 06:55:46 web-1 sshd[24200]: Invalid user webmaster from 173.234.31.186',
  'Dec 10 06:55:48 web-1 sshd[24200]: Failed password for root from 173.234.31.186 port 38926 ssh2',
  'Dec 10 06:55:50 web-1 sshd[24202]: Invalid user test from 10.0.0.7',
  'Dec 10 06:55:52 web-1 sshd[24204]: Connection closed by 10.0.0.7 [preauth]\r',
  '',
  'Dec 10 06:55:53 web-1 sshd[24206]: Invalid user oracle from 10.0.0.8',
  'Dec 10 06:55:54 web-1 sshd[24208]: Invalid user admin from 10.0.0.9',
  'Dec 10 06:55:56 web-1 sshd[24210]: Failed password for root from 10.0.0.9 port 40000 ssh2',
].join('\n');

interface Row {
  cluster: string;
  template: string;
}

describe('tidewatch patterns', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tw-patterns-'));
    await writeFile(join(dir, 'in.log'), FIXTURE);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes one JSON object per input line, in order, with final (merged) clusters', async () => {
    const out = join(dir, 'out.jsonl');
    const r = await tidewatch(['patterns', '--input', join(dir, 'in.log'), '--output', out]);
    expect(r.stderr).toBe(''); // not a terminal: no progress line
    expect(r.code).toBe(0);
    const rows = (await readFile(out, 'utf8')).trimEnd().split('\n').map((l) => JSON.parse(l) as Row);
    expect(rows).toHaveLength(8);
    const invalid = [0, 2, 5, 6].map((i) => rows[i]!);
    // the first "Invalid user" line was alone when it came; it ends in the merged cluster
    expect(new Set(invalid.map((x) => x.cluster)).size).toBe(1);
    expect(invalid[0]!.template).toBe('Invalid user <*> from <*>');
    expect(rows[1]!.template).toBe('Failed password for root from <*> port <*> ssh2');
    expect(rows[7]!.cluster).toBe(rows[1]!.cluster);
    expect(rows[3]!.template).toBe('Connection closed by <*> [preauth]');
    expect(rows[4]!.template).toBe('');
    expect(new Set(rows.map((x) => x.cluster)).size).toBe(4);
  });

  it('writes to stdout without --output, and gives the same ids on a second run', async () => {
    const a = await tidewatch(['patterns', '--input', join(dir, 'in.log')]);
    const b = await tidewatch(['patterns', `--input=${join(dir, 'in.log')}`]);
    expect(a.code).toBe(0);
    expect(a.stdout.trimEnd().split('\n')).toHaveLength(8);
    expect(b.stdout).toBe(a.stdout);
  });

  it('fails with a usage error without --input, and a read error on a missing file', async () => {
    const u = await tidewatch(['patterns']);
    expect(u.code).toBe(2);
    expect(u.stderr).toContain('TW_USAGE');
    const bad = await tidewatch(['patterns', '--input', join(dir, 'missing.log')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('TW_INPUT_READ');
    const flag = await tidewatch(['patterns', '--input', join(dir, 'in.log'), '--threshold', '0.5']);
    expect(flag.code).toBe(2);
  });

  it('is listed in the help', async () => {
    const h = await tidewatch(['--help']);
    expect(h.stdout).toMatch(/patterns\s+mine log templates/);
  });
});
