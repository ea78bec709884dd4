/**
 * The catalog stage's restore reader (txn/compacted-reader.ts) of the compacted pattern catalog
 * topic: the latest record of each pattern id, kept per observations partition. The catalog
 * stage writes the record of a key that arrived on observations partition p to catalog partition
 * p mod N, with the header `tw-catalog-source: p`, so a worker restores exactly the keys it
 * writes (several observations partitions may share one catalog partition).
 */
import type { Kafka } from 'kafkajs';
import { decodePattern } from '../../core/wire.js';
import type { PatternRecord } from '../../core/wire.js';
import { CompactedReader } from '../txn/compacted-reader.js';
import { headerText } from '../txn/consumer.js';

/** Header naming the observations partition whose writer wrote a catalog record. */
export const CATALOG_SOURCE_HEADER = 'tw-catalog-source';

export interface CatalogReaderOptions {
  kafka: Kafka;
  topic: string;
  groupPrefix: string;
  /** Catalog records held, in all (beyond it new keys are skipped and counted). */
  maxPatterns: number;
}

export function createCatalogReader(o: CatalogReaderOptions): CompactedReader<PatternRecord> {
  return new CompactedReader<PatternRecord>({
    kafka: o.kafka,
    topic: o.topic,
    groupPrefix: o.groupPrefix,
    groupSuffix: 'restore',
    what: 'catalog topic',
    maxRecords: o.maxPatterns,
    decode: decodePattern,
    keyOf: (r) => r.pattern_id,
    bucketOf: (_partition, m) => {
      const src = Number(headerText(m.headers?.[CATALOG_SOURCE_HEADER]));
      // Records of other writers (none but the catalog stage should write here) are not ours to restore.
      return Number.isSafeInteger(src) && src >= 0 ? src : undefined;
    },
  });
}
