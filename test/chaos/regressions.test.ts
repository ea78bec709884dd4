/**
 * Regression tests, without processes or brokers, of product bugs the chaos and resource-fault
 * suites found (test/chaos/). Each names the bug; the suite that found it proves the behaviour
 * end to end.
 */
import { describe, expect, it } from 'vitest';
import { openFilesCap, openFilesLimit } from '../../agent/sources/file.js';
import { mapError } from '../../core/transports/kafka.js';
import { brokerError } from '../support/kafkajs-errors.js';

describe('kafka sink stuck on "out of order sequence number" after a broker kill -9', () => {
  it('maps the idempotent producer state errors to retriable, so the caller starts a fresh producer', () => {
    for (const type of ['OUT_OF_ORDER_SEQUENCE_NUMBER', 'UNKNOWN_PRODUCER_ID', 'INVALID_PRODUCER_EPOCH']) {
      // kafkajs marks these not retriable: a retry with the same producer id fails forever.
      const mapped = mapError(brokerError(type, 45, false), 'publish to t');
      expect(mapped.code).toBe('TW_TRANSPORT_UNAVAILABLE');
      expect(mapped.retriable).toBe(true);
    }
    const denied = mapError(brokerError('TOPIC_AUTHORIZATION_FAILED', 29, false), 'publish to t');
    expect(denied.retriable).toBe(false);
  });
});

describe('file source took every descriptor under a low RLIMIT_NOFILE (0 lines delivered)', () => {
  it('reads the soft limit from /proc/self/limits and keeps half of it for tailed files', () => {
    const limits = 'Limit                     Soft Limit           Hard Limit           Units\nMax open files            256                  4096                 files\n';
    expect(openFilesLimit(limits)).toBe(256);
    expect(openFilesLimit('Max open files            unlimited            unlimited            files\n')).toBeUndefined();
    expect(openFilesCap(1024, 256)).toBe(128);
    expect(openFilesCap(50, 256)).toBe(50); // a lower configured cap stands
    expect(openFilesCap(1024, 6)).toBe(4); // never below the schema's minimum
    expect(openFilesCap(1024, undefined)).toBe(1024);
    expect(openFilesLimit()).toBeGreaterThan(0); // this machine's own limit is readable
  });
});
