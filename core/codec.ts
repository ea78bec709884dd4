/**
 * Events ⇄ transport messages. Sinks that publish (bus, kafka) and sources that consume use
 * these two functions, so the in-process bus and Kafka carry the same bytes.
 */
import { TidewatchError } from './errors.js';
import type { Event } from './model.js';
import type { InMessage, OutMessage } from './transport.js';

export const WIRE_HEADER = 'tw-wire';
export const TYPE_HEADER = 'tw-type';

/** Encodes a batch of events into messages (one message per batch for now). */
export function encodeEvents(events: Event[]): OutMessage[] {
  if (events.length === 0) return [];
  return [{ value: Buffer.from(JSON.stringify(events)), headers: { [WIRE_HEADER]: '1', [TYPE_HEADER]: 'events' } }];
}

/** Decodes one message; throws TidewatchError TW_WIRE_DECODE / TW_WIRE_VERSION, never anything else. */
export function decodeEvents(msg: InMessage): Event[] {
  const v = msg.headers[WIRE_HEADER];
  if (v !== '1') throw new TidewatchError('TW_WIRE_VERSION', `unsupported wire version ${v ?? '(none)'}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(msg.value.toString('utf8'));
  } catch {
    throw new TidewatchError('TW_WIRE_DECODE', 'message is not valid JSON');
  }
  if (!Array.isArray(parsed)) throw new TidewatchError('TW_WIRE_DECODE', 'expected an array of events');
  return parsed as Event[];
}
