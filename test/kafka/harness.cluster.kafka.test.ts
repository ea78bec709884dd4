/**
 * The kafka-cluster project's control endpoint does what failover tests rely on: pause (SIGSTOP)
 * makes a broker drop out of the cluster while its process lives on, resume brings it back.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { clusterControl, kafkaClient, clusterBrokers, waitFor } from './harness.js';

/** Process state letter from /proc (T = stopped). */
function procState(pid: number): string {
  return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] ?? '?';
}

describe('3-broker harness cluster control', () => {
  it('pause stops a broker (the cluster fences it), resume brings it back', async () => {
    const control = clusterControl();
    const brokers = await control.brokers();
    expect(brokers.map((b) => b.id)).toEqual([1, 2, 3]);
    expect(brokers.every((b) => b.running)).toBe(true);
    const target = brokers[2]!;
    // Ask only the other brokers: the paused one would not answer.
    const admin = kafkaClient({ brokers: clusterBrokers().filter((b) => !b.endsWith(`:${target.port}`)), config: { requestTimeout: 3000 } }).admin();
    await admin.connect();
    try {
      await control.pause(target.id);
      // SIGSTOP takes effect when the kernel next schedules the process's threads: poll briefly.
      await waitFor(() => (procState(target.pid) === 'T' ? true : undefined), 'the broker stopped', 5_000, 20);
      // broker.session.timeout.ms is 3 s: after it the controller fences the silent broker.
      await waitFor(async () => ((await admin.describeCluster()).brokers.some((b) => b.nodeId === target.id) ? undefined : true), 'the paused broker fenced', 30_000, 250);
      await control.resume(target.id);
      await waitFor(() => (procState(target.pid) !== 'T' ? true : undefined), 'the broker running again', 5_000, 20);
      await waitFor(async () => ((await admin.describeCluster()).brokers.some((b) => b.nodeId === target.id) ? true : undefined), 'the resumed broker back', 30_000, 250);
    } finally {
      await control.resume(target.id);
      await admin.disconnect();
    }
  });
});
