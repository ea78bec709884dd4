/**
 * Helpers of the Kafka ingest tests: build file-like log records with line identity, and read
 * the rollups topic back as a read_committed consumer, merging partials as the rules stage does.
 */
import { randomUUID } from 'node:crypto';
import type { Consumer, Kafka } from 'kafkajs';
import type { LogRecord } from '../../core/model.js';
import { decodeRollup } from '../../core/wire.js';
import { PartialMerger } from '../../collector/ingest/merge.js';

/** `n` lines of one stream generation, offsets `from`, `from + 10`, ... (10-byte lines). */
export function lines(agent: string, stream: string, gen: number, from: number, n: number, now = Date.now()): LogRecord[] {
  const out: LogRecord[] = [];
  for (let i = 0; i < n; i++) {
    const offset = from + i * 10;
    out.push({
      kind: 'log',
      observed_time: now,
      severity_number: 9,
      severity_text: '',
      body: `line ${stream} ${offset}`,
      attributes: { 'log.file.path': `/var/log/${stream}.log`, 'tidewatch.stream_id': stream, 'tidewatch.generation': gen, 'tidewatch.offset': offset },
      resource: { 'tidewatch.agent.id': agent, 'host.name': 'h' },
    });
  }
  return out;
}

export interface RollupWatcher {
  merger: PartialMerger;
  /** Sum of merged log.records counts over every window. */
  total(): number;
  stop(): Promise<void>;
}

/** Reads `topic` from the beginning with read_committed into a merger. */
export async function watchRollups(kafka: Kafka, topic: string): Promise<RollupWatcher> {
  const merger = new PartialMerger(1_000_000);
  const consumer: Consumer = kafka.consumer({ groupId: `watch-${randomUUID()}`, readUncommitted: false, sessionTimeout: 10_000, heartbeatInterval: 1000 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ message }) => {
      if (message.value !== null) merger.add(decodeRollup(message.value));
    },
  });
  return {
    merger,
    total() {
      let n = 0;
      for (const w of merger.windows()) if (w.name === 'log.records') n += w.count;
      return n;
    },
    stop: () => consumer.disconnect(),
  };
}
