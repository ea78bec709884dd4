/**
 * `bus` source: consumes a topic of the in-process bus and emits its events downstream. The
 * handler resolves only when downstream sinks made the events durable, so the publisher's
 * promise (and its checkpoint) waits for the whole in-process chain.
 */
import { Type } from '@sinclair/typebox';
import { TidewatchError, isTidewatchError } from '../errors.js';
import type { Source, SourceFactory } from '../component.js';
import { decodeEvents } from '../codec.js';
import type { Subscription } from '../transport.js';

export const BusSourceSchema = Type.Object(
  {
    topic: Type.String({ description: 'Bus topic to consume, e.g. tidewatch.logs.', minLength: 1 }),
    group_id: Type.String({ default: 'tidewatch', description: 'Consumer group; members of one group share the messages.' }),
  },
  { additionalProperties: false },
);

export const busSource: SourceFactory<typeof BusSourceSchema> = {
  type: 'bus',
  role: 'source',
  description: 'Consumes a topic of the in-process bus (tidewatch up); embedded mode only.',
  schema: BusSourceSchema,
  create(config, ctx): Source {
    let sub: Subscription | undefined;
    return {
      async start() {
        const bus = ctx.bus;
        if (bus === undefined) throw new TidewatchError('TW_CONFIG_WIRING', `source ${ctx.name}: type bus needs the embedded mode (tidewatch up)`);
        sub = await bus.subscribe({ topics: [config.topic], groupId: config.group_id, fromBeginning: true }, async (batch) => {
          for (const msg of batch.messages) {
            let events;
            try {
              events = decodeEvents(msg);
            } catch (err) {
              // A message that cannot be decoded is counted and dropped; it must not block the topic.
              const code = isTidewatchError(err) ? err.code : 'TW_INTERNAL';
              ctx.telemetry.add('tidewatch_events_dropped_total', { component: ctx.name, reason: code });
              continue;
            }
            await ctx.emit(events);
          }
        });
      },
      async stop() {
        await sub?.close();
        sub = undefined;
      },
    };
  },
};
