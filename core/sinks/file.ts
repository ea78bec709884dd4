/**
 * `file` sink: appends one JSON object per record (see file-record.ts), in every role.
 * `write` resolves after the bytes reached the OS (and the disk, with `fsync: true`), so a
 * source upstream may advance its checkpoint: a killed process loses nothing it confirmed.
 * Writes are serialised; concurrent callers queue on one promise chain (bounded by the
 * callers' own in-flight limits, since each awaits its write).
 */
import { mkdir, open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Type } from '@sinclair/typebox';
import { TidewatchError } from '../errors.js';
import type { Sink, SinkFactory } from '../component.js';
import type { Event } from '../model.js';
import { toFileRecord } from './file-record.js';

export const FileSinkSchema = Type.Object(
  {
    path: Type.String({ minLength: 1, description: 'File to append to; parent directories are created.' }),
    fsync: Type.Boolean({
      default: false,
      description: 'fsync after every batch: survives power loss, at a large cost in throughput. Process crashes lose nothing either way.',
    }),
  },
  { additionalProperties: false },
);

export const fileSink: SinkFactory<typeof FileSinkSchema> = {
  type: 'file',
  role: 'sink',
  description: 'Appends records as JSON lines (one object per record, RFC 3339 times).',
  schema: FileSinkSchema,
  create(config, ctx): Sink {
    let fh: FileHandle | undefined;
    let chain: Promise<void> = Promise.resolve();
    let stopped = false;

    const append = async (events: Event[]): Promise<void> => {
      if (fh === undefined) throw new TidewatchError('TW_STOPPED', `file sink ${ctx.name} is not open`);
      let text = '';
      for (const e of events) text += `${JSON.stringify(toFileRecord(e))}\n`;
      try {
        await fh.write(text);
        if (config.fsync) await fh.datasync();
      } catch (err) {
        throw new TidewatchError('TW_SINK_WRITE', `file sink ${ctx.name}: cannot write ${config.path}: ${(err as Error).message}`, { path: config.path }, { cause: err });
      }
    };

    return {
      async start() {
        try {
          await mkdir(dirname(config.path), { recursive: true });
          fh = await open(config.path, 'a');
        } catch (err) {
          throw new TidewatchError('TW_SINK_WRITE', `file sink ${ctx.name}: cannot open ${config.path}: ${(err as Error).message}`, { path: config.path }, { cause: err });
        }
      },
      write(events) {
        if (stopped) return Promise.reject(new TidewatchError('TW_STOPPED', `file sink ${ctx.name} is stopped`));
        const p = chain.then(() => append(events));
        chain = p.catch(() => undefined);
        return p;
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        await chain;
        const h = fh;
        fh = undefined;
        if (h) {
          await h.datasync().catch(() => undefined);
          await h.close();
        }
      },
    };
  },
};
