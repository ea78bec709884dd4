/**
 * The file source's discovery (agent/sources/file/discovery.ts): which directories the globs
 * walk and watch, which paths they select, and what a scan lists, symbolic links included.
 */
import { mkdir, realpath, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { compileGlobs, scan } from '../../../../agent/sources/file/discovery.js';
import { tempDir } from '../file-helpers.js';

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups) await c();
  cleanups = [];
});

describe('file discovery', () => {
  test('roots and depth from the globs; a root inside a ** root is not walked twice', () => {
    const g = compileGlobs(['/var/log/app/*.log', '/var/log/**/*.err', '/var/log/nginx/access.log', '/srv/*/logs/*.log'], [], true);
    expect(g.roots).toEqual([
      { dir: '/var/log', depth: Infinity },
      { dir: '/srv', depth: 2 },
    ]);
  });

  test('selects by include, exclude and .gz', () => {
    const g = compileGlobs(['/var/log/app/*'], ['/var/log/app/debug*'], true);
    expect(['/var/log/app/a.log', '/var/log/app/debug.log', '/var/log/app/a.log.1.gz', '/var/log/other/a.log'].map((p) => g.match(p))).toEqual([true, false, false, false]);
    expect(compileGlobs(['/var/log/app/*'], [], false).match('/var/log/app/a.log.1.gz')).toBe(true);
  });

  test('covers: the directories a root walks, down to its depth, and no others', () => {
    const g = compileGlobs(['/var/log/containers/*.log', '/srv/*/logs/*.log'], [], true);
    expect(['/var/log/containers', '/var/log/pods/web/app', '/var/log', '/srv', '/srv/a', '/srv/a/logs', '/srv/a/logs/deeper', '/srvx', '/var/log/containers/..x'].map((d) => g.covers(d))).toEqual([
      true,
      false,
      false,
      true,
      true,
      true,
      false,
      false,
      false,
    ]);
    expect(compileGlobs(['/var/log/**/*.log'], [], true).covers('/var/log/a/b/c/d')).toBe(true);
  });

  test('scan lists selected files, links to files with their real path; links to directories and dangling links are not files', async () => {
    const t = await tempDir();
    cleanups.push(t.cleanup);
    const sel = join(t.dir, 'containers');
    const pod = join(t.dir, 'pods', 'web', 'app');
    await mkdir(sel, { recursive: true });
    await mkdir(pod, { recursive: true });
    await writeFile(join(sel, 'plain.log'), 'x\n');
    await writeFile(join(pod, '0.log'), 'y\n');
    await symlink(join(pod, '0.log'), join(sel, 'web.log'));
    await symlink(pod, join(sel, 'dir.log'));
    await symlink(join(pod, 'gone.log'), join(sel, 'dangling.log'));
    const res = await scan(compileGlobs([join(sel, '*.log')], [], true), 100);
    expect([...res.files.keys()].sort()).toEqual([join(sel, 'plain.log'), join(sel, 'web.log')]);
    expect(res.files.get(join(sel, 'web.log'))?.size).toBe(2);
    expect(Object.fromEntries(res.links)).toEqual({ [join(sel, 'web.log')]: await realpath(join(pod, '0.log')) });
    expect(res.dirs).toBe(1);
    expect(res.unreadable).toEqual([]);
  });

  test('scan names the roots it could not list, with the reason, and counts them', async () => {
    const t = await tempDir();
    cleanups.push(t.cleanup);
    await writeFile(join(t.dir, 'file'), 'not a directory\n');
    const res = await scan(compileGlobs([join(t.dir, 'missing', '*.log'), join(t.dir, 'file', '*.log')], [], true), 100);
    expect(res.unreadable).toEqual([
      { dir: join(t.dir, 'missing'), code: 'ENOENT' },
      { dir: join(t.dir, 'file'), code: 'ENOTDIR' },
    ]);
    expect(res.errors).toBe(2);
  });
});
