/**
 * Deterministic sampling: a record is kept when the hash of its key field falls under
 * `rate`, so every collector instance keeps the same records (all lines of one trace, one
 * user, one request id) without coordination, and a replay keeps what the first pass kept.
 * FNV-1a (32 bit) over the key's UTF-16 code units with a final avalanche: fast, well spread for short ids, and
 * stable across versions (it is written here, not taken from a runtime).
 */
import type { LogRecord } from '../../core/model.js';
import { getField } from './fields.js';

export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // FNV-1a leaves the high bits poorly mixed for short keys that differ in their last
  // characters (`u1`, `u2`, ...), and the threshold compares high bits first: finish with
  // murmur3's fmix32 avalanche.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export interface Sampler {
  /** Whether to keep the record. */
  keep(rec: LogRecord): boolean;
}

/**
 * `rate` in [0, 1]. `key`: the field whose value is hashed (default `body`); a record without
 * it is hashed on its body instead, so it is still sampled at the rate.
 */
export function compileSampler(rate: number, key = 'body'): Sampler {
  const threshold = Math.floor(Math.min(1, Math.max(0, rate)) * 0x1_0000_0000);
  return {
    keep(rec) {
      if (threshold >= 0x1_0000_0000) return true;
      if (threshold <= 0) return false;
      let v = getField(rec, key);
      if (v === undefined || v === null) v = rec.body;
      const s = typeof v === 'string' ? v : JSON.stringify(v) ?? '';
      return fnv1a(s) < threshold;
    },
  };
}
