import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { LineFramer } from '../../../../agent/sources/file/lines.js';
import type { Framing, Line, LongLines } from '../../../../agent/sources/file/lines.js';

interface Out {
  text: string;
  offset: number;
  next: number;
  cut: boolean;
}

/**
 * The simple model: split the whole input at once, walking it a code unit at a time (one byte,
 * or two from offset 0 for UTF-16, where max_line_bytes counts whole units). NUL units where a
 * line starts are no part of it.
 */
function model(input: Buffer, maxLineBytes: number, mode: LongLines, framing: Framing = 'bytes'): { lines: Out[]; lineStart: number } {
  const w = framing === 'bytes' ? 1 : 2;
  const lo = framing === 'utf-16be' ? 1 : 0;
  const unitIs = (p: number, ch: number): boolean => (w === 1 ? input[p] === ch : input[p + lo] === ch && input[p + 1 - lo] === 0);
  const max = w === 1 ? maxLineBytes : Math.max(2, maxLineBytes - (maxLineBytes % 2));
  const out: Out[] = [];
  const pastNul = (from: number): number => {
    let p = from;
    while (p + w <= input.length && unitIs(p, 0)) p += w;
    return p;
  };
  let start = pastNul(0);
  for (let nl = start; nl + w <= input.length; nl += w) {
    if (!unitIs(nl, 0x0a)) continue;
    const end = nl - start >= w && unitIs(nl - w, 0x0d) ? nl - w : nl;
    const content = input.subarray(start, end);
    if (content.length <= max) out.push({ text: content.toString('latin1'), offset: start, next: nl + w, cut: false });
    else if (mode === 'truncate') out.push({ text: content.subarray(0, max).toString('latin1'), offset: start, next: nl + w, cut: true });
    else {
      let o = 0;
      while (content.length - o > max) {
        out.push({ text: content.subarray(o, o + max).toString('latin1'), offset: start + o, next: start + o + max, cut: true });
        o += max;
      }
      out.push({ text: content.subarray(o).toString('latin1'), offset: start + o, next: nl + w, cut: false });
    }
    start = pastNul(nl + w);
    nl = start - w;
  }
  // split mode hands out full pieces of an unfinished line as soon as more whole units than a
  // piece and a `\r` follow them (a last half unit may be half of the newline).
  if (mode === 'split') {
    while (input.length - start - ((input.length - start) % w) > max + w) {
      out.push({ text: input.subarray(start, start + max).toString('latin1'), offset: start, next: start + max, cut: true });
      start += max;
    }
  }
  return { lines: out, lineStart: start };
}

function frame(input: Buffer, cuts: number[], max: number, mode: LongLines, framing: Framing = 'bytes'): { lines: Out[]; framer: LineFramer } {
  const f = new LineFramer({ maxLineBytes: max, longLines: mode, framing }, 0);
  const lines: Line[] = [];
  const res: Out[] = [];
  let prev = 0;
  for (const c of [...cuts.filter((x) => x > 0 && x < input.length).sort((a, b) => a - b), input.length]) {
    // A reused buffer, as the tailer does: lines must not keep pointing into it.
    const chunk = Buffer.from(input.subarray(prev, c));
    f.push(chunk, lines);
    for (const l of lines) res.push({ text: l.bytes.toString('latin1'), offset: l.offset, next: l.next, cut: l.cut });
    lines.length = 0;
    chunk.fill(0x78);
    prev = c;
  }
  return { lines: res, framer: f };
}

const bytesArb = fc
  .array(fc.constantFrom(0x61, 0x62, 0x0a, 0x0d, 0xff, 0xc3, 0x20, 0x00), { maxLength: 400 })
  .map((a) => Buffer.from(a));

describe('LineFramer', () => {
  test('frames \\n and \\r\\n lines with their offsets; a lone \\r is content', () => {
    const { lines, framer } = frame(Buffer.from('a\r\nbb\ncc\rd\n\nlast'), [], 100, 'truncate');
    expect(lines).toEqual([
      { text: 'a', offset: 0, next: 3, cut: false },
      { text: 'bb', offset: 3, next: 6, cut: false },
      { text: 'cc\rd', offset: 6, next: 11, cut: false },
      { text: '', offset: 11, next: 12, cut: false },
    ]);
    expect(framer.lineStart).toBe(12);
    expect(framer.pendingBytes).toBe(4);
  });

  test('any chunking gives the same lines as splitting the whole input (both long-line modes)', () => {
    fc.assert(
      fc.property(bytesArb, fc.array(fc.nat(400)), fc.integer({ min: 1, max: 12 }), fc.constantFrom<LongLines>('truncate', 'split'), (input, cuts, max, mode) => {
        const { lines, framer } = frame(input, cuts, max, mode);
        // Everything before lineStart was handed out (or was NULs); the rest is the unfinished line.
        expect({ lines, lineStart: framer.lineStart }).toEqual(model(input, max, mode));
      }),
      { numRuns: 500 },
    );
  });

  test('a line split across a \\r|\\n chunk boundary still drops the \\r', () => {
    const { lines } = frame(Buffer.from('abc\r\ndef\r\n'), [4, 9], 100, 'truncate');
    expect(lines.map((l) => l.text)).toEqual(['abc', 'def']);
  });

  test('truncate: a line over max_line_bytes keeps its first bytes, is counted, the next line is intact', () => {
    const { lines, framer } = frame(Buffer.from(`${'x'.repeat(50)}\nok\n`), [7, 13, 31], 10, 'truncate');
    expect(lines).toEqual([
      { text: 'x'.repeat(10), offset: 0, next: 51, cut: true },
      { text: 'ok', offset: 51, next: 54, cut: false },
    ]);
    expect(framer.cutLines).toBe(1);
  });

  test('a line of exactly max_line_bytes followed by \\r\\n is not cut', () => {
    const { lines, framer } = frame(Buffer.from('0123456789\r\n'), [10, 11], 10, 'split');
    expect(lines).toEqual([{ text: '0123456789', offset: 0, next: 12, cut: false }]);
    expect(framer.cutLines).toBe(0);
  });

  test('memory for one endless line stays bounded by max_line_bytes', () => {
    const f = new LineFramer({ maxLineBytes: 1000, longLines: 'truncate' }, 0);
    const out: Line[] = [];
    for (let i = 0; i < 1000; i++) f.push(Buffer.alloc(10_000, 0x41), out);
    expect(out).toEqual([]);
    // The held line is flushed at max_line_bytes, not 10 MB.
    f.flushPartial(out);
    expect(out[0]?.bytes.length).toBe(1000);
    expect(out[0]?.next).toBe(10_000_000);
  });

  test('flushPartial hands out the unfinished line; its bare terminator later is not a second line', () => {
    const f = new LineFramer({ maxLineBytes: 100, longLines: 'truncate' }, 0);
    const out: Line[] = [];
    f.push(Buffer.from('abc'), out);
    expect(f.flushPartial(out)).toBe(true);
    expect(f.flushPartial(out)).toBe(false);
    f.push(Buffer.from('\r\nnext\n'), out);
    expect(out.map((l) => [l.bytes.toString(), l.offset, l.next])).toEqual([
      ['abc', 0, 3],
      ['next', 5, 10],
    ]);
  });

  test('UTF-16: any chunking gives the model\'s lines, split on newline units at even offsets only (both byte orders, both long-line modes)', () => {
    // Bytes that make newline and carriage-return units common, and 0x0A bytes inside other units.
    const utf16Arb = fc.array(fc.constantFrom(0x0a, 0x0d, 0x00, 0x00, 0x61, 0xd8), { maxLength: 400 }).map((a) => Buffer.from(a));
    fc.assert(
      fc.property(utf16Arb, fc.array(fc.nat(400)), fc.integer({ min: 1, max: 12 }), fc.constantFrom<LongLines>('truncate', 'split'), fc.constantFrom<Framing>('utf-16le', 'utf-16be'), (input, cuts, max, mode, framing) => {
        const { lines, framer } = frame(input, cuts, max, mode, framing);
        expect({ lines, lineStart: framer.lineStart }).toEqual(model(input, max, mode, framing));
        for (const l of lines) expect([l.offset % 2, l.next % 2]).toEqual([0, 0]);
      }),
      { numRuns: 500 },
    );
  });

  test('UTF-16: a line of exactly max_line_bytes whose \\r\\n a read cuts inside the newline unit is not cut (was truncated)', () => {
    // U+0A0A, then \r\n; the first read ends after the newline's first byte.
    for (const mode of ['truncate', 'split'] as const) {
      const { lines } = frame(Buffer.from([0x0a, 0x0a, 0x0d, 0x00, 0x0a, 0x00]), [5], 2, mode, 'utf-16le');
      expect(lines).toEqual([{ text: '\n\n', offset: 0, next: 6, cut: false }]);
    }
  });

  test('UTF-16: a character whose half is 0x0A (U+0A0D, U+0D0A) does not end a line; \r\n does', () => {
    const text = 'a\u0a0d\u0d0ab\r\n\u4e2d\n';
    for (const [framing, enc] of [
      ['utf-16le', (t: string) => Buffer.from(t, 'utf16le')],
      ['utf-16be', (t: string) => Buffer.from(t, 'utf16le').swap16()],
    ] as const) {
      const input = enc(text);
      // Cut at every odd offset too: a newline unit across two reads.
      const { lines } = frame(input, [1, 3, 5, 7, 9, 11, 13, 15], 100, 'truncate', framing);
      const decode = (l: Out): string => new TextDecoder(framing).decode(Buffer.from(l.text, 'latin1'));
      expect(lines.map((l) => [decode(l), l.offset, l.next])).toEqual([
        ['a\u0a0d\u0d0ab', 0, 12],
        ['\u4e2d', 12, 16],
      ]);
    }
  });

  test('UTF-16: a line flushed in the middle of a unit; the unit\'s second half is skipped, the next line starts on a boundary', () => {
    const f = new LineFramer({ maxLineBytes: 100, longLines: 'truncate', framing: 'utf-16le' }, 0);
    const out: Line[] = [];
    const input = Buffer.from('ab\ncd\n', 'utf16le');
    f.push(input.subarray(0, 3), out); // 'a' and half of 'b'
    expect(f.flushPartial(out)).toBe(true);
    f.push(input.subarray(3), out);
    // The flushed line holds the lone half (a reader decodes it as U+FFFD); its newline, arriving
    // next, is not a line of its own.
    expect(out.map((l) => [l.bytes.toString('hex'), l.offset, l.next])).toEqual([
      ['610062', 0, 3],
      ['63006400', 6, 12],
    ]);
    // Framing that starts at that odd offset (a restart from the flushed line's checkpoint) does
    // the same.
    const g = new LineFramer({ maxLineBytes: 100, longLines: 'truncate', framing: 'utf-16le' }, 3);
    const again: Line[] = [];
    g.push(input.subarray(3), again);
    expect(again.map((l) => [l.bytes.toString('hex'), l.offset, l.next])).toEqual([['63006400', 6, 12]]);
  });

  test('NUL bytes where a line starts (a copytruncate hole) are skipped and counted; a NUL inside a line is content', () => {
    const hole = Buffer.alloc(300_000); // longer than max_line_bytes: as content it would cut the line after it
    const input = Buffer.concat([hole, Buffer.from('first after the hole\nin\0side\n')]);
    const { lines, framer } = frame(input, [70_000, 299_999, 300_003], 1000, 'truncate');
    expect(lines).toEqual([
      { text: 'first after the hole', offset: 300_000, next: 300_021, cut: false },
      { text: 'in\0side', offset: 300_021, next: 300_029, cut: false },
    ]);
    expect([framer.nulBytes, framer.cutLines]).toEqual([300_000, 0]);
    // UTF-16: NUL units, one of them across two chunks.
    const wide = Buffer.concat([Buffer.alloc(10), Buffer.from('x\n', 'utf16le')]);
    const u = frame(wide, [3, 5], 100, 'truncate', 'utf-16le');
    expect(u.lines).toEqual([{ text: 'x\0', offset: 10, next: 14, cut: false }]);
    expect(u.framer.nulBytes).toBe(10);
  });

  test('invalid UTF-8 passes through as bytes (the decoder replaces it, never throws)', () => {
    const { lines } = frame(Buffer.from([0xff, 0xfe, 0x0a, 0xc3, 0x0a]), [1, 4], 100, 'truncate');
    expect(lines.map((l) => Buffer.from(l.text, 'latin1').toString('utf8'))).toEqual(['\ufffd\ufffd', '\ufffd']);
  });
});
