/**
 * The behaviour a Transport promises (core/transport.ts), as test suites over a factory, so the
 * Kafka transport and the in-process bus run the same checks: transportContract for every
 * transport, restartContract for those whose consumer groups outlive an instance. Each `make()`
 * returns a fresh, started transport; topics are created by the suite (with `partitions`).
 */
import { randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import type { ConsumedBatch, InMessage, OutMessage, Transport } from '../../../core/transport.js';

export interface ContractOptions {
  make(): Promise<Transport>;
  /**
   * A transport for the restarted consumer test, delivering small batches (so that "a third"
   * falls between batches); `make` when absent.
   */
  makeSmallBatches?(): Promise<Transport>;
  /** Partitions of the topics the suite creates. */
  partitions: number;
  /** Messages per test. */
  count: number;
  /** How long to wait for deliveries. */
  timeoutMs: number;
}

function topicName(): string {
  return `tw-contract-${randomBytes(5).toString('hex')}`;
}

async function until(cond: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function messages(count: number): OutMessage[] {
  return Array.from({ length: count }, (_, i) => ({
    key: `k${i % 11}`,
    value: Buffer.from(JSON.stringify({ i })),
    headers: { 'tw-wire': '1', 'tw-type': 'logs', seq: String(i) },
  }));
}

/** Per partition, offsets strictly increase; per key, the sequence numbers increase (publish order). */
function expectOrdered(got: InMessage[]): void {
  const lastOffset = new Map<number, bigint>();
  const lastSeq = new Map<string, number>();
  for (const m of got) {
    const off = BigInt(m.offset);
    const prev = lastOffset.get(m.partition);
    if (prev !== undefined) expect(off > prev, `partition ${m.partition} offset ${off} after ${prev}`).toBe(true);
    lastOffset.set(m.partition, off);
    const key = m.key?.toString() ?? '';
    const seq = Number(m.headers['seq']);
    const ps = lastSeq.get(key);
    if (ps !== undefined) expect(seq > ps, `key ${key}: seq ${seq} after ${ps}`).toBe(true);
    lastSeq.set(key, seq);
  }
}

/** Delivery and lifecycle: every transport (Kafka, the in-process bus). */
export function transportContract(o: ContractOptions): void {
  it('delivers what was published: values, keys and headers, in order per partition', async () => {
    const t = await o.make();
    try {
      const topic = topicName();
      await t.ensureTopics([{ name: topic, partitions: o.partitions, replicationFactor: 1 }]);
      const got: InMessage[] = [];
      const sub = await t.subscribe({ topics: [topic], groupId: `g-${topic}`, fromBeginning: true }, async (b: ConsumedBatch) => {
        expect(b.messages.every((m) => m.topic === b.topic && m.partition === b.partition)).toBe(true);
        got.push(...b.messages);
      });
      const sent = messages(o.count);
      for (let i = 0; i < sent.length; i += 50) await t.publish(topic, sent.slice(i, i + 50));
      await until(() => got.length >= o.count, `${o.count} messages`, o.timeoutMs);
      await sub.close();
      expect(got.map((m) => Number(m.headers['seq'])).sort((a, b) => a - b)).toEqual(sent.map((_, i) => i));
      const bySeq = new Map(got.map((m) => [Number(m.headers['seq']), m]));
      sent.forEach((s, i) => {
        const m = bySeq.get(i)!;
        expect(m.value.equals(s.value)).toBe(true);
        expect(m.key?.toString()).toBe(s.key);
        expect(m.headers).toEqual(s.headers);
        expect(m.topic).toBe(topic);
      });
      expectOrdered(got);
    } finally {
      await t.stop();
    }
  });

  it('stop is idempotent, and publish after stop is refused with TW_STOPPED', async () => {
    const t = await o.make();
    await t.stop();
    await t.stop();
    await expect(t.publish(topicName(), messages(1))).rejects.toMatchObject({ code: 'TW_STOPPED' });
  });
}

/**
 * Committed offsets outlive the consumer: for transports whose consumer groups persist beyond one
 * instance (Kafka). The in-process bus forgets a group with its last member, by design.
 */
export function restartContract(o: ContractOptions): void {
  it('counts in equal counts out across a consumer restart with committed offsets', async () => {
    const topic = topicName();
    const group = `g-${topic}`;
    const sent = messages(o.count);
    const producer = await o.make();
    await producer.ensureTopics([{ name: topic, partitions: o.partitions, replicationFactor: 1 }]);
    for (let i = 0; i < sent.length; i += 50) await producer.publish(topic, sent.slice(i, i + 50));
    await producer.stop();

    // First life: consume about a third, then close (which commits what was handled).
    const first: InMessage[] = [];
    const c1 = await (o.makeSmallBatches ?? o.make)();
    const sub1 = await c1.subscribe({ topics: [topic], groupId: group, fromBeginning: true }, async (b) => {
      first.push(...b.messages);
    });
    await until(() => first.length >= Math.ceil(o.count / 3), 'the first third', o.timeoutMs);
    await sub1.close();
    await c1.stop();
    const handledFirst = first.length;

    // Second life, same group: exactly the rest, each once.
    const second: InMessage[] = [];
    const c2 = await (o.makeSmallBatches ?? o.make)();
    const sub2 = await c2.subscribe({ topics: [topic], groupId: group, fromBeginning: true }, async (b) => {
      second.push(...b.messages);
    });
    await until(() => handledFirst + second.length >= o.count, 'the rest', o.timeoutMs);
    // Give a duplicate time to show up.
    await new Promise((r) => setTimeout(r, 500));
    await sub2.close();
    await c2.stop();

    expect(first.length).toBe(handledFirst);
    expect(first.length).toBeLessThan(o.count);
    const seqs = [...first, ...second].map((m) => Number(m.headers['seq'])).sort((a, b) => a - b);
    expect(seqs).toEqual(sent.map((_, i) => i));
    expectOrdered([...first, ...second]);
  });
}
