import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TidewatchError } from '../../core/errors.js';
import { lz4FrameCompress, lz4FrameDecompress, xxh32 } from '../../core/lz4.js';

const fixture = (name: string): Buffer => readFileSync(new URL(`fixtures/lz4/${name}`, import.meta.url));

/**
 * The input of the fixtures in fixtures/lz4/, made by the reference `lz4` CLI v1.9.4:
 *   default.lz4                      lz4 IN                                  (4 MiB blocks, content checksum)
 *   linked-64k.lz4                   lz4 -BD -B4 IN                          (linked 64 KiB blocks, as librdkafka writes)
 *   block-checksum-content-size.lz4  lz4 -BX -B5 --content-size IN
 *   hc-no-crc-1m.lz4                 lz4 --no-frame-crc -B6 -9 IN            (high compression: long matches)
 *   empty.lz4                        lz4 EMPTY
 */
function fixtureInput(): Buffer {
  const words = ['GET', 'POST', '/cart', '/api/v1/items', '200', '404', 'INFO', 'WARN', 'user=', 'é', '日本', 'latency_ms=', 'x'];
  let seed = 12345;
  const rnd = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8;
  const parts: string[] = [];
  for (let i = 0; i < 3200; i++) parts.push(`request ${words[rnd() % words.length]} ${words[rnd() % words.length]} ${rnd() % 50}\n`);
  return Buffer.from(parts.join(''));
}

/** Log-like bytes: repeats at every distance, so matches of all lengths and offsets occur. */
const logBytes = fc
  .array(fc.oneof(fc.constantFrom('GET /cart 200 ', 'INFO request ', 'x', '\n', 'é日本', '{"offset":'), fc.string({ maxLength: 12 }), fc.nat(99_999).map(String)), { maxLength: 3000 })
  .map((xs) => Buffer.from(xs.join('')));

function decodeError(fn: () => unknown): TidewatchError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TidewatchError);
    expect((err as TidewatchError).code).toBe('TW_WIRE_DECODE');
    return err as TidewatchError;
  }
  throw new Error('expected a TW_WIRE_DECODE error');
}

describe('xxh32', () => {
  it('matches the reference hashes', () => {
    const h = (s: string, seed = 0): number => xxh32(Buffer.from(s), 0, Buffer.byteLength(s), seed);
    expect(h('')).toBe(0x02cc5d05);
    expect(h('abc')).toBe(0x32d153ff);
    expect(h('Nobody inspects the spammish repetition')).toBe(0xe2293b2f);
    expect(h('', 1)).toBe(0x0b2cb792);
  });
});

describe('lz4 frame', () => {
  it('reads frames written by the reference lz4 (linked blocks, checksums, content size, every block size)', () => {
    const input = fixtureInput();
    for (const name of ['default.lz4', 'linked-64k.lz4', 'block-checksum-content-size.lz4', 'hc-no-crc-1m.lz4']) {
      expect(lz4FrameDecompress(fixture(name)).equals(input), name).toBe(true);
    }
    expect(lz4FrameDecompress(fixture('empty.lz4')).length).toBe(0);
  });

  it('reads concatenated frames and skips skippable frames', () => {
    const skippable = Buffer.from([0x5a, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3]);
    const both = Buffer.concat([fixture('linked-64k.lz4'), skippable, lz4FrameCompress(Buffer.from('tail'))]);
    expect(lz4FrameDecompress(both).toString('latin1')).toBe(fixtureInput().toString('latin1') + 'tail');
  });

  it('round-trips any bytes, compressing log-like ones', () => {
    fc.assert(
      fc.property(fc.oneof(logBytes, fc.uint8Array({ maxLength: 5000 }).map((a) => Buffer.from(a))), (input) => {
        const frame = lz4FrameCompress(input);
        expect(lz4FrameDecompress(frame).equals(input)).toBe(true);
        // Never much larger than the input: incompressible blocks are stored as they are.
        expect(frame.length).toBeLessThanOrEqual(input.length + 11 + 4 * Math.ceil(input.length / 65_536));
      }),
      { numRuns: 300 },
    );
  });

  // The compressor reads words through a DataView of the input's own bytes: kafkajs hands it a view
  // into a larger buffer at any offset, and bytes outside the view must neither be read nor matched.
  it('compresses a view at any offset of a larger buffer as it compresses a copy of those bytes', () => {
    fc.assert(
      fc.property(logBytes, fc.nat(7), fc.nat(7), (input, before, after) => {
        const outer = Buffer.concat([Buffer.alloc(before, 'x'), input, Buffer.alloc(after, 'x')]);
        const view = outer.subarray(before, before + input.length);
        const frame = lz4FrameCompress(view);
        expect(frame.equals(lz4FrameCompress(Buffer.from(input)))).toBe(true);
        expect(lz4FrameDecompress(frame).equals(input)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('round-trips across block boundaries, with raw and compressed blocks in one frame', () => {
    const text = fixtureInput();
    let seed = 7;
    const noise = Buffer.alloc(70_000);
    for (let i = 0; i < noise.length; i++) noise[i] = (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24;
    for (const n of [0, 1, 12, 13, 65_535, 65_536, 65_537, 200_000]) {
      const input = Buffer.concat([text, noise, text, text]).subarray(0, n);
      expect(lz4FrameDecompress(lz4FrameCompress(input)).equals(input), `${n} bytes`).toBe(true);
    }
    const mixed = Buffer.concat([text, noise, text]);
    const frame = lz4FrameCompress(mixed);
    expect(frame.length).toBeLessThan(mixed.length - text.length); // the text compressed, the noise did not grow
    expect(lz4FrameDecompress(frame).equals(mixed)).toBe(true);
  });

  it('compresses a Kafka-sized log batch at least 5x', () => {
    const lines: string[] = [];
    for (let i = 0; i < 5000; i++) lines.push(`{"offset":${i * 103},"observed_time":${1_764_064_800_000 + i},"body":"2026-11-25T10:00:00.000Z INFO request ${String(i).padStart(9, '0')} GET /cart 200"}`);
    const input = Buffer.from(lines.join(','));
    expect(lz4FrameCompress(input).length * 5).toBeLessThan(input.length);
  });

  it('rejects every truncation of a valid frame with TW_WIRE_DECODE', () => {
    const frame = fixture('block-checksum-content-size.lz4');
    for (let cut = 0; cut < frame.length; cut += cut < 64 ? 1 : 997) decodeError(() => lz4FrameDecompress(frame.subarray(0, cut)));
    const ours = lz4FrameCompress(fixtureInput());
    for (let cut = 0; cut < ours.length; cut += cut < 64 ? 1 : 331) decodeError(() => lz4FrameDecompress(ours.subarray(0, cut)));
  });

  it('never fails otherwise on damaged frames: a typed error or some bytes, no out-of-bounds access', () => {
    const frames = [fixture('linked-64k.lz4'), fixture('default.lz4'), lz4FrameCompress(fixtureInput())];
    fc.assert(
      fc.property(fc.constantFrom(...frames), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }), (frame, flips) => {
        const bad = Buffer.from(frame);
        for (const [at, x] of flips) bad[at % bad.length] = bad[at % bad.length]! ^ x;
        try {
          const out = lz4FrameDecompress(bad, 1 << 20);
          expect(out.length).toBeLessThanOrEqual(1 << 20);
        } catch (err) {
          expect(err).toBeInstanceOf(TidewatchError);
          expect((err as TidewatchError).code).toBe('TW_WIRE_DECODE');
        }
      }),
      { numRuns: 500 },
    );
  });

  it('detects damage the checksums cover', () => {
    const frame = Buffer.from(fixture('default.lz4'));
    frame[5] = frame[5]! ^ 0x10; // BD byte: the header checksum no longer holds
    expect(decodeError(() => lz4FrameDecompress(frame)).message).toMatch(/header checksum/);
    const content = Buffer.from(fixture('default.lz4'));
    // A literal byte inside the first block (after magic, FLG, BD, HC and the block size).
    content[12] = content[12] === 0x41 ? 0x42 : 0x41;
    expect(decodeError(() => lz4FrameDecompress(content)).message).toMatch(/checksum|offset|block/);
  });

  it('caps the output: a small frame cannot expand into unbounded memory', () => {
    const zeros = lz4FrameCompress(Buffer.alloc(3_000_000));
    expect(zeros.length).toBeLessThan(20_000);
    expect(decodeError(() => lz4FrameDecompress(zeros, 1_000_000)).message).toMatch(/exceeds 1000000 bytes/);
    expect(lz4FrameDecompress(zeros, 3_000_000).length).toBe(3_000_000);
  });

  it('rejects what is not an LZ4 frame', () => {
    decodeError(() => lz4FrameDecompress(Buffer.alloc(0)));
    decodeError(() => lz4FrameDecompress(Buffer.from('not lz4 at all')));
    const v2 = Buffer.from(lz4FrameCompress(Buffer.from('x')));
    v2[4] = 0b1010_0000; // frame version 2
    decodeError(() => lz4FrameDecompress(v2));
  });
});
