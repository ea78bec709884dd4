/**
 * A file's lines as a LineBlock: encodeLineBlock writes the very bytes encodeLogBatch writes for
 * the block's records (consumers cannot tell the paths apart), and the records are the lines'
 * text with their identity. Property-tested over lines that stress the bytes path: quotes,
 * backslashes and control bytes (JSON escapes), non-ASCII text, invalid UTF-8, lone surrogates
 * in text lines, times that change inside a block, and batches split by a small size limit.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LineBlock } from '../../core/line-block.js';
import { decodeLogBatch, encodeLineBlock, encodeLogBatch } from '../../core/wire.js';

type LineSpec = { kind: 'bytes'; bytes: Uint8Array; gap: number } | { kind: 'text'; text: string };

const byteLine = fc.oneof(
  fc.string({ maxLength: 120 }).map((s) => Buffer.from(s.replace(/\n/g, ' '))),
  fc.string({ unit: 'grapheme', maxLength: 40 }).map((s) => Buffer.from(s.replace(/\n/g, ' '))),
  fc.uint8Array({ maxLength: 60 }).map((b) => Buffer.from(b.map((x) => (x === 0x0a ? 0x20 : x)))),
  fc.constantFrom(Buffer.from('say "hi"\\ok'), Buffer.from('tab\there'), Buffer.from([0xe2, 0x82]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('\u2028 é ✓ 🌊')),
);
const lineSpec: fc.Arbitrary<LineSpec> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('bytes' as const), bytes: byteLine, gap: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('text' as const), text: fc.oneof(fc.string({ maxLength: 50 }), fc.constantFrom('a\ud800b', 'multi\nline\n\tat x')) }) },
);

/** Builds the block twice over the same buffers: encoding one must not be changed by decoding the other. */
function blocks(specs: LineSpec[], times: number[]): [LineBlock, LineBlock] {
  // Byte lines live in a few shared buffers, separated by gaps, as lines of a read do.
  const chunks: Buffer[] = [];
  const where: { buf: Buffer; start: number; end: number }[] = [];
  let parts: Buffer[] = [];
  let pos = 0;
  const pending: { i: number; start: number; end: number }[] = [];
  const flush = (): void => {
    const buf = Buffer.concat(parts);
    chunks.push(buf);
    for (const p of pending) where[p.i] = { buf, start: p.start, end: p.end };
    parts = [];
    pos = 0;
    pending.length = 0;
  };
  specs.forEach((s, i) => {
    if (s.kind !== 'bytes') return;
    parts.push(Buffer.alloc(s.gap, 0x0d), Buffer.from(s.bytes), Buffer.from('\n'));
    pending.push({ i, start: pos + s.gap, end: pos + s.gap + s.bytes.length });
    pos += s.gap + s.bytes.length + 1;
    if (pending.length === 3) flush();
  });
  flush();
  const make = (): LineBlock => {
    const b = new LineBlock({ 'host.name': 'h"1', 'tidewatch.agent.id': 'a1' }, '/var/log/a "b".log', 'sid-1', 3, times[0] ?? 0);
    let offset = 17;
    specs.forEach((s, i) => {
      const t = times[i % times.length] ?? 0;
      if (s.kind === 'bytes') {
        const w = where[i]!;
        b.addBytes(w.buf, w.start, w.end, offset, t);
        offset += w.end - w.start + 1;
      } else {
        b.addText(s.text, offset, t);
        offset += Buffer.byteLength(s.text) + 1;
      }
    });
    return b;
  };
  return [make(), make()];
}

describe('LineBlock', () => {
  it('encodes to the same messages as its records, byte for byte, and decodes to its lines', () => {
    fc.assert(
      fc.property(
        fc.array(lineSpec, { minLength: 1, maxLength: 40 }),
        fc.array(fc.constantFrom(1_764_000_000_000, 1_764_000_000_001.5, 0), { minLength: 1, maxLength: 3 }),
        fc.constantFrom(300, 2000, 900_000),
        (specs, times, maxBytes) => {
          const [direct, viaRecords] = blocks(specs, times);
          const got = encodeLineBlock(direct, { maxBytes });
          const records = viaRecords.records();
          const want = encodeLogBatch(records, { maxBytes });
          expect(got.map((m) => [m.key, m.headers, m.value.toString('latin1')])).toEqual(want.map((m) => [m.key, m.headers, m.value.toString('latin1')]));
          const decoded = got.flatMap((m) => decodeLogBatch(m.value));
          expect(decoded).toEqual(records);
          expect(direct.records()).toEqual(records);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('gives each line as a record with its text, identity, resource and the time it was seen', () => {
    const data = Buffer.from('GET /a 200\r\nbad \xff byte\n', 'latin1');
    const b = new LineBlock({ 'host.name': 'h' }, '/l/app.log', 's9', 2, 5000);
    b.addBytes(data, 0, 10, 100, 5000);
    b.addBytes(data, 12, 22, 112, 5007);
    b.addText('java.lang.Error\n\tat x', 123, 5007);
    expect(b.length).toBe(3);
    expect(b.records()).toEqual([
      { kind: 'log', observed_time: 5000, severity_number: 0, severity_text: '', body: 'GET /a 200', attributes: { 'log.file.path': '/l/app.log', 'tidewatch.stream_id': 's9', 'tidewatch.generation': 2, 'tidewatch.offset': 100 }, resource: { 'host.name': 'h' } },
      { kind: 'log', observed_time: 5007, severity_number: 0, severity_text: '', body: 'bad \ufffd byte', attributes: { 'log.file.path': '/l/app.log', 'tidewatch.stream_id': 's9', 'tidewatch.generation': 2, 'tidewatch.offset': 112 }, resource: { 'host.name': 'h' } },
      { kind: 'log', observed_time: 5007, severity_number: 0, severity_text: '', body: 'java.lang.Error\n\tat x', attributes: { 'log.file.path': '/l/app.log', 'tidewatch.stream_id': 's9', 'tidewatch.generation': 2, 'tidewatch.offset': 123 }, resource: { 'host.name': 'h' } },
    ]);
    // Made once: every pipeline shares them (stages copy a record before changing it).
    expect(b.records()).toBe(b.records());
    // The read buffer is not needed once the lines are text: overwriting it changes nothing.
    data.fill(0x41);
    expect(b.records()[0]!.body).toBe('GET /a 200');
    expect(encodeLineBlock(b).flatMap((m) => decodeLogBatch(m.value)).map((r) => r.body)).toEqual(['GET /a 200', 'bad \ufffd byte', 'java.lang.Error\n\tat x']);
  });
});
