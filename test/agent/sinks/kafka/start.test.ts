/**
 * The agent starts while Kafka is away (DESIGN.md: never lose a line, keep reading): the `kafka`
 * sink's start waits a few seconds at most, lines written meanwhile land in the disk buffer, and
 * stop does not hang on the connect still retrying. No broker is needed: one address refuses
 * connections, the other accepts them and never answers (a hung broker). kafkajs's own retries of
 * a connect take 20 s and more, which the chaos suite saw as an agent that took that long to start.
 */
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { afterAll, describe, expect, it } from 'vitest';
import { KafkaSink, KafkaSinkSchema } from '../../../../agent/sinks/kafka.js';
import type { KafkaSinkConfig } from '../../../../agent/sinks/kafka.js';
import { DiskBuffer } from '../../../../agent/sinks/kafka/buffer.js';
import { lines } from '../../../collector/kafka-support.js';
import { FakeSourceContext } from '../../../support/fake-source-context.js';

const servers: Server[] = [];
const sockets: Socket[] = [];
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});

function listen(keep: boolean): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer((socket) => void sockets.push(socket));
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      if (keep) {
        servers.push(server);
        resolve(port);
      } else server.close(() => resolve(port));
    });
  });
}

describe('kafka sink start without Kafka', () => {
  for (const kind of ['refused', 'hung'] as const) {
    it(`starts within connection_timeout_ms + 2 s when the broker is ${kind}, buffers lines, and stops`, async () => {
      const port = await listen(kind === 'hung');
      const ctx = new FakeSourceContext({ name: 'k', dataDir: mkdtempSync(join(tmpdir(), 'tw-sink-start-')) });
      const sink = new KafkaSink(
        Value.Default(KafkaSinkSchema, { brokers: [`127.0.0.1:${port}`], connection_timeout_ms: 500, request_timeout_ms: 1000, buffer: { type: 'disk' } }) as KafkaSinkConfig,
        ctx,
      );
      const t0 = Date.now();
      await sink.start();
      const startMs = Date.now() - t0;
      expect(startMs).toBeLessThan(500 + 2000 + 1500);
      await sink.write(lines('agent-t', 's', 0, 0, 20));
      const t1 = Date.now();
      await sink.stop();
      expect(Date.now() - t1).toBeLessThan(5000);
      // The lines wait in the buffer for the next start (nothing could be sent).
      const buffer = new DiskBuffer({ dir: join(ctx.dataDir, 'sink', 'k', 'buffer'), maxBytes: 1 << 30, segmentBytes: 1 << 20, whenFull: 'block', onDrop: () => undefined, onCorrupt: () => undefined });
      await buffer.open();
      expect(buffer.pendingRecords).toBe(20);
      await buffer.close();
    }, 30_000);
  }
});
