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
 * - Records and record batches (kafkajs's Record and RecordBatch modules replaced): the same
 *   bytes, each record's value copied once instead of twice (see below).
 *
 * Imported by core/kafkajs.ts before kafkajs: the CRC, Record and RecordBatch modules are
 * replaced in require's cache before the modules that take them load.
 */
import { createRequire } from 'node:module';
import { replaceKafkajsModule } from './kafkajs-mend.js';

const require = createRequire(import.meta.url);

/** kafkajs's Encoder (protocol/encoder.js), the parts used here. */
interface KafkajsEncoder {
  buf: Buffer;
  offset: number;
  readonly buffer: Buffer;
  ensureAvailable(length: number): void;
  writeVarInt(v: number): KafkajsEncoder;
  writeInt8(v: number): KafkajsEncoder;
  writeInt16(v: number): KafkajsEncoder;
  writeInt32(v: number): KafkajsEncoder;
  writeInt64(v: unknown): KafkajsEncoder;
  writeVarLong(v: unknown): KafkajsEncoder;
  writeVarIntBytes(v: unknown): KafkajsEncoder;
  writeVarIntArray(v: unknown[]): KafkajsEncoder;
}
interface EncoderClass {
  new (initialSize?: number): KafkajsEncoder;
  prototype: KafkajsEncoder;
  nextPowerOfTwo(value: number): number;
  sizeOfVarInt(v: number): number;
  sizeOfVarLong(v: unknown): number;
  sizeOfVarIntBytes(v: unknown): number;
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

/** Whether 32-bit typed-array reads see bytes in little-endian order (x86, ARM as Node runs them). */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** CRC32C of `buf`, as an unsigned 32-bit integer (kafkajs's crc32C/index.js contract). */
export function crc32c(buf: Buffer): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES as [Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array];
  let crc = -1;
  let i = 0;
  const n = buf.length;
  if (LITTLE_ENDIAN && n >= 64) {
    // Eight bytes per step as two aligned 32-bit reads rather than eight byte reads: about 1.4x
    // faster (1.0 against 1.4 ns per byte here). Up to three bytes first, one at a time, to reach
    // a 4-byte boundary of the memory.
    for (; ((buf.byteOffset + i) & 3) !== 0; i++) crc = t0[(crc ^ buf[i]!) & 0xff]! ^ (crc >>> 8);
    const words = new Int32Array(buf.buffer, buf.byteOffset + i, ((n - i) >>> 3) << 1);
    const m = words.length;
    for (let w = 0; w < m; w += 2) {
      const a = crc ^ words[w]!;
      const b = words[w + 1]!;
      crc = t7[a & 0xff]! ^ t6[(a >>> 8) & 0xff]! ^ t5[(a >>> 16) & 0xff]! ^ t4[a >>> 24]! ^ t3[b & 0xff]! ^ t2[(b >>> 8) & 0xff]! ^ t1[(b >>> 16) & 0xff]! ^ t0[b >>> 24]!;
    }
    i += m << 2;
  }
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

// ---------------------------------------------------------------------------------------------
// Records and record batches: each value copied once.
//
// kafkajs encodes every record into an Encoder of its own (the value copied in, the buffer
// grown by doubling), then copies all records again into one Encoder for the codec or the
// batch. The agent's records are whole wire batches of about a megabyte: two copies and a
// doubling of every byte it ships, and as many large buffers for the garbage collector. Here a
// record keeps its value aside, framed by the bytes kafkajs would write before and after it
// (kafkajs's own Encoder writes those), and the batch copies each value once, into the buffer
// the codec reads or into the batch itself.

/** A record as kafkajs would encode it: `head`, then `value` (when it is a Buffer), then `tail`. */
interface FramedRecord {
  head: Buffer;
  value: Buffer | undefined;
  tail: Buffer;
}

interface RecordInput {
  offsetDelta?: number;
  timestampDelta?: unknown;
  key?: unknown;
  value?: unknown;
  headers?: Record<string, unknown>;
}

const Header = require('kafkajs/src/protocol/recordBatch/header/v0/index.js') as (h: { key: string; value: unknown }) => unknown;
const Long = require('kafkajs/src/utils/long.js') as { fromInt(n: number): unknown; fromValue(v: unknown): unknown };
const compression = require('kafkajs/src/protocol/message/compression/index.js') as {
  Types: { None: number };
  lookupCodec(type: number): { compress(encoder: { buffer: Buffer }): Promise<Buffer> } | null;
  COMPRESSION_CODEC_MASK: number;
};

/** kafkajs's Record (protocol/recordBatch/record/v0): the same bytes, the value left uncopied. */
export function frameRecord({ offsetDelta = 0, timestampDelta = 0, key, value, headers = {} }: RecordInput): FramedRecord {
  const headersArray = Object.keys(headers).flatMap((k) => {
    const v = headers[k];
    return Array.isArray(v) ? v.map((x: unknown) => ({ key: k, value: x })) : [{ key: k, value: v }];
  });
  let headersSize = Encoder.sizeOfVarInt(headersArray.length);
  for (const h of headersArray) {
    const keySize = Buffer.byteLength(h.key);
    headersSize += Encoder.sizeOfVarInt(keySize) + keySize;
    if (h.value === null) headersSize += Encoder.sizeOfVarInt(-1);
    else {
      const valueSize = Buffer.byteLength(h.value as string);
      headersSize += Encoder.sizeOfVarInt(valueSize) + valueSize;
    }
  }
  const sizeOfBody =
    1 + Encoder.sizeOfVarLong(timestampDelta) + Encoder.sizeOfVarInt(offsetDelta) + Encoder.sizeOfVarIntBytes(key) + Encoder.sizeOfVarIntBytes(value) + headersSize;
  const head = new Encoder().writeVarInt(sizeOfBody).writeInt8(0).writeVarLong(timestampDelta).writeVarInt(offsetDelta).writeVarIntBytes(key);
  let aside: Buffer | undefined;
  if (Buffer.isBuffer(value)) {
    head.writeVarInt(value.length);
    aside = value;
  } else head.writeVarIntBytes(value);
  const tail = new Encoder().writeVarIntArray(headersArray.map(Header));
  return { head: head.buffer, value: aside, tail: tail.buffer };
}

function recordsSize(records: readonly FramedRecord[]): number {
  let n = 0;
  for (const r of records) n += r.head.length + (r.value?.length ?? 0) + r.tail.length;
  return n;
}

function writeRecords(records: readonly FramedRecord[], out: Buffer, at: number): number {
  let o = at;
  for (const r of records) {
    o += r.head.copy(out, o);
    if (r.value !== undefined) o += r.value.copy(out, o);
    o += r.tail.copy(out, o);
  }
  return o;
}

/** Head of a v2 record batch up to its CRC: base offset, length, partition leader epoch, magic, CRC. */
const BATCH_PREFIX = 8 + 4 + 4 + 1 + 4;
const MAGIC_BYTE = 2;
const TRANSACTIONAL_MASK = 16;

interface RecordBatchInput {
  compression?: number;
  firstOffset?: unknown;
  firstTimestamp?: unknown;
  maxTimestamp?: unknown;
  partitionLeaderEpoch?: number;
  lastOffsetDelta?: number;
  transactional?: boolean;
  producerId?: unknown;
  producerEpoch?: number;
  firstSequence?: number;
  records?: FramedRecord[];
}

/** kafkajs's RecordBatch (protocol/recordBatch/v0): the same bytes, as one Encoder, each value copied once. */
export async function recordBatch({
  compression: codecType = compression.Types.None,
  firstOffset = Long.fromInt(0),
  firstTimestamp = Date.now(),
  maxTimestamp = Date.now(),
  partitionLeaderEpoch = 0,
  lastOffsetDelta = 0,
  transactional = false,
  producerId = Long.fromValue(-1),
  producerEpoch = 0,
  firstSequence = 0,
  records = [],
}: RecordBatchInput): Promise<KafkajsEncoder> {
  const attributes = (codecType & compression.COMPRESSION_CODEC_MASK) | (transactional ? TRANSACTIONAL_MASK : 0);
  const fields = new Encoder()
    .writeInt16(attributes)
    .writeInt32(lastOffsetDelta)
    .writeInt64(firstTimestamp)
    .writeInt64(maxTimestamp)
    .writeInt64(producerId)
    .writeInt16(producerEpoch)
    .writeInt32(firstSequence)
    .writeInt32(records.length).buffer;
  let out: Buffer;
  if (codecType === compression.Types.None) {
    out = Buffer.allocUnsafe(BATCH_PREFIX + fields.length + recordsSize(records));
    writeRecords(records, out, BATCH_PREFIX + fields.copy(out, BATCH_PREFIX));
  } else {
    const plain = Buffer.allocUnsafe(recordsSize(records));
    writeRecords(records, plain, 0);
    const codec = compression.lookupCodec(codecType);
    if (codec === null) throw new Error(`kafkajs has no codec for compression type ${codecType}`);
    const packed = await codec.compress({ buffer: plain });
    out = Buffer.allocUnsafe(BATCH_PREFIX + fields.length + packed.length);
    packed.copy(out, BATCH_PREFIX + fields.copy(out, BATCH_PREFIX));
  }
  // Base offset, then the length of what follows it, as kafkajs's writeInt64 and writeBytes do.
  const lead = new Encoder(16).writeInt64(firstOffset).writeInt32(out.length - 12).writeInt32(partitionLeaderEpoch).writeInt8(MAGIC_BYTE).buffer;
  lead.copy(out, 0);
  out.writeUInt32BE(crc32c(out.subarray(BATCH_PREFIX)), BATCH_PREFIX - 4);
  const batch = new Encoder(0);
  batch.buf = out;
  batch.offset = out.length;
  return batch;
}

replaceKafkajsModule('protocol/recordBatch/record/v0/index.js', 'protocol/requests/produce/v3/request.js', frameRecord, 'its records are copied twice');
replaceKafkajsModule('protocol/recordBatch/v0/index.js', 'protocol/requests/produce/v3/request.js', { RecordBatch: recordBatch, MAGIC_BYTE }, 'its record batches are copied twice');
