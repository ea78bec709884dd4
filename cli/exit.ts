/**
 * How the process ends when something it ran does not let go. process.exit waits for libuv's
 * thread pool, and a thread blocked in a file system call (a full pipe, a dead NFS server) never
 * returns, so: exit as soon as no file system call is pending; if one stays pending for 2 s on
 * end, it is stuck, and only SIGKILL ends the process. Used after a stop that timed out
 * (cli/run-role.ts) and after a command that finished with handles still open (bin/tidewatch.js).
 * Both timers are unref'd: they only act while something else keeps the process alive, so a
 * process that ends by itself ends exactly as before.
 */
import { createLogger } from '../core/log.js';

const STUCK_MS = 2000;
const LINGER_MS = 2000;
let armed = false;

function fsPending(): number {
  return process.getActiveResourcesInfo().filter((r) => r.startsWith('FSReq')).length;
}

/** Exits with `code` once no file system call is pending; `onStuck` first if one never returns. */
export function exitBackstop(code: number, onStuck: (fsCallsPending: number) => void): void {
  armed = true;
  let busySince: number | undefined;
  const timer = setInterval(() => {
    const n = fsPending();
    if (n === 0) process.exit(code);
    busySince ??= Date.now();
    if (Date.now() - busySince >= STUCK_MS) {
      onStuck(n);
      process.kill(process.pid, 'SIGKILL');
    }
  }, 100);
  timer.unref();
}

/**
 * Called when the command has finished and everything it ran has stopped and flushed: a handle a
 * library left open (a socket, a retry timer) must not keep the process alive, or a supervisor
 * waits for the exit, kills it, and reports a failed stop. The warning names the handles.
 */
export function exitAfterCommand(code: number): void {
  const timer = setTimeout(() => {
    if (armed) return;
    const log = createLogger();
    const handles = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap');
    log.warn('exiting: handles still open after the command finished', { code: 'TW_STOP_LINGER', linger_ms: LINGER_MS, handles });
    exitBackstop(code, (n) => log.error('a file system call does not return; killing the process', { code: 'TW_STOP_LINGER', fs_calls_pending: n }));
  }, LINGER_MS);
  timer.unref();
}
