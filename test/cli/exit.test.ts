/**
 * The launcher's promise: once a command has finished, the process exits, with the command's
 * exit code, even when a library left a handle open (the chaos suite saw a collector log
 * "stopped" and then stay alive). The open handle is simulated by a preloaded module holding an
 * interval, as a library's forgotten retry timer would. Needs dist/ (`npm test` builds it).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../bin/tidewatch.js', import.meta.url));
const LEFT_OPEN = 'data:text/javascript,setInterval(() => {}, 1000);';

function run(args: string[], preload: string[]): Promise<{ code: number | null; stderr: string; ms: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, [...preload.flatMap((p) => ['--import', p]), BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('exit', (code) => {
      clearTimeout(killer);
      resolve({ code, stderr, ms: Date.now() - started });
    });
  });
}

describe('the process exits when its command has finished', () => {
  it('a handle left open does not keep it alive: it exits with the command’s code and names the handle', async () => {
    const r = await run(['validate', '--config', '/nonexistent/tidewatch.yaml'], [LEFT_OPEN]);
    expect(r.code).toBe(1);
    const warning = r.stderr.split('\n').find((l) => l.includes('TW_STOP_LINGER'));
    expect(warning, r.stderr).toBeDefined();
    expect(JSON.parse(warning!).handles).toContain('Timeout');
  });

  it('without one it exits at once and says nothing about handles', async () => {
    const r = await run(['validate', '--config', '/nonexistent/tidewatch.yaml'], []);
    expect(r.code).toBe(1);
    expect(r.stderr).not.toContain('TW_STOP_LINGER');
    expect(r.ms).toBeLessThan(15_000);
  });
});
