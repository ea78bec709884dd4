/**
 * kafkajs's produce encoding as core/kafkajs-encoder.ts leaves it: the same bytes on the wire.
 * The CRC32C is checked against kafkajs's own byte-at-a-time function and the standard check
 * value; record batches (plain and compressed) against batches encoded with kafkajs's own growth
 * (zero-filled), restored for the comparison, and read back by kafkajs's decoder.
 */
import { createRequire } from 'node:module';
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
});
