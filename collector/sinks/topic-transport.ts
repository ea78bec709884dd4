/**
 * Where a collector sink that publishes wire records (alerts, patterns) sends them: Kafka when
 * the sink names `brokers`, else the embedded bus of `tidewatch up`.
 */
import type { ComponentContext } from '../../core/component.js';
import { TidewatchError } from '../../core/errors.js';
import type { TopicSpec, Transport } from '../../core/transport.js';

export interface TopicTransport {
  readonly transport: Transport;
  /** Stops the transport when this sink opened it (Kafka); the shared bus is left alone. */
  close(): Promise<void>;
}

export async function openTopicTransport(
  brokers: readonly string[] | undefined,
  ctx: ComponentContext,
  topics: readonly Omit<TopicSpec, 'replicationFactor'>[],
): Promise<TopicTransport> {
  if (brokers === undefined) {
    const bus = ctx.bus;
    if (bus === undefined) throw new TidewatchError('TW_CONFIG_WIRING', `sink ${ctx.name}: needs brokers, or the embedded mode (tidewatch up)`);
    return { transport: bus, close: async () => undefined };
  }
  const { createKafkaTransport } = await import('../../core/transports/kafka.js');
  const transport = createKafkaTransport({ brokers: [...brokers], clientId: `tidewatch-${ctx.name}`, log: ctx.log, telemetry: ctx.telemetry });
  await transport.start();
  await transport.ensureTopics(topics.map((t) => ({ ...t, replicationFactor: Math.min(3, brokers.length) })));
  return { transport, close: () => transport.stop() };
}
