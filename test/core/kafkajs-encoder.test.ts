/**
 * kafkajs's produce encoding as core/kafkajs-encoder.ts leaves it: the same bytes on the wire.
 * The CRC32C is checked against kafkajs's own byte-at-a-time function and the standard check
 * value; record batches (plain and compressed) against batches encoded with kafkajs's own growth
 * (zero-filled), restored for the comparison, and read back by kafkajs's decoder; and the
 * records and batches of core/kafkajs-encoder.ts against kafkajs's own Record and RecordBatch
 * modules, compiled afresh from kafkajs's files (require's cache holds the replacements).
 */
import { readFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import '../../core/kafkajs.js';
import { crc32c } from '../../core/kafkajs-encoder.js';
import { registerKafkaCodecs } from '../../core/kafka-codecs.js';

const require = createRequire(import.meta.url);
const stockCrc = require('kafkajs/src/protocol/recordBatch/crc32C/crc32C.js') as (b: Buffer) => number;
const Encoder = require('kafkajs/src/protocol/encoder.js') as {
  prototype: { ensureAvailable(n: number): void; buf: Buffer; offset: number };
  nextPowerOfTwo(n: number): number;
};
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js') as { RecordBatch: (o: Record<string, unknown>) => Promise<{ buffer: Buffer }> };
const Record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (o: Record<string, unknown>) => unknown;
const decodeBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder.js') as (d: unknown) => Promise<{ records: { key: Buffer | null; value: Buffer | null }[] }>;
const Decoder = require('kafkajs/src/protocol/decoder.js') as new (b: Buffer) => unknown;

/** A kafkajs module as kafkajs ships it, compiled from its file (its own requires come from the cache). */
function stockModule<T>(rel: string): T {
  const file = require.resolve(`kafkajs/src/${rel}`);
  const M = Module as unknown as { new (id: string): { filename: string; paths: string[]; exports: T; _compile(src: string, f: string): void }; _nodeModulePaths(d: string): string[] };
  const m = new M(file);
  m.filename = file;
  m.paths = M._nodeModulePaths(dirname(file));
  m._compile(readFileSync(file, 'utf8'), file);
  return m.exports;
}

/** kafkajs's own growth: a zero-filled buffer of the next power of two. */
function stockEnsureAvailable(this: { buf: Buffer; offset: number }, length: number): void {
  if (this.offset + length > this.buf.length) {
    const grown = Buffer.alloc(Encoder.nextPowerOfTwo(this.offset + length));
    this.buf.copy(grown, 0, 0, this.offset);
    this.buf = grown;
  }
}

async function encodeWith(grow: (this: { buf: Buffer; offset: number }, n: number) => void, records: { key: Buffer; value: Buffer }[], compression: number): Promise<Buffer> {
  const mended = Encoder.prototype.ensureAvailable;
  Encoder.prototype.ensureAvailable = grow;
  try {
    const encoded = records.map((r, i) => Record({ offsetDelta: i, timestampDelta: 0, key: r.key, value: r.value, headers: { 'tw-wire': '1' } }));
    const batch = await RecordBatch({ compression, records: encoded, firstTimestamp: 1_764_000_000_000, maxTimestamp: 1_764_000_000_000, lastOffsetDelta: records.length - 1 });
    return Buffer.from(batch.buffer);
  } finally {
    Encoder.prototype.ensureAvailable = mended;
  }
}

describe('kafkajs produce encoding (core/kafkajs-encoder.ts)', () => {
  it('computes CRC32C as kafkajs does, eight bytes per step', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283); // the CRC-32C check value
    expect(crc32c(Buffer.alloc(0))).toBe(0);
    fc.assert(
      // Lengths on both sides of the word path's 64 bytes, every alignment of the memory.
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat({ max: 7 }), (bytes, skip) => {
        const b = Buffer.from(bytes).subarray(Math.min(skip, bytes.length));
        expect(crc32c(b)).toBe(stockCrc(b) >>> 0);
      }),
      { numRuns: 500 },
    );
    // kafkajs takes it from require's cache: its record batches carry this function's CRC.
    expect(require('kafkajs/src/protocol/recordBatch/crc32C/index.js')).toBe(crc32c);
  });

  it('encodes record batches byte for byte as kafkajs\'s own growth does, and they decode', async () => {
    registerKafkaCodecs();
    const records = fc.array(fc.record({ key: fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)), value: fc.uint8Array({ maxLength: 5000 }).map((b) => Buffer.from(b)) }), { minLength: 1, maxLength: 30 });
    await fc.assert(
      fc.asyncProperty(records, fc.constantFrom(0, 1, 3), async (recs, compression) => {
        // Dirty memory first, so growth into uninitialised memory would show if any byte were read unwritten.
        for (let i = 0; i < 50; i++) Buffer.allocUnsafe(1 << 16).fill(0xa5);
        const mended = await encodeWith(Encoder.prototype.ensureAvailable, recs, compression);
        const stock = await encodeWith(stockEnsureAvailable, recs, compression);
        expect(mended.equals(stock)).toBe(true);
        const back = await decodeBatch(new Decoder(mended));
        expect(back.records.map((r) => [r.key?.toString('hex'), r.value?.toString('hex')])).toEqual(recs.map((r) => [r.key.toString('hex'), r.value.toString('hex')]));
      }),
      { numRuns: 60 },
    );
  });

  it('writes records and record batches as kafkajs\'s own Record and RecordBatch do, each value copied once', async () => {
    registerKafkaCodecs();
    expect(Record).not.toBe(stockModule('protocol/recordBatch/record/v0/index.js')); // the replacement is in place
    const stockRecord = stockModule<(o: Record<string, unknown>) => unknown>('protocol/recordBatch/record/v0/index.js');
    const stockBatch = stockModule<{ RecordBatch: (o: Record<string, unknown>) => Promise<{ buffer: Buffer; size(): number }>; MAGIC_BYTE: number }>('protocol/recordBatch/v0/index.js');
    expect(require('kafkajs/src/protocol/recordBatch/v0/index.js').MAGIC_BYTE).toBe(stockBatch.MAGIC_BYTE); // the fetch decoder reads it
    const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((b) => Buffer.from(b));
    const record = fc.record({
      key: fc.oneof(bytes(40), fc.string({ maxLength: 20 }), fc.constant(null)),
      value: fc.oneof(bytes(3000), fc.string({ maxLength: 200 }), fc.constant(null)),
      headers: fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.string({ maxLength: 10 }), bytes(10), fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 })), { maxKeys: 3 }),
      timestampDelta: fc.oneof(fc.integer({ min: -5000, max: 5000 }), fc.constant(2 ** 40 + 3)),
    });
    const batch = fc.record({
      records: fc.array(record, { maxLength: 20 }),
      compression: fc.constantFrom(0, 1, 3),
      transactional: fc.boolean(),
      producerId: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 2 ** 31 - 1 })),
      producerEpoch: fc.integer({ min: 0, max: 32767 }),
      firstSequence: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    });
    await fc.assert(
      fc.asyncProperty(batch, async (b) => {
        const args = (rec: (o: Record<string, unknown>) => unknown) => ({
          compression: b.compression,
          records: b.records.map((r, i) => rec({ ...r, offsetDelta: i })),
          firstTimestamp: 1_764_000_000_000,
          maxTimestamp: 1_764_000_000_123,
          lastOffsetDelta: b.records.length - 1,
          transactional: b.transactional,
          producerId: b.producerId,
          producerEpoch: b.producerEpoch,
          firstSequence: b.firstSequence,
        });
        const ours = await RecordBatch(args(Record));
        const theirs = await stockBatch.RecordBatch(args(stockRecord));
        expect(Buffer.from(ours.buffer).toString('hex')).toBe(Buffer.from(theirs.buffer).toString('hex'));
        expect((ours as unknown as { size(): number }).size()).toBe(theirs.size());
      }),
      { numRuns: 150 },
    );
  });
});
