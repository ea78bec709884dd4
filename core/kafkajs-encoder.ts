/**
 * kafkajs 2.2.4's produce encoding, made cheaper without changing a byte it sends. Every
 * produced record batch passes through kafkajs's Encoder several times (each record, then all
 * records into one buffer for the codec, then the batch, then the request), and the CRC32C of
 * each batch is computed a byte at a time. For the agent's file lines that was a fifth of its
 * main thread's time (bench/kafka-e2e.mjs --agent-prof; bench/RESULTS.md, issue 5):
 *
 * - Encoder grows by allocating a zero-filled buffer of the next power of two and copying.
 *   Nothing ever reads an Encoder's bytes past what was written (`buffer` is the written
 *   prefix; every write appends at `offset`), so the new room need not be zeroed: growth here
 *   takes uninitialised memory. For a batch of several megabytes that is the zeroing of as many
 *   megabytes again, per copy, gone.
 * - CRC32C (Castagnoli) eight bytes per step (slicing-by-8 tables) instead of one: the same
 *   checksum (test/core/kafkajs-encoder.test.ts checks it against kafkajs's own function).
 *
 * Imported by core/kafkajs.ts before kafkajs: the CRC module is replaced in require's cache
 * before the record batch encoder that takes it is loaded.
 */
import { createRequire } from 'node:module';
import { replaceKafkajsModule } from './kafkajs-mend.js';

const require = createRequire(import.meta.url);

interface KafkajsEncoder {
  buf: Buffer;
  offset: number;
}
interface EncoderClass {
  prototype: KafkajsEncoder & { ensureAvailable(length: number): void };
  nextPowerOfTwo(value: number): number;
}

/** CRC32C lookup tables for slicing-by-8: TABLES[k][b] is the CRC of byte b followed by k zero bytes. */
const TABLES: Int32Array[] = (() => {
  const t = Array.from({ length: 8 }, () => new Int32Array(256));
  for (let b = 0; b < 256; b++) {
    let c = b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[0]![b] = c;
  }
  for (let b = 0; b < 256; b++) {
    let c = t[0]![b]!;
    for (let k = 1; k < 8; k++) {
      c = t[0]![c & 0xff]! ^ (c >>> 8);
      t[k]![b] = c;
    }
  }
  return t;
})();

/** CRC32C of `buf`, as an unsigned 32-bit integer (kafkajs's crc32C/index.js contract). */
export function crc32c(buf: Buffer): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES as [Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array];
  let crc = -1;
  let i = 0;
  const n = buf.length;
  for (; i + 8 <= n; i += 8) {
    const a = crc ^ (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24));
    crc =
      t7[a & 0xff]! ^
      t6[(a >>> 8) & 0xff]! ^
      t5[(a >>> 16) & 0xff]! ^
      t4[a >>> 24]! ^
      t3[buf[i + 4]!]! ^
      t2[buf[i + 5]!]! ^
      t1[buf[i + 6]!]! ^
      t0[buf[i + 7]!]!;
  }
  for (; i < n; i++) crc = t0[(crc ^ buf[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

/** Grows an Encoder to hold `length` more bytes: the next power of two, as kafkajs does, not zeroed. */
function ensureAvailable(this: KafkajsEncoder, length: number): void {
  if (this.offset + length <= this.buf.length) return;
  const grown = Buffer.allocUnsafe(Encoder.nextPowerOfTwo(this.offset + length));
  this.buf.copy(grown, 0, 0, this.offset);
  this.buf = grown;
}

replaceKafkajsModule('protocol/recordBatch/crc32C/index.js', 'protocol/recordBatch/v0/index.js', crc32c, 'its record batches\' CRC32C is the slow one');
const Encoder = require('kafkajs/src/protocol/encoder.js') as EncoderClass;
Encoder.prototype.ensureAvailable = ensureAvailable;
