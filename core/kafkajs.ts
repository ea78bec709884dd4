/**
 * kafkajs, as tidewatch uses it. Every module takes kafkajs from here, never from 'kafkajs'
 * itself (type-only imports aside), because kafkajs 2.2.4's read_committed filter drops the
 * wrong records and the mend (core/kafkajs-read-committed.ts) must be in place before kafkajs
 * loads: ES modules evaluate their imports in order, so the mend comes first.
 */
import './kafkajs-read-committed.js';
import kafkajs from 'kafkajs';

export { CompressionTypes, Kafka, Partitioners, logLevel } from 'kafkajs';

/** kafkajs's CommonJS exports, for the names Node's ESM loader does not detect (CompressionCodecs, error classes). */
export const kafkajsExports = kafkajs;
