/**
 * The in-process bus: the Transport of `tidewatch up`. Same contract as Kafka (core/transport.ts),
 * so every stage runs unchanged embedded or distributed.
 *
 * Durability: `publish` resolves once every consumer group subscribed to the topic has handled
 * the messages (its handler resolved). That is what lets the file source advance a checkpoint
 * only after the in-process stages took the lines. A topic nobody subscribes to yet keeps its
 * latest messages in a bounded retention ring (a late `fromBeginning` subscriber gets them);
 * what falls off the ring is counted as dropped with reason `retention`.
 *
 * One partition per topic: the bus runs in one process, so there is nothing to spread.
 */
import { TidewatchError } from '../errors.js';
import type { Telemetry } from '../telemetry.js';
import type {
  BatchHandler,
  InMessage,
  OutMessage,
  SubscribeOptions,
  Subscription,
  TopicSpec,
  Transport,
} from '../transport.js';

export interface BusOptions {
  /** Messages kept per topic for subscribers that join later with fromBeginning. */
  retentionMessages?: number;
  /** Bytes (of message values) kept per topic for late subscribers; whichever bound is hit first applies. */
  retentionBytes?: number;
  telemetry?: Telemetry;
  now?: () => number;
}

interface Group {
  readonly id: string;
  readonly handlers: BatchHandler[];
  next: number;
  /** Serialises deliveries so each group sees one batch at a time, in offset order. */
  tail: Promise<void>;
  /** Offset after the last message this group handled. */
  committed: bigint;
}

interface Topic {
  readonly name: string;
  nextOffset: bigint;
  readonly retained: InMessage[];
  retainedBytes: number;
  readonly groups: Map<string, Group>;
}

export class Bus implements Transport {
  private readonly topics = new Map<string, Topic>();
  private readonly retention: number;
  private readonly retentionBytes: number;
  private readonly now: () => number;
  private stopped = false;

  constructor(private readonly opts: BusOptions = {}) {
    this.retention = opts.retentionMessages ?? 10_000;
    this.retentionBytes = opts.retentionBytes ?? 16 * 1024 * 1024;
    this.now = opts.now ?? Date.now;
  }

  async start(): Promise<void> {
    this.stopped = false;
  }

  async ensureTopics(specs: TopicSpec[]): Promise<void> {
    for (const s of specs) this.topic(s.name);
  }

  async publish(topicName: string, messages: OutMessage[]): Promise<void> {
    if (this.stopped) throw new TidewatchError('TW_STOPPED', `bus is stopped; cannot publish to ${topicName}`);
    if (messages.length === 0) return;
    const topic = this.topic(topicName);
    const timestamp = this.now();
    const batch: InMessage[] = messages.map((m) => ({
      topic: topicName,
      partition: 0,
      offset: (topic.nextOffset++).toString(),
      key: m.key === undefined ? null : Buffer.isBuffer(m.key) ? m.key : Buffer.from(m.key),
      value: m.value,
      headers: m.headers ?? {},
      timestamp,
    }));
    this.retain(topic, batch);
    const deliveries = [...topic.groups.values()].map((g) => this.deliver(topic, g, batch));
    await Promise.all(deliveries);
  }

  async subscribe(opts: SubscribeOptions, handler: BatchHandler): Promise<Subscription> {
    const entries: { topic: Topic; group: Group }[] = [];
    for (const name of opts.topics) {
      const topic = this.topic(name);
      let group = topic.groups.get(opts.groupId);
      const isNew = group === undefined;
      if (group === undefined) {
        group = { id: opts.groupId, handlers: [], next: 0, tail: Promise.resolve(), committed: topic.nextOffset };
        topic.groups.set(opts.groupId, group);
      }
      group.handlers.push(handler);
      entries.push({ topic, group });
      if (isNew && opts.fromBeginning && topic.retained.length > 0) {
        group.committed = BigInt(topic.retained[0]!.offset);
        void this.deliver(topic, group, [...topic.retained]).catch(() => undefined);
      }
    }
    let closed = false;
    return {
      close: async () => {
        if (closed) return;
        closed = true;
        for (const { topic, group } of entries) {
          const i = group.handlers.indexOf(handler);
          if (i >= 0) group.handlers.splice(i, 1);
          await group.tail.catch(() => undefined);
          if (group.handlers.length === 0) topic.groups.delete(group.id);
        }
      },
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const tails = [...this.topics.values()].flatMap((t) => [...t.groups.values()].map((g) => g.tail.catch(() => undefined)));
    await Promise.all(tails);
  }

  /** Offset after the last message `groupId` handled on `topic` (for tests and lag telemetry). */
  committedOffset(topic: string, groupId: string): bigint | undefined {
    return this.topics.get(topic)?.groups.get(groupId)?.committed;
  }

  private topic(name: string): Topic {
    let t = this.topics.get(name);
    if (t === undefined) {
      t = { name, nextOffset: 0n, retained: [], retainedBytes: 0, groups: new Map() };
      this.topics.set(name, t);
    }
    return t;
  }

  private retain(topic: Topic, batch: InMessage[]): void {
    for (const m of batch) {
      topic.retained.push(m);
      topic.retainedBytes += m.value.length;
    }
    let dropped = 0;
    while (topic.retained.length > 0 && (topic.retained.length > this.retention || topic.retainedBytes > this.retentionBytes)) {
      topic.retainedBytes -= topic.retained.shift()!.value.length;
      dropped++;
    }
    if (dropped > 0 && topic.groups.size === 0) {
      this.opts.telemetry?.add('tidewatch_bus_dropped_total', { topic: topic.name, reason: 'retention' }, dropped);
    }
  }

  private deliver(topic: Topic, group: Group, batch: InMessage[]): Promise<void> {
    const run = async (): Promise<void> => {
      const handler = group.handlers[group.next++ % Math.max(group.handlers.length, 1)];
      if (handler === undefined) throw new TidewatchError('TW_STOPPED', `no consumer left in group ${group.id} on ${topic.name}`);
      await handler({ topic: topic.name, partition: 0, messages: batch });
      const last = batch[batch.length - 1];
      if (last !== undefined) group.committed = BigInt(last.offset) + 1n;
    };
    const p = group.tail.then(run, run);
    group.tail = p.catch(() => undefined);
    return p;
  }
}

export function createBus(opts: BusOptions = {}): Bus {
  return new Bus(opts);
}
