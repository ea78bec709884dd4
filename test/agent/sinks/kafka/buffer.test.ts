import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DiskBuffer } from '../../../../agent/sinks/kafka/buffer.js';
import type { DiskBufferOptions } from '../../../../agent/sinks/kafka/buffer.js';

function make(dir: string, over: Partial<DiskBufferOptions> = {}): { buf: DiskBuffer; dropped: number[]; corrupt: number[] } {
  const dropped: number[] = [];
  const corrupt: number[] = [];
  const buf = new DiskBuffer({ dir, maxBytes: 1 << 20, segmentBytes: 4096, whenFull: 'block', onDrop: (n) => dropped.push(n), onCorrupt: (b) => corrupt.push(b), ...over });
  return { buf, dropped, corrupt };
}

const msg = (i: number) => ({ key: `k${i % 3}`, value: Buffer.from(`value-${i}-${'x'.repeat(200)}`), headers: { 'tw-wire': '1', 'tw-type': 'logs' } });

async function drain(buf: DiskBuffer): Promise<string[]> {
  const out: string[] = [];
  for (;;) {
    const groups = await buf.peek(10_000);
    if (groups.length === 0) return out;
    for (const g of groups) for (const m of g.messages) out.push(m.value.toString().split('-').slice(0, 2).join('-'));
    await buf.ack(groups.length);
  }
}

describe('kafka sink disk buffer', () => {
  it('drains in append order across segments and a restart, without what was acknowledged', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tw-buf-'));
    const a = make(dir).buf;
    await a.open();
    for (let i = 0; i < 50; i++) await a.append('t', [msg(i)], 1);
    expect(a.pendingRecords).toBe(50);
    const first = await a.peek(1000);
    await a.ack(first.length);
    const acked = first.length;
    await a.close();
    expect(readdirSync(dir).filter((f) => f.endsWith('.log')).length).toBeGreaterThan(2);

    const b = make(dir).buf;
    await b.open();
    expect(b.pendingRecords).toBe(50 - acked);
    await b.append('t', [msg(50)], 1);
    const got = await drain(b);
    expect(got).toEqual(Array.from({ length: 51 - acked }, (_, i) => `value-${i + acked}`));
    expect(b.pendingRecords).toBe(0);
    await b.close();
    // Drained segments are deleted.
    expect(readdirSync(dir).filter((f) => f.endsWith('.log')).length).toBeLessThanOrEqual(2);
  });

  it('detects a corrupted record by its checksum, counts it and goes on with the next', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tw-buf-'));
    const a = make(dir, { segmentBytes: 1 << 20 }).buf;
    await a.open();
    for (let i = 0; i < 5; i++) await a.append('t', [msg(i)], 1);
    await a.close();
    const seg = readdirSync(dir).filter((f) => f.endsWith('.log')).sort()[0]!;
    const bytes = readFileSync(join(dir, seg));
    // Flip a byte inside the second record's payload.
    const recLen = bytes.length / 5;
    bytes[recLen + 40] = bytes[recLen + 40]! ^ 0xff;
    writeFileSync(join(dir, seg), bytes);
    const b = make(dir, { segmentBytes: 1 << 20 });
    await b.buf.open();
    expect(await drain(b.buf)).toEqual(['value-0', 'value-2', 'value-3', 'value-4']);
    expect(b.corrupt.reduce((x, y) => x + y, 0)).toBe(recLen);
    await b.buf.close();
  });

  it('survives a torn tail (a crash mid-write)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tw-buf-'));
    const a = make(dir, { segmentBytes: 1 << 20 }).buf;
    await a.open();
    for (let i = 0; i < 3; i++) await a.append('t', [msg(i)], 1);
    await a.close();
    const seg = readdirSync(dir).filter((f) => f.endsWith('.log')).sort()[0]!;
    const bytes = readFileSync(join(dir, seg));
    writeFileSync(join(dir, seg), bytes.subarray(0, bytes.length - 30));
    const b = make(dir, { segmentBytes: 1 << 20 });
    await b.buf.open();
    expect(await drain(b.buf)).toEqual(['value-0', 'value-1']);
    expect(b.corrupt.length).toBe(1);
    await b.buf.append('t', [msg(9)], 1);
    expect(await drain(b.buf)).toEqual(['value-9']);
    await b.buf.close();
  });

  it('drop_oldest keeps it under max_bytes and counts what it dropped; block waits for room', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tw-buf-'));
    const d = make(dir, { maxBytes: 8192, segmentBytes: 2048, whenFull: 'drop_oldest' });
    await d.buf.open();
    for (let i = 0; i < 100; i++) await d.buf.append('t', [msg(i)], 1);
    const kept = await drain(d.buf);
    const droppedCount = d.dropped.reduce((x, y) => x + y, 0);
    expect(droppedCount + kept.length).toBe(100);
    expect(droppedCount).toBeGreaterThan(0);
    expect(kept[kept.length - 1]).toBe('value-99');
    await d.buf.close();

    const dir2 = mkdtempSync(join(tmpdir(), 'tw-buf-'));
    const blk = make(dir2, { maxBytes: 4096, segmentBytes: 1024 }).buf;
    await blk.open();
    let appended = 0;
    const filling = (async () => {
      for (let i = 0; i < 40; i++) {
        await blk.append('t', [msg(i)], 1);
        appended++;
      }
    })();
    await new Promise((r) => setTimeout(r, 100));
    expect(appended).toBeLessThan(40);
    const got: string[] = [];
    while (got.length < 40) {
      const g = await blk.peek(600);
      for (const x of g) for (const m of x.messages) got.push(m.value.toString().split('-').slice(0, 2).join('-'));
      await blk.ack(g.length);
      await new Promise((r) => setTimeout(r, 5));
    }
    await filling;
    expect(got).toEqual(Array.from({ length: 40 }, (_, i) => `value-${i}`));
    await blk.close();
  });
});
