/** Runs the real agent CLI (`node bin/tidewatch.js agent --config FILE`) for end-to-end tests. Needs dist/. */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/tidewatch.js', import.meta.url));

export interface AgentProcess {
  child: ChildProcess;
  stderr: () => string;
  /** Resolves with the first structured log line whose msg matches. */
  logLine(msg: string, ms?: number): Promise<Record<string, unknown>>;
  stop(): Promise<number | null>;
}

/** Starts the real agent with a config and follows its JSON log on stderr. */
export async function startAgent(configText: string, dir: string): Promise<AgentProcess> {
  const file = join(dir, 'agent.yaml');
  await writeFile(file, configText);
  const child = spawn(process.execPath, [BIN, 'agent', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  child.stdout!.resume();
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return {
    child,
    stderr: () => err,
    async logLine(msg, ms = 15_000) {
      const until = Date.now() + ms;
      for (;;) {
        for (const l of err.split('\n')) {
          if (!l.startsWith('{')) continue;
          const rec = JSON.parse(l) as Record<string, unknown>;
          if (rec['msg'] === msg) return rec;
        }
        if (child.exitCode !== null || Date.now() > until) throw new Error(`no "${msg}" log line; stderr:\n${err}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

