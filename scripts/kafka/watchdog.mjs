// Kills the harness's Kafka processes when the process that started them dies without stopping
// them (a crashed or SIGKILLed test run), so no broker is left eating a shared machine.
// Usage: node watchdog.mjs <parent pid> <pids file>. The pids file lists one pid per line; the
// harness rewrites it on restart and deletes it on a clean stop, which ends the watchdog too.
import { existsSync, readFileSync, rmSync } from 'node:fs';

const parent = Number(process.argv[2]);
const pidsFile = String(process.argv[3]);

/** @param {number} pid */
function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** @param {number} pid */
function isKafka(pid) {
  // Guard against pid reuse: only a process still running kafka.Kafka is killed.
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('kafka.Kafka');
  } catch {
    return false;
  }
}

const timer = setInterval(() => {
  if (!existsSync(pidsFile)) process.exit(0);
  if (alive(parent)) return;
  const pids = readFileSync(pidsFile, 'utf8').split('\n').map(Number).filter((n) => n > 0);
  for (const pid of pids) {
    if (isKafka(pid)) {
      try {
        process.kill(pid, 'SIGCONT');
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  rmSync(pidsFile, { force: true });
  clearInterval(timer);
  process.exit(0);
}, 1000);
