import { createServer } from 'node:net';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { SinkProducer } from '../../../../agent/sinks/kafka/producer.js';
import { TidewatchError } from '../../../../core/errors.js';
import { CompressionTypes, kafkajsExports } from '../../../../core/kafkajs.js';
import { registerKafkaCodecs } from '../../../../core/kafka-codecs.js';
import { lz4FrameCompress, lz4FrameDecompress } from '../../../../core/lz4.js';

const { CompressionCodecs } = kafkajsExports;

interface Codec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}
const codec = (t: CompressionTypes): Codec => (CompressionCodecs as unknown as Record<number, () => Codec>)[t]!();

const batch = Buffer.from(Array.from({ length: 3000 }, (_, i) => `{"offset":${i * 90},"observed_time":1764064800000,"body":"GET /cart 200 ${i}"}`).join(','));

describe('kafka sink codecs', () => {
  it('gives kafkajs an LZ4 codec (it has none) and a level-1 gzip that any gzip reader reads', async () => {
    registerKafkaCodecs();
    const lz4 = codec(CompressionTypes.LZ4);
    const frame = await lz4.compress({ buffer: batch });
    expect(frame.readUInt32LE(0)).toBe(0x184d2204); // a standard LZ4 frame, as Kafka's lz4 codec carries
    expect(lz4FrameDecompress(frame).equals(batch)).toBe(true);
    expect((await lz4.decompress(lz4FrameCompress(batch))).equals(batch)).toBe(true);

    const gzip = codec(CompressionTypes.GZIP);
    const gz = await gzip.compress({ buffer: batch });
    expect(gunzipSync(gz).equals(batch)).toBe(true);
    expect(gz.length).toBe(gzipSync(batch, { level: 1 }).length);
    expect((await gzip.decompress(gzipSync(batch, { level: 9 }))).equals(batch)).toBe(true);
  });

  it('rejects a send with TW_TRANSPORT_UNAVAILABLE while no broker answers, and TW_STOPPED once stopped', async () => {
    // A port that accepts nothing: listen, note the port, close.
    const port = await new Promise<number>((resolve) => {
      const srv = createServer();
      srv.listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    const p = new SinkProducer({ client: { brokers: [`127.0.0.1:${port}`], connectionTimeoutMs: 200, retry: { retries: 1, initialRetryTimeMs: 50, maxRetryTimeMs: 50 } }, compression: 'lz4', ackTimeoutMs: 1000 });
    const err = await p.send([{ topic: 't', messages: [{ key: 'a/s', value: batch }] }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TidewatchError);
    expect((err as TidewatchError).code).toBe('TW_TRANSPORT_UNAVAILABLE');
    expect((err as TidewatchError).retriable).toBe(true);
    await p.stop();
    const stopped = await p.send([{ topic: 't', messages: [{ value: batch }] }]).catch((e: unknown) => e);
    expect((stopped as TidewatchError).code).toBe('TW_STOPPED');
  });
});
