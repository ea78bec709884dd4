/**
 * Which kafkajs errors the Kafka transport retries, without a broker. The real-broker proofs are
 * test/core/transports/kafka.kafka.test.ts and the chaos suite; these are the cases a broker does
 * not produce on demand: a topic just created that a broker does not know yet (it crashed the
 * collector's start on a fresh cluster), and the same error after kafkajs's own retries gave up.
 */
import { describe, expect, it } from 'vitest';
import { kafkajsExports } from '../../../core/kafkajs.js';
import { mapError, metadataRetriable } from '../../../core/transports/kafka.js';
import { brokerError } from '../../support/kafkajs-errors.js';

const { KafkaJSNumberOfRetriesExceeded, KafkaJSConnectionError } = kafkajsExports;
/** Kafka's error codes of the answers used here. */
const CODE: Record<string, number> = { UNKNOWN_TOPIC_OR_PARTITION: 3, LEADER_NOT_AVAILABLE: 5, INVALID_TOPIC_EXCEPTION: 17, TOPIC_AUTHORIZATION_FAILED: 29 };
const answer = (type: string, retriable: boolean): Error => brokerError(type, CODE[type]!, retriable);

describe('topic metadata asked again', () => {
  it('retries a topic or leader the broker does not know yet, however kafkajs marked it, and after its retries gave up', () => {
    for (const type of ['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE']) {
      expect(metadataRetriable(answer(type, true))).toBe(true);
      expect(metadataRetriable(answer(type, false))).toBe(true);
      expect(metadataRetriable(new KafkaJSNumberOfRetriesExceeded(answer(type, true), { retryCount: 5, retryTime: 1000 }))).toBe(true);
    }
    expect(metadataRetriable(new KafkaJSConnectionError('Connection error: ECONNREFUSED', { broker: '127.0.0.1:9092' }))).toBe(true);
  });

  it('does not wait out the retries on an answer no retry changes', () => {
    // Even if kafkajs called it retriable: an ACL refusal stays a refusal for 25 s of retries.
    expect(metadataRetriable(answer('TOPIC_AUTHORIZATION_FAILED', true))).toBe(false);
    expect(metadataRetriable(answer('INVALID_TOPIC_EXCEPTION', false))).toBe(false);
    expect(metadataRetriable(new Error('not a kafkajs error'))).toBe(false);
    expect(metadataRetriable(undefined)).toBe(false);
  });

  it('agrees with what the transport reports for the same errors', () => {
    expect(mapError(answer('LEADER_NOT_AVAILABLE', true), 'metadata').code).toBe('TW_TRANSPORT_UNAVAILABLE');
    expect(mapError(answer('TOPIC_AUTHORIZATION_FAILED', true), 'metadata').code).toBe('TW_TRANSPORT_REJECTED');
  });
});
