// A cross-process lock on a directory: mkdir is atomic, and the holder's pid inside lets a later
// caller break a lock whose holder died (a killed test run must not wedge every later one).
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** @param {number} pid */
function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return /** @type {NodeJS.ErrnoException} */ (e).code === 'EPERM';
  }
}

/**
 * Runs `fn` while holding the lock directory `dir`; waits (up to `timeoutMs`) for another holder.
 * @template T
 * @param {string} dir
 * @param {() => Promise<T>} fn
 * @param {number} [timeoutMs]
 * @returns {Promise<T>}
 */
export async function withLock(dir, fn, timeoutMs = 600_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await mkdir(dir);
      break;
    } catch (e) {
      if (/** @type {NodeJS.ErrnoException} */ (e).code !== 'EEXIST') throw e;
      const holder = Number(await readFile(path.join(dir, 'pid'), 'utf8').catch(() => ''));
      // A lock without a pid is being taken right now, unless it is old (its taker died between
      // mkdir and writing the pid); otherwise only a dead holder's lock is broken.
      const age = Date.now() - ((await stat(dir).catch(() => null))?.mtimeMs ?? Date.now());
      if ((holder > 0 && !alive(holder)) || (!holder && age > 10_000)) {
        await rm(dir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for lock ${dir} (held by pid ${holder || '?'})`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    await writeFile(path.join(dir, 'pid'), String(process.pid));
    return await fn();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
