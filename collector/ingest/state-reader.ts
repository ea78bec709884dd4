/**
 * The ingest stage's restore reader (txn/compacted-reader.ts) of its compacted state topic:
 * StreamState records, the highest counted offset per stream generation, kept per state
 * partition. A worker that takes over input partition p restores state partition
 * p mod (state partitions), which is where it writes.
 */
import type { Kafka } from 'kafkajs';
import { decodeStreamState } from '../../core/wire.js';
import type { StreamState } from '../../core/wire.js';
import { CompactedReader } from '../txn/compacted-reader.js';
import { streamKey } from './core.js';

export interface StateReaderOptions {
  kafka: Kafka;
  topic: string;
  groupPrefix: string;
  maxStreams: number;
}

export function createStateReader(o: StateReaderOptions): CompactedReader<StreamState> {
  return new CompactedReader<StreamState>({
    kafka: o.kafka,
    topic: o.topic,
    groupPrefix: o.groupPrefix,
    groupSuffix: 'state',
    what: 'state topic',
    maxRecords: o.maxStreams,
    decode: decodeStreamState,
    keyOf: (s) => streamKey(s.agent_id, s.stream_id, s.generation),
    // Each state partition is its own bucket: its one writer is the owner of the input partitions mapped to it.
    bucketOf: (partition) => partition,
    // Offsets only grow within a generation; an older record (a replay of the topic) never wins.
    replaces: (prev, next) => next.offset > prev.offset,
  });
}
