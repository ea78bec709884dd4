/**
 * The mended read_committed filter (core/kafkajs-read-committed.ts), record by record, and the
 * rule that keeps it in force: kafkajs is imported through core/kafkajs.ts only. The real-broker
 * proof is test/kafka/read-committed.kafka.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { kafkajsExports } from '../../core/kafkajs.js';
import { dropAborted } from '../../core/kafkajs-read-committed.js';
import type { AbortedTransaction, FetchedRecord } from '../../core/kafkajs-read-committed.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const rec = (offset: number, producerId: string, inTransaction = true): FetchedRecord => ({ offset: String(offset), key: null, isControlRecord: false, batchContext: { producerId, inTransaction } });
const marker = (offset: number, producerId: string, type: 'abort' | 'commit'): FetchedRecord => ({
  offset: String(offset),
  key: Buffer.from([0, 0, 0, type === 'abort' ? 0 : 1]),
  isControlRecord: true,
  batchContext: { producerId, inTransaction: true },
});
const kept = (records: FetchedRecord[], aborted: AbortedTransaction[]): string[] =>
  dropAborted(records, aborted)
    .filter((r) => r.isControlRecord !== true)
    .map((r) => `${r.batchContext.producerId}@${r.offset}`);

describe('read_committed filter', () => {
  it('drops aborted transactions listed in abort order, not first-offset order (the broker lists them so)', () => {
    // Producer 1 began first, producer 2 aborted first; producer 3 committed in between.
    const records = [rec(0, '1'), rec(1, '2'), rec(2, '3'), rec(3, '1'), marker(4, '2', 'abort'), marker(5, '3', 'commit'), marker(6, '1', 'abort'), rec(7, '1')];
    const aborted = [
      { producerId: '2', firstOffset: '1' },
      { producerId: '1', firstOffset: '0' },
    ];
    expect(kept(records, aborted)).toEqual(['3@2', '1@7']);
  });

  it('registers every transaction already begun when a fetch starts inside several of them', () => {
    const records = [rec(10, '2'), rec(11, '1'), marker(12, '1', 'abort'), marker(13, '2', 'abort'), rec(14, '1')];
    expect(kept(records, [{ producerId: '1', firstOffset: '3' }, { producerId: '2', firstOffset: '5' }])).toEqual(['1@14']);
  });

  it('compares offsets as numbers across digit boundaries', () => {
    const records = [rec(9, '1'), rec(99, '2'), rec(100, '1'), marker(101, '1', 'abort'), marker(102, '2', 'abort')];
    expect(kept(records, [{ producerId: '1', firstOffset: '100' }, { producerId: '2', firstOffset: '99' }])).toEqual(['1@9']);
  });

  it('keeps records outside transactions, and a plain record whose key happens to be four zero bytes ends nothing', () => {
    const zeroKey: FetchedRecord = { ...rec(2, '1', false), key: Buffer.alloc(4) };
    const records = [rec(0, '1'), rec(1, '7', false), zeroKey, rec(3, '1'), marker(4, '1', 'abort'), rec(5, '1')];
    expect(kept(records, [{ producerId: '1', firstOffset: '0' }])).toEqual(['7@1', '1@2', '1@5']);
  });

  it('passes everything when no transaction was aborted', () => {
    const records = [rec(0, '1'), rec(1, '2')];
    expect(dropAborted(records, [])).toBe(records);
    expect(dropAborted(records, undefined)).toBe(records);
  });

  it("is the filter kafkajs's consumer uses", () => {
    expect(kafkajsExports.Kafka).toBeTypeOf('function');
    const require = createRequire(import.meta.url);
    const Batch = require('kafkajs/src/consumer/batch.js') as new (t: string, o: string, d: unknown) => { messages: FetchedRecord[] };
    // A fetch from offset 98 into two aborted transactions, listed in abort order, offsets across 99 | 100.
    const batch = new Batch('t', '98', { partition: 0, highWatermark: '104', abortedTransactions: [{ producerId: '5', firstOffset: '99' }, { producerId: '4', firstOffset: '97' }], messages: [rec(98, '4'), rec(99, '5'), rec(100, '4'), marker(101, '5', 'abort'), marker(102, '4', 'abort'), rec(103, '4', false)] });
    expect(batch.messages.map((m) => m.offset)).toEqual(['103']);
  });
});

describe('kafkajs is imported through core/kafkajs.ts only', () => {
  it("re-exports only names Node's own ES module loader finds in kafkajs (vitest's interop is laxer)", () => {
    const line = readFileSync(join(ROOT, 'core/kafkajs.ts'), 'utf8').match(/^export \{([^}]+)\} from 'kafkajs';$/m);
    expect(line).not.toBeNull();
    const script = `import { ${line![1]} } from 'kafkajs'; console.log('ok');`;
    expect(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' }).trim()).toBe('ok');
  });

  it('no TypeScript module imports kafkajs values directly (type-only imports are erased)', () => {
    const offenders: string[] = [];
    const walk = (dir: string): void => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else if (path.endsWith('.ts') && !path.endsWith('core/kafkajs.ts')) {
          for (const line of readFileSync(path, 'utf8').split('\n')) {
            if (/^\s*(import|export)\b(?!\s+type\b).*from\s+'kafkajs(\/[^']*)?'/.test(line)) offenders.push(`${relative(ROOT, path)}: ${line.trim()}`);
          }
        }
      }
    };
    for (const dir of ['core', 'agent', 'collector', 'dashboard', 'cli', 'test']) walk(join(ROOT, dir));
    expect(offenders).toEqual([]);
  });
});
