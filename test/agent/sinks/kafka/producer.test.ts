import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { SinkProducer } from '../../../../agent/sinks/kafka/producer.js';
import { TidewatchError } from '../../../../core/errors.js';
import { CompressionTypes, kafkajsExports } from '../../../../core/kafkajs.js';
import { nativeLz4, registerKafkaCodecs } from '../../../../core/kafka-codecs.js';
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

  it('compresses LZ4 with lz4-napi off the main thread here (linux x64 has its prebuilt addon), in frames Kafka clients read', async () => {
    registerKafkaCodecs();
    expect(nativeLz4()).not.toBeNull();
    const lz4 = codec(CompressionTypes.LZ4);
    // 5 MiB of log lines: more than one block of the largest size Kafka's Java reader takes.
    const big = Buffer.concat(Array.from({ length: 40 }, () => batch)).subarray(0, 5 << 20);
    expect(big.length).toBe(5 << 20);
    for (const input of [batch, big, Buffer.alloc(0), batch.subarray(17, 4000)]) {
      const frame = await lz4.compress({ buffer: input });
      expect(frame.readUInt32LE(0)).toBe(0x184d2204);
      const flg = frame[4]!;
      expect(flg >> 6).toBe(1); // frame version 01
      expect(flg & 0x20).toBe(0x20); // independent blocks, as Kafka's Java producer writes them
      expect((frame[5]! >> 4) & 7).toBeGreaterThanOrEqual(4); // block size 64 KiB .. 4 MiB
      expect(lz4FrameDecompress(frame).equals(input)).toBe(true);
    }
    // The frame is lz4-napi's, not core/lz4.ts's (whose blocks are 64 KiB).
    expect((await lz4.compress({ buffer: big })).equals(lz4FrameCompress(big))).toBe(false);
  });

  it('compresses LZ4 with core/lz4.ts where lz4-napi does not load (an optional dependency)', async () => {
    // A process in which requiring lz4-napi fails, as on a platform without its prebuilt addon.
    const script = `
      const Module = require('node:module');
      const resolve = Module._resolveFilename;
      Module._resolveFilename = function (request, ...rest) {
        if (request === 'lz4-napi') throw Object.assign(new Error('no addon here'), { code: 'MODULE_NOT_FOUND' });
        return resolve.call(this, request, ...rest);
      };
      (async () => {
        const codecs = await import(${JSON.stringify(new URL('../../../../dist/core/kafka-codecs.js', import.meta.url).href)});
        const lz4 = await import(${JSON.stringify(new URL('../../../../dist/core/lz4.js', import.meta.url).href)});
        const { kafkajsExports, CompressionTypes } = await import(${JSON.stringify(new URL('../../../../dist/core/kafkajs.js', import.meta.url).href)});
        codecs.registerKafkaCodecs();
        const input = Buffer.from('GET /cart 200\\n'.repeat(5000));
        const frame = await kafkajsExports.CompressionCodecs[CompressionTypes.LZ4]().compress({ buffer: input });
        console.log(JSON.stringify({ native: codecs.nativeLz4() !== null, same: frame.equals(lz4.lz4FrameCompress(input)) }));
      })();`;
    const out = await promisify(execFile)(process.execPath, ['-e', script]);
    expect(JSON.parse(out.stdout)).toEqual({ native: false, same: true });
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
