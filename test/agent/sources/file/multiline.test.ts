import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { Multiline, compileMultiline } from '../../../../agent/sources/file/multiline.js';
import type { Piece } from '../../../../agent/sources/file/multiline.js';

function run(lines: string[], cfg: Parameters<typeof compileMultiline>[0], times?: number[]): { events: Piece[]; ml: Multiline } {
  const ml = new Multiline(compileMultiline(cfg));
  const events: Piece[] = [];
  let off = 0;
  lines.forEach((text, i) => {
    const bytes = Buffer.byteLength(text);
    ml.push({ text, offset: off, next: off + bytes + 1, bytes }, times?.[i] ?? 0, events);
    off += bytes + 1;
  });
  return { events, ml };
}

const base = { negate: false, max_lines: 500, max_bytes: 1 << 20, timeout_ms: 1000 };

describe('Multiline', () => {
  test('java preset joins a stack trace with its Caused by and ... N more', () => {
    const lines = [
      '2026-11-25 10:00:00 ERROR request failed',
      'java.lang.IllegalStateException: boom',
      '\tat com.shop.Cart.add(Cart.java:42)',
      '\tat com.shop.Api.handle(Api.java:7)',
      'Caused by: java.io.IOException: disk',
      '\tat com.shop.Store.save(Store.java:3)',
      '\t... 2 more',
      '2026-11-25 10:00:01 INFO next request',
    ];
    const { events, ml } = run(lines, { ...base, preset: 'java' });
    expect(events.map((e) => e.text)).toEqual([lines.slice(0, 7).join('\n')]);
    expect(events[0]?.offset).toBe(0);
    // The last line is held: its event may still grow.
    expect(ml.heldFrom).toBe(lines.slice(0, 7).join('\n').length + 1);
  });

  test('python preset joins a chained traceback up to its final exception line', () => {
    const lines = [
      'ERROR:root:job failed',
      'Traceback (most recent call last):',
      '  File "job.py", line 3, in <module>',
      '    run()',
      'KeyError: 1',
      '',
      'During handling of the above exception, another exception occurred:',
      '',
      'Traceback (most recent call last):',
      '  File "job.py", line 5, in <module>',
      'ValueError: bad',
      'INFO:root:next',
    ];
    const { events } = run(lines, { ...base, preset: 'python' });
    expect(events.map((e) => e.text)).toEqual([lines.slice(0, 11).join('\n')]);
  });

  test('start_pattern: a matching line starts an event, others extend it', () => {
    const { events } = run(['[1] a', 'x', '[2] b', '[3] c', 'y', 'z', '[4]'], { ...base, start_pattern: '^\\[' });
    expect(events.map((e) => e.text)).toEqual(['[1] a\nx', '[2] b', '[3] c\ny\nz']);
  });

  test('continuation_pattern with negate: lines NOT matching extend', () => {
    const { events } = run(['2026 a', 'more', '2026 b', '2026 c', 'tail', '2026 d'], { ...base, continuation_pattern: '^\\d{4} ', negate: true });
    expect(events.map((e) => e.text)).toEqual(['2026 a\nmore', '2026 b', '2026 c\ntail']);
  });

  test('max_lines closes an event and counts it; the last event is flushed on timeout, not held', () => {
    const { events, ml } = run(['s', ' 1', ' 2', ' 3', ' 4'], { ...base, continuation_pattern: '^\\s', max_lines: 3 }, [0, 1, 2, 3, 4]);
    expect(events.map((e) => e.text)).toEqual(['s\n 1\n 2']);
    expect(ml.overflows).toBe(1);
    expect(ml.deadline()).toBe(1004);
    const out: Piece[] = [];
    ml.flush(1003, false, out);
    expect(out).toEqual([]);
    ml.flush(1004, false, out);
    expect(out.map((e) => e.text)).toEqual([' 3\n 4']);
    expect(ml.deadline()).toBeUndefined();
  });

  test('property: events cover the lines contiguously, in order, with nothing lost or repeated', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('A', ' b', 'c', '  ', 'Caused by: x', ''), { maxLength: 60 }), fc.integer({ min: 1, max: 5 }), (lines, maxLines) => {
        const { events, ml } = run(lines, { ...base, preset: 'java', max_lines: maxLines });
        const rest: Piece[] = [];
        ml.flush(0, true, rest);
        const all = [...events, ...rest];
        expect(all.map((e) => e.text).join('\n')).toBe(lines.join('\n'));
        let off = 0;
        for (const e of all) {
          expect(e.offset).toBe(off);
          off = e.next;
          expect(e.text.split('\n').length).toBeLessThanOrEqual(maxLines);
        }
      }),
      { numRuns: 300 },
    );
  });
});
