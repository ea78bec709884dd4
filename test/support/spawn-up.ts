/**
 * Runs the real CLI (`node bin/tidewatch.js up ...`, from dist/: build first) as a child process,
 * for tests of the first command: waits for the printed dashboard URL, reads /metrics, stops it
 * with SIGTERM and reports the exit code. Always kill what you spawn (`kill()` in afterEach).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/tidewatch.js', import.meta.url));

export interface UpProcess {
  readonly child: ChildProcess;
  /** Resolves with the printed dashboard URL (`http://127.0.0.1:PORT/`). */
  readonly url: Promise<string>;
  /** Resolves with the exit code (or 128 + signal number when killed by a signal). */
  readonly exit: Promise<number>;
  stdout(): string;
  stderr(): string;
  /** SIGTERM, then the exit code; SIGKILL after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<number>;
  kill(): void;
}

export function spawnUp(args: string[], env: NodeJS.ProcessEnv = {}): UpProcess {
  const child = spawn(process.execPath, [BIN, 'up', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8');
  child.stderr?.setEncoding('utf8');
  const exit = new Promise<number>((resolve) => {
    child.on('exit', (code, signal) => resolve(code ?? (signal === 'SIGKILL' ? 137 : signal === 'SIGTERM' ? 143 : 128)));
  });
  const url = new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (c: string) => {
      out += c;
      const m = /http:\/\/127\.0\.0\.1:\d+\//.exec(out);
      if (m) resolve(m[0]);
    });
    child.stderr?.on('data', (c: string) => void (err += c));
    void exit.then((code) => reject(new Error(`up exited with ${code} before printing a URL\n${err}`)));
  });
  url.catch(() => undefined);
  return {
    child,
    url,
    exit,
    stdout: () => out,
    stderr: () => err,
    async stop(timeoutMs = 20_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exit;
      clearTimeout(timer);
      return code;
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/** Sum of `log_records_total` samples on /metrics, by severity. */
export async function logRecordTotals(url: string): Promise<Record<string, number>> {
  const res = await fetch(`${url}metrics`);
  const text = await res.text();
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^log_records_total\{(.*)\} (\S+)$/.exec(line);
    if (m === null) continue;
    const sev = /severity="([^"]*)"/.exec(m[1] ?? '')?.[1] ?? '';
    out[sev] = (out[sev] ?? 0) + Number(m[2]);
  }
  return out;
}

export function total(t: Record<string, number>): number {
  return Object.values(t).reduce((a, b) => a + b, 0);
}
