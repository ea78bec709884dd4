import { kafkajsExports } from '../../core/kafkajs.js';

const { KafkaJSProtocolError } = kafkajsExports;

/**
 * What kafkajs throws for a broker's error code: its KafkaJSProtocolError constructor reads type,
 * code and retriable off the error it is given (the values kafkajs's own error table holds, or,
 * in a test, the opposite flag on purpose).
 */
export function brokerError(type: string, code: number, retriable: boolean, message = `The broker said ${type}`): Error {
  return new KafkaJSProtocolError(Object.assign(new Error(message), { type, code, retriable }));
}
