/**
 * The miner's shape cache: token sequences already seen → a value (their cluster), bounded,
 * oldest first out. Pure data structure, no clock.
 *
 * Why not a Map keyed by the tokens joined into one string: for a long line (an nginx access
 * line has ~45 tokens) building that string cost about a microsecond per line, a fifth of the
 * miner's time in bench/miner.mjs. Here a 32-bit hash of the tokens is computed from their
 * characters (no allocation), a Map by number finds the entries with that hash, and the token
 * arrays are compared in full, so a hash collision costs a comparison, never a wrong answer.
 *
 * Eviction order is insertion order, as a Map's is: `add` when full drops the oldest entry.
 */

export interface ShapeEntry<T> {
  readonly hash: number;
  /** The key. Owned by the cache's caller and never changed (the miner's cluster token arrays). */
  readonly tokens: readonly string[];
  readonly value: T;
  /** Next entry with the same hash. */
  sameHash: ShapeEntry<T> | undefined;
  /** Insertion order links. */
  older: ShapeEntry<T> | undefined;
  newer: ShapeEntry<T> | undefined;
}

/**
 * A 32-bit hash of a token sequence: each token's own hash (FNV-1a over its code units) mixed
 * in order. A token's hash is remembered per position with the string it was computed from:
 * the tokenizer hands back the same string object for a constant found again at the same
 * position (`GET`, `Linux`, `=`), so on a line of a known kind most tokens cost one identity
 * comparison instead of a walk over their characters (about 8 % of an nginx line's time was
 * this walk). A pure memo, bounded to MEMO_POSITIONS positions; the value is the same with or
 * without it.
 */
export function shapeHash(tokens: readonly string[], variable: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    let th: number;
    // The variable marker is one shared string: a fixed value outside every string's range.
    if (t === variable) th = 0x5bd1e995;
    else if (i < MEMO_POSITIONS && memoToken[i] === t) th = memoHash[i]!;
    else {
      th = tokenHash(t);
      if (i < MEMO_POSITIONS) {
        memoToken[i] = t;
        memoHash[i] = th;
      }
    }
    h = Math.imul(h ^ th, 0x01000193);
    h ^= h >>> 15;
  }
  return h | 0;
}

/** FNV-1a of a string's code units, with its length mixed in last (so 'ab' is no 'a' then 'b'). */
function tokenHash(t: string): number {
  let h = 0x811c9dc5;
  for (let k = 0; k < t.length; k++) h = Math.imul(h ^ t.charCodeAt(k), 0x01000193);
  return Math.imul(h ^ (t.length + 0x10000), 0x01000193) | 0;
}

const MEMO_POSITIONS = 256;
const memoToken: (string | undefined)[] = new Array<string | undefined>(MEMO_POSITIONS).fill(undefined);
const memoHash = new Int32Array(MEMO_POSITIONS);

function sameTokens(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class ShapeCache<T> {
  private readonly byHash = new Map<number, ShapeEntry<T>>();
  private oldest: ShapeEntry<T> | undefined;
  private newest: ShapeEntry<T> | undefined;
  private count = 0;

  constructor(private readonly max: number) {}

  get size(): number {
    return this.count;
  }

  /** The entry whose key equals `tokens` (whose hash is `hash`), or undefined. */
  find(hash: number, tokens: readonly string[]): ShapeEntry<T> | undefined {
    for (let e = this.byHash.get(hash); e !== undefined; e = e.sameHash) if (sameTokens(e.tokens, tokens)) return e;
    return undefined;
  }

  /** Adds a key not in the cache (the caller looked first); drops the oldest entry when full. */
  add(hash: number, tokens: readonly string[], value: T): void {
    if (this.count >= this.max && this.oldest !== undefined) this.delete(this.oldest);
    const e: ShapeEntry<T> = { hash, tokens, value, sameHash: this.byHash.get(hash), older: this.newest, newer: undefined };
    this.byHash.set(hash, e);
    if (this.newest === undefined) this.oldest = e;
    else this.newest.newer = e;
    this.newest = e;
    this.count++;
  }

  delete(e: ShapeEntry<T>): void {
    const head = this.byHash.get(e.hash);
    if (head === e) {
      if (e.sameHash === undefined) this.byHash.delete(e.hash);
      else this.byHash.set(e.hash, e.sameHash);
    } else {
      let p = head;
      while (p !== undefined && p.sameHash !== e) p = p.sameHash;
      if (p === undefined) return; // not in the cache
      p.sameHash = e.sameHash;
    }
    if (e.older === undefined) this.oldest = e.newer;
    else e.older.newer = e.newer;
    if (e.newer === undefined) this.newest = e.older;
    else e.newer.older = e.older;
    e.older = undefined;
    e.newer = undefined;
    e.sameHash = undefined;
    this.count--;
  }
}
