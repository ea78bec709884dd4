/**
 * What the file source emits reaches the logs topic unchanged: its records, encoded by the Kafka
 * sink's encoder (core/codec.ts) and decoded as the collector decodes them, are the records it
 * emitted, identity included, and their bodies are the file's lines as a simple model frames them.
 * The line framer hands out byte ranges and the encoder writes bodies straight into the batch
 * (bench/kafka-e2e.mjs); this pins that the bytes on the wire stay what readers expect.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { mkdir, truncate, writeFile, appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeEvents, encodeEvents } from '../../../../core/codec.js';
import type { Event, LogRecord } from '../../../../core/model.js';
import { AttrKeys } from '../../../../core/model.js';
import { FakeSourceContext, until } from '../../../support/fake-source-context.js';
import { makeSource, tempDir } from '../file-helpers.js';

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

async function tail(opts: Record<string, unknown>, content: Buffer, want: number): Promise<{ ctx: FakeSourceContext; log: string }> {
  const t = await tempDir();
  cleanups.push(t.cleanup);
  await mkdir(join(t.dir, 'logs'));
  const log = join(t.dir, 'logs', 'app.log');
  await writeFile(log, content);
  const ctx = new FakeSourceContext({ dataDir: join(t.dir, 'data') });
  const src = makeSource(ctx, { include: [join(t.dir, 'logs', '*.log')], start_at: 'beginning', ...opts });
  cleanups.push(() => src.stop());
  await src.start();
  await until(() => ctx.confirmed.length >= want, 5000, `${want} records`);
  return { ctx, log };
}

/** The records as the collector reads them from the Kafka sink's messages (small messages: many per stream). */
function throughWire(records: Event[]): LogRecord[] {
  return encodeEvents(records, { maxBytes: 4096 }).flatMap((m) => decodeEvents({ headers: m.headers ?? {}, value: m.value })) as LogRecord[];
}

/** The model: lines split at \n, a \r before it dropped, cut to maxBytes, decoded as UTF-8 (U+FFFD for bad bytes). */
function modelLines(content: Buffer, maxBytes: number): { body: string; offset: number }[] {
  const out: { body: string; offset: number }[] = [];
  let start = 0;
  for (let nl = content.indexOf(0x0a); nl !== -1; nl = content.indexOf(0x0a, start)) {
    let end = nl > start && content[nl - 1] === 0x0d ? nl - 1 : nl;
    end = Math.min(end, start + maxBytes);
    out.push({ body: content.toString('utf8', start, end), offset: start });
    start = nl + 1;
  }
  return out;
}

/** Lines that need every kind of care on the way to JSON: quotes, escapes, control bytes, non-ASCII, bad UTF-8, CRLF, over-long. */
function trickyContent(n: number): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const kinds = [
      `plain ${i} GET /cart 200`,
      `{"msg":"quoted \\"${i}\\"","path":"C:\\\\logs"}`,
      `tab\there ${i}\u0001\u001f\u007f`,
      `ünïcödé ${i} 日本 😀 €`,
      `${'long '.repeat(30)}${i}`,
      '',
    ];
    parts.push(Buffer.from(kinds[i % kinds.length]!));
    if (i % 7 === 3) parts.push(Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80]));
    parts.push(Buffer.from(i % 5 === 0 ? '\r\n' : '\n'));
  }
  return Buffer.concat(parts);
}

describe('file source → wire → collector', () => {
  test('decoded records are the emitted ones, identity and all, and their bodies are the file\'s lines (truncation, CRLF, bad UTF-8)', async () => {
    const content = trickyContent(600);
    const maxLineBytes = 64;
    const want = modelLines(content, maxLineBytes);
    const { ctx, log } = await tail({ max_line_bytes: maxLineBytes }, content, want.length);
    const decoded = throughWire(ctx.confirmed);
    expect(decoded).toEqual(ctx.confirmed);
    expect(decoded.map((r) => ({ body: r.body, offset: r.attributes[AttrKeys.offset] }))).toEqual(want);
    const sid = decoded[0]!.attributes[AttrKeys.streamId];
    expect(typeof sid).toBe('string');
    expect(decoded.every((r) => r.attributes[AttrKeys.streamId] === sid && r.attributes[AttrKeys.generation] === 0 && r.attributes[AttrKeys.filePath] === log)).toBe(true);
  });

  test('a truncated file\'s next generation decodes as emitted', async () => {
    const { ctx, log } = await tail({}, Buffer.from('one "x"\ntwo \\ y\n'), 2);
    await truncate(log, 0);
    await appendFile(log, 'again\tafter truncation\nlast\n');
    await until(() => ctx.confirmed.length >= 4, 5000, 'second generation');
    const decoded = throughWire(ctx.confirmed);
    expect(decoded).toEqual(ctx.confirmed);
    expect(decoded.map((r) => [r.body, r.attributes[AttrKeys.generation], r.attributes[AttrKeys.offset]])).toEqual([
      ['one "x"', 0, 0],
      ['two \\ y', 0, 8],
      ['again\tafter truncation', 1, 0],
      ['last', 1, 23],
    ]);
  });

  test('multiline events decode as emitted', async () => {
    const content = Buffer.from('ERROR boom "x"\njava.lang.RuntimeException: \\ bad\n\tat a.B.c(B.java:1)\nINFO next\n');
    const { ctx } = await tail({ multiline: { preset: 'java', timeout_ms: 200 } }, content, 2);
    const decoded = throughWire(ctx.confirmed);
    expect(decoded).toEqual(ctx.confirmed);
    expect(decoded.map((r) => [r.body, r.attributes[AttrKeys.offset]])).toEqual([
      ['ERROR boom "x"\njava.lang.RuntimeException: \\ bad\n\tat a.B.c(B.java:1)', 0],
      ['INFO next', 69],
    ]);
  });
});
