/**
 * Bad input against the file source's framing (issue 11), beyond the model tests in
 * test/agent/sources/file/: lines that arrive a few bytes per read, huge lines, binary and
 * invalid UTF-8, flushes at any point, and multiline rules (presets and user patterns) over
 * random lines. The framer never holds more than maxLineBytes + 3 bytes of a line, accounts for
 * every byte it was given, and stays linear in the input; multiline events respect their limits.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LineFramer, type Framing, type Line, type LongLines } from '../../agent/sources/file/lines.js';
import { MULTILINE_PRESETS, Multiline, compileMultiline, type Piece } from '../../agent/sources/file/multiline.js';
import { scale } from '../support/scale.js';

const RUNS = scale(300, 10_000);

describe('LineFramer: any bytes, any chunking, any flushes', () => {
  it('covers every byte once, keeps each line within maxLineBytes, and never fails', () => {
    const step = fc.oneof(
      fc.uint8Array({ maxLength: 200 }).map((b) => ({ chunk: Buffer.from(b) })),
      fc.array(fc.constantFrom(0x0a, 0x0d, 0x78, 0xff, 0x00), { maxLength: 300 }).map((b) => ({ chunk: Buffer.from(b) })),
      fc.constant({ flush: true as const }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.constantFrom<LongLines>('truncate', 'split'), fc.constantFrom<Framing>('bytes', 'utf-16le', 'utf-16be'), fc.nat(1_000_000), fc.array(step, { maxLength: 40 }), (max, mode, framing, start, steps) => {
        const f = new LineFramer({ maxLineBytes: max, longLines: mode, framing }, start);
        const lines: Line[] = [];
        let pushed = start;
        for (const s of steps) {
          const before = lines.length;
          if ('flush' in s) f.flushPartial(lines);
          else {
            f.push(s.chunk, lines);
            pushed += s.chunk.length;
          }
          for (const l of lines.slice(before)) {
            expect(l.bytes.length).toBeLessThanOrEqual(Math.max(max, framing === 'bytes' ? 1 : 2));
            expect(l.offset).toBeLessThanOrEqual(l.next);
          }
          expect(f.position).toBe(pushed);
          expect(f.lineStart).toBeLessThanOrEqual(f.position);
        }
        // Lines tile the input from the start offset, in order, up to where the unfinished line
        // starts; the only bytes in no line are NULs skipped where a line starts, a terminator
        // that completes a flushed line (\r\n: two units) and, in UTF-16, the second half of a
        // unit a flush cut.
        const input = Buffer.concat(steps.flatMap((s) => ('chunk' in s ? [s.chunk] : [])));
        const gap = framing === 'bytes' ? 2 : 5;
        const notNul = (from: number, to: number): number => input.subarray(from - start, to - start).filter((b) => b !== 0).length;
        let at = start;
        let skipped = 0;
        for (const l of [...lines, { offset: f.lineStart, next: f.lineStart }]) {
          expect(l.offset - at).toBeGreaterThanOrEqual(0);
          expect(notNul(at, l.offset)).toBeLessThanOrEqual(gap);
          skipped += l.offset - at;
          at = l.next;
        }
        // Every NUL skipped is counted, and nothing else is.
        expect(f.nulBytes).toBeLessThanOrEqual(skipped);
        expect(skipped - f.nulBytes).toBeLessThanOrEqual(gap * lines.length + gap);
      }),
      { numRuns: RUNS },
    );
  });

  it('regression: a partial line flushed at maxLineBytes + 1 bytes is truncated or split like any other (was handed out one byte over)', () => {
    for (const mode of ['truncate', 'split'] as const) {
      const f = new LineFramer({ maxLineBytes: 4, longLines: mode }, 0);
      const out: Line[] = [];
      f.push(Buffer.from('abcde'), out);
      expect(f.flushPartial(out)).toBe(true);
      expect(out.map((l) => [l.bytes.toString(), l.offset, l.next, l.cut])).toEqual(mode === 'truncate' ? [['abcd', 0, 5, true]] : [['abcd', 0, 4, true], ['e', 4, 5, false]]);
      expect(f.cutLines).toBe(1);
    }
  });

  it('regression: a long line arriving a few bytes per read is framed in linear time (was quadratic: 1.6 s for 256 KiB)', () => {
    const max = 1024 * 1024;
    for (const mode of ['truncate', 'split'] as const) {
      const f = new LineFramer({ maxLineBytes: max, longLines: mode }, 0);
      const out: Line[] = [];
      const chunk = Buffer.alloc(16, 0x78);
      const t0 = performance.now();
      for (let i = 0; i < (max * 2) / 16; i++) f.push(chunk, out);
      f.push(Buffer.from('\n'), out);
      // Linear: about 130 000 pushes, well under a second; quadratic took minutes at this size.
      expect(performance.now() - t0).toBeLessThan(5_000);
      expect(out.reduce((n, l) => n + l.bytes.length, 0)).toBe(mode === 'truncate' ? max : 2 * max);
      expect(out.every((l) => l.bytes.every((b) => b === 0x78))).toBe(true);
    }
  });

  it('a line handed out keeps its bytes while the next line is framed in the same push', () => {
    fc.assert(
      fc.property(fc.array(fc.stringMatching(/^[a-z]{0,40}$/), { minLength: 2, maxLength: 10 }), fc.integer({ min: 1, max: 7 }), (texts, chunkSize) => {
        const input = Buffer.from(texts.map((t) => `${t}\n`).join(''));
        const f = new LineFramer({ maxLineBytes: 64, longLines: 'truncate' }, 0);
        const out: Line[] = [];
        // Small chunks make every line go through the carry; a big one frames several per push.
        for (let i = 0; i < input.length; i += chunkSize) f.push(Buffer.from(input.subarray(i, i + chunkSize)), out);
        expect(out.map((l) => l.bytes.toString())).toEqual(texts);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('Multiline: presets and user rules over random lines', () => {
  const lineArb = fc.oneof(
    fc.constantFrom('\tat com.x.Y.z(Y.java:10)', 'Caused by: java.io.IOException: x', '\t... 5 more', 'java.lang.IllegalStateException: boom', 'Traceback (most recent call last):', '  File "a.py", line 1, in <module>', 'ValueError: x', '', ' ', '2026-11-25 10:00:00 INFO ok'),
    fc.string({ maxLength: 60 }),
    fc.string({ unit: 'binary', maxLength: 60 }),
  ).map((t) => t.replace(/\n/g, ' ')); // the framer's lines never hold a newline
  const rules = [
    ...Object.keys(MULTILINE_PRESETS).map((p) => ({ preset: p as 'java' | 'python' })),
    { start_pattern: '^\\d{4}-' },
    { continuation_pattern: '^\\s' },
    { continuation_pattern: '^\\s', negate: true },
  ];

  it('events stay within max_lines and max_bytes, cover the lines in order, and lose none', () => {
    fc.assert(
      fc.property(fc.constantFrom(...rules), fc.array(lineArb, { maxLength: 80 }), fc.integer({ min: 1, max: 10 }), fc.integer({ min: 1, max: 400 }), fc.array(fc.nat(3000), { maxLength: 80 }), (r, texts, maxLines, maxBytes, gaps) => {
        const m = new Multiline(compileMultiline({ negate: false, max_lines: maxLines, max_bytes: maxBytes, timeout_ms: 1000, ...r }));
        const out: Piece[] = [];
        let offset = 0;
        let now = 0;
        texts.forEach((text, i) => {
          const bytes = Buffer.byteLength(text);
          now += gaps[i] ?? 0;
          m.flush(now, false, out);
          m.push({ text, offset, next: offset + bytes + 1, bytes }, now, out);
          offset += bytes + 1;
        });
        m.flush(now, true, out);
        let at = 0;
        for (const e of out) {
          expect(e.offset).toBe(at);
          at = e.next;
          const lines = e.text.split('\n').length;
          expect(lines).toBeLessThanOrEqual(maxLines);
          // One line alone may pass max_bytes (the framer bounds it); a group never grows past it.
          if (lines > 1) expect(e.bytes).toBeLessThanOrEqual(maxBytes);
        }
        expect(at).toBe(offset);
        expect(out.map((e) => e.text).join('\n')).toBe(texts.join('\n'));
      }),
      { numRuns: RUNS },
    );
  });

  it('preset patterns run in linear time on long adversarial lines', () => {
    const n = scale(100_000, 1_000_000);
    const evil = ['a'.repeat(n), `${' '.repeat(n)}x`, `${'a.'.repeat(n / 2)}!`, `${'$'.repeat(n)}Exception`, `Traceback${' '.repeat(n)}`];
    for (const p of Object.values(MULTILINE_PRESETS)) {
      const re = new RegExp(p.continuation);
      for (const s of evil) {
        const t0 = performance.now();
        re.test(s);
        expect(performance.now() - t0).toBeLessThan(2_000);
      }
    }
  });
});
