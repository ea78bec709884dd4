/**
 * The process's identity on every record it originates: `tidewatch.agent.id` (configured, or
 * generated once and kept under data_dir so restarts keep it) and `host.name`.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { TidewatchError } from './errors.js';

export interface Identity {
  agentId: string;
  hostName: string;
}

export async function resolveIdentity(dataDir: string, configured: { id?: string; host_name?: string }): Promise<Identity> {
  const hostName = configured.host_name ?? hostname();
  if (configured.id !== undefined) return { agentId: configured.id, hostName };
  const file = join(dataDir, 'agent-id');
  try {
    const id = (await readFile(file, 'utf8')).trim();
    if (/^[A-Za-z0-9_.-]{1,128}$/.test(id)) return { agentId: id, hostName };
  } catch {
    // first start: fall through and create one
  }
  const id = randomBytes(8).toString('hex');
  try {
    await mkdir(dataDir, { recursive: true });
    await writeFile(`${file}.tmp`, `${id}\n`);
    await rename(`${file}.tmp`, file);
  } catch (err) {
    // A full or read-only data_dir is the operator's to fix, not a bug (it was TW_INTERNAL;
    // found by test/chaos/resource-faults.test.ts, data_dir on a full filesystem).
    throw new TidewatchError('TW_STATE_WRITE', `cannot write the agent id in ${dataDir}: ${(err as Error).message}`, { dir: dataDir }, { cause: err });
  }
  return { agentId: id, hostName };
}
