/**
 * read_committed, mended for kafkajs 2.2.4. A fetch response lists the partition's aborted
 * transactions (producer id, first offset); a reader must drop every transactional record of a
 * producer from that first offset up to the producer's ABORT marker. kafkajs's own filter takes
 * the list as sorted by first offset and registers at most one transaction per record, but the
 * broker lists them in the order they were aborted (its transaction index). With interleaved
 * transactions of several producers, as two collectors' per-partition transactional ids write,
 * a kafkajs reader then counted records of aborted transactions and dropped committed ones
 * (test/kafka/read-committed.kafka.test.ts shows it against a real broker, with kcat as the
 * reference). `dropAborted` does what the Java consumer does: all transactions whose first
 * offset has been reached, in first-offset order; a producer leaves the set at its ABORT marker.
 *
 * kafkajs's Batch takes its filter with `require` when it loads, so the mend has to be in
 * require's cache first: this module must be evaluated before kafkajs, which is why every module
 * imports kafkajs through core/kafkajs.ts (a unit test holds the tree to that). A Batch built
 * from a crafted fetch proves the mend took, or this module throws at load.
 */
import { createRequire } from 'node:module';
import { replaceKafkajsModule } from './kafkajs-mend.js';

/** The part of a kafkajs fetched record the filter reads. */
export interface FetchedRecord {
  offset: string;
  key: Buffer | null;
  isControlRecord?: boolean;
  batchContext: { producerId: string; inTransaction: boolean };
}

/** An entry of a fetch response's aborted-transactions list. */
export interface AbortedTransaction {
  producerId: string;
  firstOffset: string;
}

/** Offsets as kafkajs gives them: non-negative decimal strings without leading zeros. */
function compareOffsets(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

/** A control record's key is version (int16) then type (int16): 0 is ABORT, 1 is COMMIT. */
function isAbortMarker(r: FetchedRecord): boolean {
  return r.key !== null && r.key.length >= 4 && r.key.readInt16BE(2) === 0;
}

/**
 * The records of one fetched partition without those of aborted transactions. Control records
 * stay (kafkajs drops them next); records outside transactions always stay.
 */
export function dropAborted<T extends FetchedRecord>(records: T[], aborted: readonly AbortedTransaction[] | undefined): T[] {
  if (aborted === undefined || aborted.length === 0) return records;
  const starts = [...aborted].sort((a, b) => compareOffsets(a.firstOffset, b.firstOffset));
  const abortedProducers = new Set<string>();
  let next = 0;
  return records.filter((r) => {
    while (next < starts.length && compareOffsets(starts[next]!.firstOffset, r.offset) <= 0) abortedProducers.add(String(starts[next++]!.producerId));
    const producerId = String(r.batchContext.producerId);
    if (r.isControlRecord === true) {
      if (isAbortMarker(r)) abortedProducers.delete(producerId);
      return true;
    }
    return !(r.batchContext.inTransaction && abortedProducers.has(producerId));
  });
}

const require = createRequire(import.meta.url);
const batchPath = require.resolve('kafkajs/src/consumer/batch.js');
replaceKafkajsModule(
  'consumer/filterAbortedMessages.js',
  'consumer/batch.js',
  ({ messages, abortedTransactions }: { messages: FetchedRecord[]; abortedTransactions?: AbortedTransaction[] }) => dropAborted(messages, abortedTransactions),
  'its read_committed filter is not mended',
);

/** Producer 1's transaction began first and was aborted last: kafkajs 2.2.4 keeps its record 0. */
function mendTook(): boolean {
  const Batch = require(batchPath) as new (topic: string, fetchedOffset: string, data: unknown) => { messages: FetchedRecord[] };
  const record = (offset: string, producerId: string): FetchedRecord => ({ offset, key: null, isControlRecord: false, batchContext: { producerId, inTransaction: true } });
  const marker = (offset: string, producerId: string): FetchedRecord => ({ offset, key: Buffer.from([0, 0, 0, 0]), isControlRecord: true, batchContext: { producerId, inTransaction: true } });
  const batch = new Batch('probe', '0', {
    partition: 0,
    highWatermark: '5',
    abortedTransactions: [
      { producerId: '2', firstOffset: '1' },
      { producerId: '1', firstOffset: '0' },
    ],
    messages: [record('0', '1'), record('1', '2'), marker('2', '2'), marker('3', '1'), record('4', '1')],
  });
  return batch.messages.length === 1 && batch.messages[0]!.offset === '4';
}

if (!mendTook()) {
  throw new Error('kafkajs was loaded before core/kafkajs-read-committed.ts, so its read_committed filter is not mended: import kafkajs through core/kafkajs.ts only');
}
