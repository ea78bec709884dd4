/**
 * What `p` settles to, or false when it has not settled within `ms`. The timer is cleared either
 * way (also when `p` rejects, which rejects this too), so a wait that ended early leaves nothing
 * pending. Callers that must never reject pass `p` with its rejection mapped to a value.
 */
export async function within<T>(p: Promise<T>, ms: number): Promise<T | false> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
