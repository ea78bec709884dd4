import { describe, expect, it } from 'vitest';
import { createBus } from '../../../core/transports/bus.js';
import type { ConsumedBatch } from '../../../core/transport.js';
import { MemoryTelemetry } from '../../../core/telemetry.js';
import { transportContract } from './transport-contract.js';

const msg = (s: string) => ({ value: Buffer.from(s) });

describe('in-process bus', () => {
  it('resolves publish only after every subscribed group handled the messages', async () => {
    const bus = createBus();
    await bus.start();
    const seen: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    await bus.subscribe({ topics: ['t'], groupId: 'slow', fromBeginning: false }, async (b) => {
      await gate;
      seen.push(...b.messages.map((m) => `slow:${m.value}`));
    });
    await bus.subscribe({ topics: ['t'], groupId: 'fast', fromBeginning: false }, async (b) => {
      seen.push(...b.messages.map((m) => `fast:${m.value}`));
    });
    let done = false;
    const p = bus.publish('t', [msg('a'), msg('b')]).then(() => (done = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(done).toBe(false);
    release();
    await p;
    expect(seen.sort()).toEqual(['fast:a', 'fast:b', 'slow:a', 'slow:b']);
    expect(bus.committedOffset('t', 'slow')).toBe(2n);
    await bus.stop();
  });

  it('shares messages among members of one group and keeps order per group', async () => {
    const bus = createBus();
    const got: ConsumedBatch[] = [];
    const h = async (b: ConsumedBatch) => void got.push(b);
    await bus.subscribe({ topics: ['t'], groupId: 'g', fromBeginning: false }, h);
    await bus.subscribe({ topics: ['t'], groupId: 'g', fromBeginning: false }, h);
    for (let i = 0; i < 10; i++) await bus.publish('t', [msg(String(i))]);
    expect(got.flatMap((b) => b.messages.map((m) => m.offset))).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  });

  it('rejects publish when a handler fails and does not advance that group', async () => {
    const bus = createBus();
    await bus.subscribe({ topics: ['t'], groupId: 'g', fromBeginning: false }, async () => {
      throw new Error('downstream failed');
    });
    await expect(bus.publish('t', [msg('x')])).rejects.toThrow('downstream failed');
    expect(bus.committedOffset('t', 'g')).toBe(0n);
  });

  it('keeps a bounded backlog for late fromBeginning subscribers and counts what it drops', async () => {
    const telemetry = new MemoryTelemetry();
    const bus = createBus({ retentionMessages: 3, telemetry });
    for (let i = 0; i < 5; i++) await bus.publish('t', [msg(String(i))]);
    expect(telemetry.value('tidewatch_bus_dropped_total', { topic: 't', reason: 'retention' })).toBe(2);
    const got: string[] = [];
    await bus.subscribe({ topics: ['t'], groupId: 'late', fromBeginning: true }, async (b) => void got.push(...b.messages.map((m) => m.value.toString())));
    await new Promise((r) => setTimeout(r, 10));
    expect(got).toEqual(['2', '3', '4']);
  });

  it('refuses publishes after stop', async () => {
    const bus = createBus();
    await bus.stop();
    await expect(bus.publish('t', [msg('x')])).rejects.toMatchObject({ code: 'TW_STOPPED' });
  });
});

// The bus passes the same contract tests as Kafka (restarts are Kafka-only: the bus forgets a
// group with its last member, as an in-process transport may).
transportContract({
  make: async () => {
    const b = createBus();
    await b.start();
    return b;
  },
  partitions: 1,
  count: 300,
  timeoutMs: 5000,
});

describe('bus retention by bytes', () => {
  it('bounds the late-subscriber backlog by bytes as well as by count', async () => {
    const telemetry = new MemoryTelemetry();
    const bus = createBus({ retentionMessages: 1000, retentionBytes: 10, telemetry });
    for (let i = 0; i < 5; i++) await bus.publish('t', [{ value: Buffer.from('abcd') }]);
    expect(telemetry.value('tidewatch_bus_dropped_total', { topic: 't', reason: 'retention' })).toBe(3);
    const got: string[] = [];
    await bus.subscribe({ topics: ['t'], groupId: 'late', fromBeginning: true }, async (b) => void got.push(...b.messages.map((m) => m.offset)));
    await new Promise((r) => setTimeout(r, 10));
    expect(got).toEqual(['3', '4']);
  });
});
