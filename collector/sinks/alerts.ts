/**
 * `alerts` sink: publishes the alert state changes that `detect_anomalies` emits as `alerts`
 * wire records (core/wire.ts AlertRecord, key = alert id, so a compacted topic keeps each
 * alert's latest state) to the alerts topic: Kafka when `brokers` is set, else the embedded bus
 * of `tidewatch up`. The dashboard reads that topic for its Alerts page. Other events (the
 * judged inputs, notification events) are not alerts and are skipped, counted as ignored.
 * `write` resolves when the records are durable (Kafka acks=all; the bus's consumers took them).
 */
import { Type } from '@sinclair/typebox';
import type { Sink, SinkFactory } from '../../core/component.js';
import { TidewatchError } from '../../core/errors.js';
import { alertMessages } from '../alerts/alert.js';
import { openTopicTransport, type TopicTransport } from './topic-transport.js';

export const AlertsSinkSchema = Type.Object(
  {
    topic: Type.String({ minLength: 1, default: 'tidewatch.alerts', description: 'Topic the alert records go to (compacted on Kafka: the latest state per alert).' }),
    brokers: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'Kafka bootstrap brokers (host:port); absent: the embedded bus of tidewatch up.' }),
    ),
  },
  { additionalProperties: false },
);

export const alertsSink: SinkFactory<typeof AlertsSinkSchema> = {
  type: 'alerts',
  role: 'sink',
  description: 'Publishes alert state changes as alert records to the alerts topic (Kafka or the embedded bus).',
  schema: AlertsSinkSchema,
  create(config, ctx): Sink {
    let out: TopicTransport | undefined;
    return {
      async start() {
        out = await openTopicTransport(config.brokers, ctx, [{ name: config.topic, partitions: 1, configs: { 'cleanup.policy': 'compact' } }]);
      },
      async write(events) {
        if (out === undefined) throw new TidewatchError('TW_STOPPED', `alerts sink ${ctx.name} is not started`);
        const messages = alertMessages(events);
        const ignored = events.length - messages.length;
        if (ignored > 0) ctx.telemetry.add('tidewatch_alerts_sink_ignored_total', { component: ctx.name }, ignored);
        if (messages.length === 0) return;
        await out.transport.publish(config.topic, messages);
        ctx.telemetry.add('tidewatch_alerts_published_total', { component: ctx.name }, messages.length);
      },
      async stop() {
        const o = out;
        out = undefined;
        await o?.close();
      },
    };
  },
};
