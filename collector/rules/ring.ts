/**
 * A sliding time window of fixed memory: `buckets` slots over `rangeMs`, each holding the count,
 * sum, min and max of the values whose event time falls in it. Reading the window at time `t`
 * covers the buckets of (t - rangeMs, t], so its edge is exact to one bucket (rangeMs / buckets);
 * that is the price of O(1) memory per series for a 3-day SLO window. Values older than the
 * window are counted as `tooOld` and dropped; values ahead of the newest bucket move it forward.
 */

export interface RingRead {
  count: number;
  sum: number;
  min: number;
  max: number;
}

export class Ring {
  readonly width: number;
  private readonly count: Float64Array;
  private readonly sum: Float64Array;
  private readonly min: Float64Array;
  private readonly max: Float64Array;
  /** Absolute index (time / width) of the newest bucket; -Infinity while empty. */
  private head = Number.NEGATIVE_INFINITY;
  tooOld = 0;

  constructor(
    readonly rangeMs: number,
    readonly buckets: number,
    extremes = false,
  ) {
    this.width = Math.max(1, Math.ceil(rangeMs / buckets));
    this.count = new Float64Array(buckets);
    this.sum = new Float64Array(buckets);
    this.min = extremes ? new Float64Array(buckets) : new Float64Array(0);
    this.max = extremes ? new Float64Array(buckets) : new Float64Array(0);
  }

  /** Numbers held (memory per series, bench/rules.mjs). */
  get size(): number {
    return this.count.length + this.sum.length + this.min.length + this.max.length;
  }

  add(time: number, value: number, n = 1): void {
    const idx = Math.floor(time / this.width);
    if (idx > this.head) this.moveTo(idx);
    else if (idx <= this.head - this.buckets) {
      this.tooOld++;
      return;
    }
    const s = ((idx % this.buckets) + this.buckets) % this.buckets;
    const fresh = this.count[s] === 0;
    this.count[s] = this.count[s]! + n;
    this.sum[s] = this.sum[s]! + value * n;
    if (this.min.length > 0) {
      if (fresh || value < this.min[s]!) this.min[s] = value;
      if (fresh || value > this.max[s]!) this.max[s] = value;
    }
  }

  /** Count, sum, min and max over (t - rangeMs, t]. */
  read(t: number): RingRead {
    const out: RingRead = { count: 0, sum: 0, min: Number.POSITIVE_INFINITY, max: Number.NEGATIVE_INFINITY };
    if (this.head === Number.NEGATIVE_INFINITY) return out;
    const top = Math.min(this.head, Math.floor(t / this.width));
    const low = Math.floor(t / this.width) - this.buckets + 1;
    for (let i = Math.max(low, this.head - this.buckets + 1); i <= top; i++) {
      const s = ((i % this.buckets) + this.buckets) % this.buckets;
      const c = this.count[s]!;
      if (c === 0) continue;
      out.count += c;
      out.sum += this.sum[s]!;
      if (this.min.length > 0) {
        if (this.min[s]! < out.min) out.min = this.min[s]!;
        if (this.max[s]! > out.max) out.max = this.max[s]!;
      }
    }
    return out;
  }

  private moveTo(idx: number): void {
    const from = this.head === Number.NEGATIVE_INFINITY ? idx - this.buckets : this.head;
    const n = Math.min(this.buckets, idx - from);
    for (let i = 1; i <= n; i++) {
      const s = ((((from + i) % this.buckets) + this.buckets) % this.buckets);
      this.count[s] = 0;
      this.sum[s] = 0;
    }
    this.head = idx;
  }
}
