/**
 * kafkajs, as tidewatch uses it. Every module takes kafkajs from here, never from 'kafkajs'
 * itself (type-only imports aside), because two of kafkajs 2.2.4's bugs lose data and their
 * mends must be in place before kafkajs loads (ES modules evaluate their imports in order, so the
 * mends come first): its read_committed filter drops the wrong records
 * (core/kafkajs-read-committed.ts), and a produce retry skips partitions whose leader moved to
 * a broker that had already answered (core/kafkajs-produce.ts). Its produce encoding is made
 * cheaper here too, byte for byte the same (core/kafkajs-encoder.ts).
 */
import './kafkajs-read-committed.js';
import './kafkajs-produce.js';
import './kafkajs-encoder.js';
import kafkajs from 'kafkajs';

export { CompressionTypes, Kafka, Partitioners, logLevel } from 'kafkajs';

/** kafkajs's CommonJS exports, for the names Node's ESM loader does not detect (CompressionCodecs, error classes). */
export const kafkajsExports = kafkajs;
