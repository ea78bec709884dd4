/**
 * `bus` sink: publishes events onto a topic of the in-process bus (embedded mode). Resolves
 * when the bus's consumers took them, which is what makes embedded checkpoints honest.
 */
import { Type } from '@sinclair/typebox';
import { TidewatchError } from '../errors.js';
import type { Sink, SinkFactory } from '../component.js';
import { encodeEvents } from '../codec.js';
import { encodeLineBlock } from '../wire.js';

export const BusSinkSchema = Type.Object(
  {
    topic: Type.String({ description: 'Bus topic to publish to, e.g. tidewatch.logs.', minLength: 1 }),
  },
  { additionalProperties: false },
);

export const busSink: SinkFactory<typeof BusSinkSchema> = {
  type: 'bus',
  role: 'sink',
  description: 'Publishes to a topic of the in-process bus (tidewatch up); embedded mode only.',
  schema: BusSinkSchema,
  create(config, ctx): Sink {
    const bus = ctx.bus;
    return {
      async start() {
        if (bus === undefined) throw new TidewatchError('TW_CONFIG_WIRING', `sink ${ctx.name}: type bus needs the embedded mode (tidewatch up)`);
      },
      async write(events) {
        if (bus === undefined) throw new TidewatchError('TW_STOPPED', 'no bus');
        await bus.publish(config.topic, encodeEvents(events));
      },
      async writeLines(block) {
        // The same messages as encodeEvents(block.records()), from the lines' bytes.
        if (bus === undefined) throw new TidewatchError('TW_STOPPED', 'no bus');
        await bus.publish(config.topic, encodeLineBlock(block));
      },
      async stop() {},
    };
  },
};
