import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { Multiline, compileMultiline, criPiece as criBytes, dockerPiece as dockerBytes } from '../../../../agent/sources/file/multiline.js';
import type { Piece } from '../../../../agent/sources/file/multiline.js';

const over = (f: typeof criBytes) => (text: string) => {
  const b = Buffer.from(`${text}\nnext line`); // a line is read inside a larger buffer
  return f(b, 0, Buffer.byteLength(text));
};
const criPiece = over(criBytes);
const dockerPiece = over(dockerBytes);

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

/** Every event, the open one flushed at the end; asserts they cover the lines contiguously, in order, at most maxLines each. */
function covering(lines: string[], cfg: Parameters<typeof compileMultiline>[0]): string[][] {
  const { events, ml } = run(lines, cfg);
  ml.flush(0, true, events);
  expect(events.map((e) => e.text).join('\n')).toBe(lines.join('\n'));
  let off = 0;
  return events.map((e) => {
    expect(e.offset).toBe(off);
    off = e.next;
    const parts = e.text.split('\n');
    expect(parts.length).toBeLessThanOrEqual(cfg.max_lines);
    return parts;
  });
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

  test('go preset joins a panic, a fatal error and a recovered handler panic with their goroutine traces, as Go prints them', () => {
    const panic = [
      'panic: runtime error: invalid memory address or nil pointer dereference',
      '[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x47d3a5]',
      '',
      'goroutine 1 [running]:',
      'main.(*Store).Get(...)',
      '\t/app/store.go:12',
      'main.main()',
      '\t/app/main.go:9 +0x25',
    ];
    const fatal = [
      'fatal error: all goroutines are asleep - deadlock!',
      '',
      'goroutine 1 [chan receive]:',
      'main.main()',
      '\t/app/main.go:5 +0x2d',
      '',
      'goroutine 18 gp=0xc000007a40 m=nil [select, 2 minutes]:',
      'runtime.gopark(0x0?, 0x0?, 0x0?, 0x0?, 0x0?)',
      '\t/usr/local/go/src/runtime/proc.go:402 +0xce',
      '...additional frames elided...',
      'created by main.startWorker in goroutine 1',
      '\t/app/worker.go:20 +0x3c',
    ];
    const served = [
      '2026/11/26 10:00:00 http: panic serving 10.0.0.1:54321: boom',
      'goroutine 35 [running]:',
      'net/http.(*conn).serve.func1()',
      '\t/usr/local/go/src/net/http/server.go:1898 +0xbe',
      'panic({0x6c5f60?, 0x7f2a10?})',
      '\t/usr/local/go/src/runtime/panic.go:770 +0x132',
      'main.handler({0x7f5b28?, 0xc0001a2000?}, 0x0?)',
      '\t/app/main.go:20 +0x25',
    ];
    const logs = ['2026/11/26 10:00:01 GET /healthz (200)', '{"level":"info","msg":"started(ok)"}', 'level=info msg=ready'];
    const { events, ml } = run([logs[0]!, ...panic, logs[1]!, ...fatal, ...served, logs[2]!], { ...base, preset: 'go' });
    ml.flush(0, true, events);
    expect(events.map((e) => e.text)).toEqual([logs[0], panic.join('\n'), logs[1], fatal.join('\n'), served.join('\n'), logs[2]]);
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
        covering(lines, { ...base, preset: 'java', max_lines: maxLines });
      }),
      { numRuns: 300 },
    );
  });

  describe("cri and docker: a container runtime's split lines", () => {
    const T = '2026-11-26T10:00:00.000000001Z';
    const cri = (stream: string, tag: string, msg: string) => `${T} ${stream} ${tag} ${msg}`;

    test('cri: the P pieces of a line join the F piece that ends it; whole lines pass at once, never held', () => {
      const lines = [cri('stdout', 'F', 'whole'), cri('stdout', 'P', 'aaa'), cri('stdout', 'P', 'bbb'), cri('stdout', 'F', 'ccc'), cri('stderr', 'F', 'err')];
      const { events, ml } = run(lines, { ...base, preset: 'cri' });
      expect(events.map((e) => e.text)).toEqual([lines[0], lines.slice(1, 4).join('\n'), lines[4]]);
      expect(events.map((e) => e.offset)).toEqual([0, lines[0]!.length + 1, lines.slice(0, 4).join('\n').length + 1]);
      expect(ml.deadline()).toBeUndefined(); // nothing held: no line waits for a timeout
      expect(ml.heldFrom).toBeUndefined();
    });

    test('cri: a piece of the other stream, or a line not in the format, ends the open line unjoined; a dangling piece is sent on timeout', () => {
      const lines = [cri('stdout', 'P', 'out1'), cri('stderr', 'F', 'err'), cri('stdout', 'F', 'out2'), cri('stderr', 'P', 'e1'), 'garbage', cri('stdout', 'P:x', 'tail')];
      const { events, ml } = run(lines, { ...base, preset: 'cri' }, [0, 0, 0, 0, 0, 7]);
      expect(events.map((e) => e.text)).toEqual(lines.slice(0, 5));
      expect(ml.deadline()).toBe(1007);
      const out: Piece[] = [];
      ml.flush(1007, false, out);
      expect(out.map((e) => e.text)).toEqual([lines[5]]);
    });

    test("cri: max_bytes ends a long line's event (counted) and the rest joins a new one", () => {
      const piece = (tag: string) => cri('stdout', tag, 'x'.repeat(100));
      const len = piece('P').length;
      const { events, ml } = run([piece('P'), piece('P'), piece('P'), piece('F')], { ...base, preset: 'cri', max_bytes: 2 * len + 1 });
      expect(events.map((e) => e.text.split('\n').length)).toEqual([2, 2]);
      expect(ml.overflows).toBe(1);
    });

    test('docker: messages without their \\n join the one that has it, per stream', () => {
      const d = (log: string, stream = 'stdout') => JSON.stringify({ log, stream, time: '2026-11-26T10:00:00.1Z' });
      const lines = [d('a'), d('b'), d('c\n'), d('whole\n', 'stderr'), d('ends with a backslash and n: \\n'), d('x\n'), d('p', 'stderr'), d('q\n')];
      const { events } = run(lines, { ...base, preset: 'docker' });
      expect(events.map((e) => e.text)).toEqual([lines.slice(0, 3).join('\n'), lines[3], lines.slice(4, 6).join('\n'), lines[6], lines[7]]);
    });

    test("the runtimes' line formats are read as they write them", () => {
      expect(criPiece(`${T} stdout F hello`)).toEqual({ stream: 'stdout', partial: false });
      expect(criPiece(`${T} stderr P:tag more`)).toEqual({ stream: 'stderr', partial: true });
      expect(criPiece(`${T} stdout F`)).toEqual({ stream: 'stdout', partial: false });
      for (const bad of ['', 'hello world', `${T} stdin F x`, `${T} stdout X x`, `${T} stdout Fx y`, `${T} stdout`]) expect(criPiece(bad)).toBeUndefined();
      expect(dockerPiece('{"log":"a\\n","stream":"stdout","time":"t"}')).toEqual({ stream: 'stdout', partial: false });
      expect(dockerPiece('{"log":"a\\\\n","stream":"stdout","time":"t"}')).toEqual({ stream: 'stdout', partial: true });
      expect(dockerPiece('{"log":"say \\",\\"stream\\":\\"stderr\\" x\\n","stream":"stdout","time":"t"}')).toEqual({ stream: 'stdout', partial: false });
      expect(dockerPiece('{"log":"","stream":"stderr","time":"t"}')).toEqual({ stream: 'stderr', partial: true });
      for (const bad of ['{"stream":"stdout","log":"a\\n"}', 'plain', '{"log":"a","stream":"other"}']) expect(dockerPiece(bad)).toBeUndefined();
    });

    test('patterns cannot be combined with a join preset', () => {
      expect(() => compileMultiline({ ...base, preset: 'cri', start_pattern: '^x' })).toThrow(/takes no start_pattern/);
      expect(() => compileMultiline({ ...base, preset: 'docker', negate: true })).toThrow(/takes no/);
    });

    const piece = fc.tuple(fc.constantFrom('stdout', 'stderr'), fc.constantFrom('P', 'F'), fc.constantFrom('', 'a', 'bb c')).map(([s, t, m]) => cri(s, t, m));

    test('property: lines that pass() on as bytes, as the tailer sends them, give the events push() alone gives', () => {
      const docker = fc
        .tuple(fc.constantFrom('stdout', 'stderr'), fc.constantFrom('x', 'y\n', '\\', ''))
        .map(([stream, log]) => JSON.stringify({ log, stream, time: '2026-11-26T10:00:00Z' }));
      for (const [preset, gen] of [['cri', piece], ['docker', docker]] as const) {
        fc.assert(
          fc.property(fc.array(fc.oneof(gen, fc.constant('other')), { maxLength: 40 }), (lines) => {
            const cfg = { ...base, preset, max_lines: 3 };
            const want = run(lines, cfg).events;
            const ml = new Multiline(compileMultiline(cfg));
            const got: Piece[] = [];
            let off = 0;
            let passed = 0;
            for (const text of lines) {
              const raw = Buffer.from(`${text}\n`);
              const l = { text, offset: off, next: off + raw.length, bytes: raw.length - 1 };
              if (ml.passes(raw, 0, l.bytes)) {
                got.push(l);
                passed++;
              } else ml.push(l, 0, got, raw.subarray(0, l.bytes));
              off = l.next;
            }
            expect(got).toEqual(want);
            // With no partial piece among them, every line passed as bytes, none became a string.
            const classify = preset === 'cri' ? criPiece : dockerPiece;
            if (lines.every((t) => classify(t)?.partial !== true)) expect(passed).toBe(lines.length);
          }),
          { numRuns: 300 },
        );
      }
    });

    test('property: joined events cover the lines contiguously, in order, and never join two streams', () => {
      fc.assert(
        fc.property(fc.array(fc.oneof(piece, fc.constant('not cri')), { maxLength: 60 }), fc.integer({ min: 1, max: 5 }), (lines, maxLines) => {
          let before: string[] | undefined;
          for (const parts of covering(lines, { ...base, preset: 'cri', max_lines: maxLines })) {
            const streams = new Set(parts.map((p) => criPiece(p)?.stream));
            expect(streams.size).toBe(1);
            // Only the last piece of an event may end a line; the ones before it are partial.
            for (const p of parts.slice(0, -1)) expect(criPiece(p)?.partial).toBe(true);
            // A line left unfinished while its stream went on was cut by max_lines, nothing else.
            const last = before === undefined ? undefined : criPiece(before[before.length - 1]!);
            if (last?.partial === true && criPiece(parts[0]!)?.stream === last.stream) expect(before!.length).toBe(maxLines);
            before = parts;
          }
        }),
        { numRuns: 300 },
      );
    });
  });
});
