/**
 * DDSketch (Masson, Rim, Lee, VLDB 2019): a quantile sketch with a relative-accuracy guarantee
 * that merges exactly. Values map to buckets by `ceil(log_gamma(|v|))` with
 * `gamma = (1 + alpha) / (1 - alpha)`; a bucket's representative value is within `alpha`
 * (relative) of every value in it, so any quantile it returns is within `alpha` of the true
 * value of that rank. Merging adds bucket counts, so merge(sketch(A), sketch(B)) has exactly the
 * buckets of sketch(A ∪ B) (test/collector/aggregates/merge.property.test.ts).
 *
 * Why our own and not @datadog/sketches-js: the wire needs a small, stable, versioned encoding
 * that belongs to the rollup code (docs/wire-format.md: the `sketch` field is opaque), sparse
 * stores (a 1 s window holds a handful of values) and a counted collapse when the bucket limit
 * is hit; the package serialises to Datadog's protobuf and adds a dependency for ~150 lines.
 *
 * Bounded: at most `maxBuckets` buckets per sign. Beyond it the lowest buckets collapse into the
 * lowest kept one (the DDSketch paper's policy: high quantiles keep their guarantee), counted in
 * `collapsed`. Values with |v| below `MIN_INDEXABLE` count as zero.
 */

export const DEFAULT_RELATIVE_ACCURACY = 0.01;
export const DEFAULT_MAX_BUCKETS = 2048;
const MIN_INDEXABLE = 1e-9;
const ENCODING_VERSION = 1;

export interface SketchOptions {
  readonly relativeAccuracy?: number;
  readonly maxBuckets?: number;
}

export class DDSketch {
  readonly alpha: number;
  readonly maxBuckets: number;
  private readonly gamma: number;
  private readonly logGamma: number;
  /** Bucket index → count, for positive and (by |v|) negative values. */
  readonly pos = new Map<number, number>();
  readonly neg = new Map<number, number>();
  zero = 0;
  count = 0;
  /** Buckets folded into a neighbour because of `maxBuckets` (the guarantee no longer holds there). */
  collapsed = 0;

  constructor(opts: SketchOptions = {}) {
    const a = opts.relativeAccuracy ?? DEFAULT_RELATIVE_ACCURACY;
    if (!(a > 0 && a < 1)) throw new RangeError(`relative accuracy must be in (0, 1), got ${a}`);
    this.alpha = a;
    this.maxBuckets = Math.max(16, Math.floor(opts.maxBuckets ?? DEFAULT_MAX_BUCKETS));
    this.gamma = (1 + a) / (1 - a);
    this.logGamma = Math.log(this.gamma);
  }

  index(v: number): number {
    return Math.ceil(Math.log(v) / this.logGamma);
  }

  /** Representative value of bucket `k`: within alpha of everything in (gamma^(k-1), gamma^k]. */
  value(k: number): number {
    return (2 * Math.pow(this.gamma, k)) / (1 + this.gamma);
  }

  /** Adds `v` with weight `n` (a positive integer). Non-finite values are ignored (the caller counts them). */
  add(v: number, n = 1): void {
    if (!Number.isFinite(v) || !(n > 0)) return;
    this.count += n;
    if (v > MIN_INDEXABLE) bump(this.pos, this.index(v), n);
    else if (v < -MIN_INDEXABLE) bump(this.neg, this.index(-v), n);
    else this.zero += n;
    this.bound();
  }

  /** Adds every bucket of `other` (same relative accuracy) into this sketch. */
  merge(other: DDSketch): void {
    if (other.alpha !== this.alpha) throw new RangeError(`cannot merge sketches of accuracy ${this.alpha} and ${other.alpha}`);
    for (const [k, c] of other.pos) bump(this.pos, k, c);
    for (const [k, c] of other.neg) bump(this.neg, k, c);
    this.zero += other.zero;
    this.count += other.count;
    this.collapsed += other.collapsed;
    this.bound();
  }

  clone(): DDSketch {
    const s = new DDSketch({ relativeAccuracy: this.alpha, maxBuckets: this.maxBuckets });
    s.merge(this);
    return s;
  }

  /** The value at quantile q in [0, 1] (lower rank, as DDSketch defines it); NaN when empty. */
  quantile(q: number): number {
    if (this.count === 0 || !(q >= 0 && q <= 1)) return Number.NaN;
    const rank = q * (this.count - 1);
    let seen = 0;
    // Ascending order: the most negative values first (largest |v| index), then zeros, then positives.
    const negKeys = [...this.neg.keys()].sort((a, b) => b - a);
    for (const k of negKeys) {
      seen += this.neg.get(k) ?? 0;
      if (seen > rank) return -this.value(k);
    }
    seen += this.zero;
    if (seen > rank) return 0;
    const posKeys = [...this.pos.keys()].sort((a, b) => a - b);
    for (const k of posKeys) {
      seen += this.pos.get(k) ?? 0;
      if (seen > rank) return this.value(k);
    }
    return posKeys.length > 0 ? this.value(posKeys[posKeys.length - 1]!) : 0;
  }

  /** Same buckets, zero count and total (what "merge is exact" means). */
  equals(o: DDSketch): boolean {
    return this.alpha === o.alpha && this.zero === o.zero && this.count === o.count && sameMap(this.pos, o.pos) && sameMap(this.neg, o.neg);
  }

  /** Compact base64 of a versioned JSON array: [version, alpha, zero, collapsed, posPairs, negPairs]. */
  encode(): string {
    return Buffer.from(JSON.stringify([ENCODING_VERSION, this.alpha, this.zero, this.collapsed, pairs(this.pos), pairs(this.neg)])).toString('base64');
  }

  /** Decodes `encode()`'s output; throws RangeError on anything else (the caller counts and drops it). */
  static decode(b64: string, maxBuckets = DEFAULT_MAX_BUCKETS): DDSketch {
    let v: unknown;
    try {
      v = JSON.parse(Buffer.from(b64, 'base64').toString('utf8'));
    } catch {
      throw new RangeError('sketch: not base64 JSON');
    }
    if (!Array.isArray(v) || v[0] !== ENCODING_VERSION || v.length !== 6) throw new RangeError('sketch: unknown encoding');
    const [, alpha, zero, collapsed, p, n] = v as unknown[];
    if (typeof alpha !== 'number' || !(alpha > 0 && alpha < 1) || !isCount(zero) || !isCount(collapsed)) throw new RangeError('sketch: bad header');
    const s = new DDSketch({ relativeAccuracy: alpha, maxBuckets });
    s.zero = zero;
    s.count = zero;
    s.collapsed = collapsed;
    readPairs(p, s.pos, s);
    readPairs(n, s.neg, s);
    s.bound();
    return s;
  }

  private bound(): void {
    collapseLowest(this.pos, this.maxBuckets, this);
    collapseLowest(this.neg, this.maxBuckets, this);
  }
}

function bump(m: Map<number, number>, k: number, n: number): void {
  m.set(k, (m.get(k) ?? 0) + n);
}

function collapseLowest(m: Map<number, number>, max: number, s: DDSketch): void {
  if (m.size <= max) return;
  const keys = [...m.keys()].sort((a, b) => a - b);
  const drop = keys.length - max;
  const into = keys[drop]!;
  let moved = 0;
  for (let i = 0; i < drop; i++) {
    moved += m.get(keys[i]!) ?? 0;
    m.delete(keys[i]!);
  }
  bump(m, into, moved);
  s.collapsed += drop;
}

function pairs(m: Map<number, number>): number[] {
  const keys = [...m.keys()].sort((a, b) => a - b);
  const out: number[] = [];
  for (const k of keys) out.push(k, m.get(k)!);
  return out;
}

function readPairs(v: unknown, m: Map<number, number>, s: DDSketch): void {
  if (!Array.isArray(v) || v.length % 2 !== 0) throw new RangeError('sketch: bad buckets');
  for (let i = 0; i < v.length; i += 2) {
    const k: unknown = v[i];
    const c: unknown = v[i + 1];
    if (typeof k !== 'number' || !Number.isSafeInteger(k) || !isCount(c) || c === 0) throw new RangeError('sketch: bad bucket');
    bump(m, k, c);
    s.count += c;
  }
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function sameMap(a: Map<number, number>, b: Map<number, number>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, c] of a) if (b.get(k) !== c) return false;
  return true;
}
