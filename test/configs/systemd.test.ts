/**
 * The systemd units in configs/systemd/ keep their promises: hardening on, write access only to
 * the data_dir, a stop timeout longer than the program's own drain timeout (so the program, not
 * SIGKILL, decides how a slow stop ends), reload by SIGHUP where the program supports it.
 * (Checked by hand with `systemd-analyze verify`; CI machines need not have systemd.)
 */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';

const DIR = new URL('../../configs/systemd/', import.meta.url);

async function unit(name: string): Promise<Map<string, string[]>> {
  const keys = new Map<string, string[]>();
  for (const raw of (await readFile(new URL(name, DIR), 'utf8')).split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('[')) continue;
    const eq = line.indexOf('=');
    const k = line.slice(0, eq);
    keys.set(k, [...(keys.get(k) ?? []), line.slice(eq + 1)]);
  }
  return keys;
}
const one = (u: Map<string, string[]>, k: string): string | undefined => u.get(k)?.at(-1);

describe.each(['agent', 'collector', 'dashboard'])('configs/systemd/tidewatch-%s.service', (role) => {
  it('is hardened and writes only to its data_dir', async () => {
    const u = await unit(`tidewatch-${role}.service`);
    expect(one(u, 'DynamicUser')).toBe('yes');
    expect(one(u, 'ProtectSystem')).toBe('strict');
    expect(one(u, 'NoNewPrivileges')).toBe('yes');
    expect(one(u, 'PrivateTmp')).toBe('yes');
    expect(one(u, 'CapabilityBoundingSet')).toBe('');
    expect(one(u, 'ReadOnlyPaths')).toBe('/var/log');
    expect(one(u, 'Restart')).toBe('on-failure');
    expect(one(u, 'MemoryMax')).toMatch(/^\d+[MG]$/);
    // V8's JIT needs writable+executable memory: this option would crash Node.
    expect(u.has('MemoryDenyWriteExecute')).toBe(false);
    expect(one(u, 'StateDirectory')).toBe(`tidewatch/${role}`);
    expect(one(u, 'ReadWritePaths')).toBe(`/var/lib/tidewatch/${role}`);
    const exec = one(u, 'ExecStart')!;
    expect(exec).toMatch(new RegExp(`tidewatch ${role} --config /etc/tidewatch/${role}\\.yaml`));
    expect(one(u, 'ExecStartPre')).toBe(`/usr/bin/tidewatch validate --config /etc/tidewatch/${role}.yaml`);
  });

  it('gives SIGTERM more time than the program drains, and reloads by SIGHUP where supported', async () => {
    const u = await unit(`tidewatch-${role}.service`);
    const stopSec = Number(one(u, 'TimeoutStopSec'));
    expect(one(u, 'KillSignal')).toBe('SIGTERM');
    if (role === 'dashboard') {
      // `tidewatch dashboard` does not handle SIGHUP: a reload would end it.
      expect(u.has('ExecReload')).toBe(false);
      expect(stopSec).toBeGreaterThan(0);
      return;
    }
    expect(one(u, 'ExecReload')).toBe('/bin/kill -HUP $MAINPID');
    const drainMs = Number(/--stop-timeout-ms (\d+)/.exec(one(u, 'ExecStart')!)?.[1]);
    expect(drainMs).toBe(10_000);
    expect(stopSec * 1000).toBeGreaterThanOrEqual(drainMs + 3000);
  });
});
