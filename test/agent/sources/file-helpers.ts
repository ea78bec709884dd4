/** Shared setup for the file source tests: temp dirs, a source built from YAML-shaped options. */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { fileSource, FileSourceSchema } from '../../../agent/sources/file.js';
import type { FileSourceConfig } from '../../../agent/sources/file.js';
import type { FileTailer } from '../../../agent/sources/file/tailer.js';
import { FakeSourceContext } from '../../support/fake-source-context.js';

export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'tw-file-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

export function configOf(opts: Record<string, unknown>): FileSourceConfig {
  const v = Value.Default(FileSourceSchema, structuredClone(opts)) as FileSourceConfig;
  if (!Value.Check(FileSourceSchema, v)) throw new Error(`bad test config: ${JSON.stringify([...Value.Errors(FileSourceSchema, v)][0])}`);
  return v;
}

export function makeSource(ctx: FakeSourceContext, opts: Record<string, unknown>): FileTailer {
  return fileSource.create(configOf(opts), ctx) as FileTailer;
}
