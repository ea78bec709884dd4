/**
 * A sliding time window of fixed memory: `buckets` slots over `rangeMs`, each holding the count
 * and sum (and, with `extremes`, min and max) of the values whose event time falls in it. Reading
 * the window at time `t` covers the slots of (t - rangeMs, t], so its edge is exact to one slot
 * (rangeMs / buckets): the price of O(1) memory per series for a 3-day SLO window, whatever the
 * sample rate. Values older than the window are counted as `tooOld` and dropped; values ahead of
 * the newest slot move it forward.
 *
 * One Float64Array, slot-major ([count, sum, min?, max?] per slot): one allocation per series,
 * and reads walk it in order (bench/rules.mjs).
 */

export interface RingRead {
  count: number;
  sum: number;
  min: number;
  max: number;
}

export class Ring {
  readonly width: number;
  private readonly data: Float64Array;
  private readonly stride: number;
  /** Absolute index (time / width) of the newest slot; -Infinity while empty. */
  private head = Number.NEGATIVE_INFINITY;
  tooOld = 0;

  constructor(
    readonly rangeMs: number,
    readonly buckets: number,
    extremes = false,
  ) {
    this.width = Math.max(1, Math.ceil(rangeMs / buckets));
    this.stride = extremes ? 4 : 2;
    this.data = new Float64Array(buckets * this.stride);
  }

  /** Numbers held (memory per series, bench/rules.mjs). */
  get size(): number {
    return this.data.length;
  }

  private slot(idx: number): number {
    return (((idx % this.buckets) + this.buckets) % this.buckets) * this.stride;
  }

  add(time: number, value: number, n = 1): void {
    const idx = Math.floor(time / this.width);
    if (idx > this.head) this.moveTo(idx);
    else if (idx <= this.head - this.buckets) {
      this.tooOld++;
      return;
    }
    const d = this.data;
    const s = this.slot(idx);
    const fresh = d[s] === 0;
    d[s] = d[s]! + n;
    d[s + 1] = d[s + 1]! + value * n;
    if (this.stride === 4) {
      if (fresh || value < d[s + 2]!) d[s + 2] = value;
      if (fresh || value > d[s + 3]!) d[s + 3] = value;
    }
  }

  /**
   * Restates a value already added at `time`: its sum moves by `dsum`, its count stays (a
   * window's early value replaced by its final one). `value` widens min and max.
   */
  adjust(time: number, dsum: number, value: number): void {
    const idx = Math.floor(time / this.width);
    if (idx > this.head || idx <= this.head - this.buckets) {
      // Out of the window (or never added): nothing to restate; add it as new instead.
      if (idx > this.head) this.add(time, value);
      else this.tooOld++;
      return;
    }
    const d = this.data;
    const s = this.slot(idx);
    d[s + 1] = d[s + 1]! + dsum;
    if (this.stride === 4) {
      if (value < d[s + 2]!) d[s + 2] = value;
      if (value > d[s + 3]!) d[s + 3] = value;
    }
  }

  /** Count, sum, min and max over (t - rangeMs, t]. */
  read(t: number): RingRead {
    const out: RingRead = { count: 0, sum: 0, min: Number.POSITIVE_INFINITY, max: Number.NEGATIVE_INFINITY };
    if (this.head === Number.NEGATIVE_INFINITY) return out;
    const now = Math.floor(t / this.width);
    const top = Math.min(this.head, now);
    const low = Math.max(now - this.buckets + 1, this.head - this.buckets + 1);
    if (top < low) return out;
    const d = this.data;
    const end = this.buckets * this.stride;
    let s = this.slot(low);
    for (let i = low; i <= top; i++) {
      const c = d[s]!;
      if (c !== 0) {
        out.count += c;
        out.sum += d[s + 1]!;
        if (this.stride === 4) {
          if (d[s + 2]! < out.min) out.min = d[s + 2]!;
          if (d[s + 3]! > out.max) out.max = d[s + 3]!;
        }
      }
      s += this.stride;
      if (s === end) s = 0;
    }
    return out;
  }

  private moveTo(idx: number): void {
    const from = this.head === Number.NEGATIVE_INFINITY ? idx - this.buckets : this.head;
    const n = Math.min(this.buckets, idx - from);
    for (let i = 1; i <= n; i++) this.data.fill(0, this.slot(from + i), this.slot(from + i) + this.stride);
    this.head = idx;
  }
}
