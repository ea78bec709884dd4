/**
 * Polling waits for tests, in one place.
 * - `waitFor(fn, what)`: until `fn` returns something other than undefined; returns it.
 * - `until(cond, what)`: until `cond` is true.
 * A throw from `fn` counts as "not yet" (the file is not there yet, the port not open yet); the
 * last one is named in the timeout error.
 */
export async function waitFor<T>(fn: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 30_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export async function until(cond: () => Promise<boolean> | boolean, what: string, timeoutMs = 30_000, intervalMs = 100): Promise<void> {
  await waitFor(async () => ((await cond()) ? true : undefined), what, timeoutMs, intervalMs);
}
