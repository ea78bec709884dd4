/**
 * Discovery for the `file` source: which paths the include/exclude globs select, a directory walk
 * that lists them (the periodic rescan, the source of truth), and a chokidar watcher on the
 * directories only, whose events are hints that say "look at this path soon".
 *
 * Why directories only: an inotify watch on a directory already reports writes to the files in
 * it, so the watch count is the number of directories, not files (10,000 idle files cost a few
 * watches, not 10,000). chokidar's `atomic` coalescing is off: it would report a quick
 * rename-and-recreate as a mere change.
 */
import { readdir, realpath, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import picomatch from 'picomatch';
import type { FSWatcher } from 'chokidar';

export interface GlobSet {
  /** Directories to walk and watch, with how deep below them a match can be (Infinity for `**`). */
  readonly roots: readonly { dir: string; depth: number }[];
  /** true when `path` (absolute) is selected. */
  match(path: string): boolean;
  /** true when directory `dir` (absolute) is walked and watched as part of a root. */
  covers(dir: string): boolean;
}

export function compileGlobs(include: readonly string[], exclude: readonly string[], excludeGz: boolean): GlobSet {
  const inc = include.map((p) => resolve(p));
  const exc = exclude.map((p) => resolve(p));
  const isInc = picomatch(inc, { dot: true });
  const isExc = exc.length > 0 ? picomatch(exc, { dot: true }) : () => false;
  const roots = new Map<string, number>();
  for (const p of inc) {
    const s = picomatch.scan(p);
    const dir = s.isGlob ? s.base || sep : dirname(p);
    const depth = !s.isGlob ? 0 : s.glob.includes('**') ? Infinity : s.glob.split('/').length - 1;
    roots.set(dir, Math.max(roots.get(dir) ?? 0, depth));
  }
  // A root inside another root that already covers it would be walked twice.
  const list = [...roots].map(([dir, depth]) => ({ dir, depth }));
  const kept = list.filter(
    (r) => !list.some((o) => o !== r && o.depth === Infinity && (r.dir + sep).startsWith(o.dir === sep ? sep : o.dir + sep)),
  );
  return {
    roots: kept,
    match: (path) => isInc(path) && !isExc(path) && !(excludeGz && path.endsWith('.gz')),
    covers: (dir) =>
      kept.some((r) => {
        const rel = relative(r.dir, dir);
        return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel) && rel.split(sep).length <= r.depth);
      }),
  };
}

export interface ScanResult {
  files: Map<string, Stats>;
  /**
   * Selected paths that are symbolic links, to the real path of their file. A write behind a
   * link happens in the target's directory, which the roots' watch may not cover (Kubernetes:
   * /var/log/containers/*.log link to /var/log/pods/...): the caller watches those too.
   */
  links: Map<string, string>;
  /** Directories walked (what a watcher of the same roots would watch). */
  dirs: number;
  errors: number;
  /**
   * Directories that could not be listed, and why (the first few): a root not there yet, no
   * permission. A directory below a root that vanished during the walk is counted, not named.
   */
  unreadable: { dir: string; code: string }[];
}

/** How many unreadable directories a scan names (all are counted in `errors`). */
const UNREADABLE_NAMED = 10;

/** Lists every selected regular file with its stat. Unreadable directories are counted, not fatal. */
export async function scan(globs: GlobSet, maxDirs: number): Promise<ScanResult> {
  const files = new Map<string, Stats>();
  const links = new Map<string, string>();
  let dirs = 0;
  let errors = 0;
  const unreadable: { dir: string; code: string }[] = [];
  const walk = async (dir: string, depth: number, root = false): Promise<void> => {
    if (dirs >= maxDirs) return;
    dirs++;
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      errors++;
      const code = String((err as NodeJS.ErrnoException).code ?? 'EIO');
      if (unreadable.length < UNREADABLE_NAMED && (root || code !== 'ENOENT')) unreadable.push({ dir, code });
      return;
    }
    for (const e of entries) {
      const full = join(dir, e.name);
      if (e.isDirectory()) {
        if (depth > 0) await walk(full, depth - 1);
      } else if ((e.isFile() || e.isSymbolicLink()) && globs.match(full)) {
        try {
          const st = await stat(full);
          if (!st.isFile()) continue;
          files.set(full, st);
          if (e.isSymbolicLink()) links.set(full, await realpath(full));
        } catch {
          // gone between readdir and stat: the next event or scan sees the new state
        }
      }
    }
  };
  for (const r of globs.roots) await walk(r.dir, r.depth, true);
  return { files, links, dirs, errors, unreadable };
}

export type Hint = (path: string, kind: 'change' | 'rename' | 'dir') => void;

/** Watches the roots' directories; every event becomes a hint. Returns the watcher to close. */
export async function watchRoots(globs: GlobSet, hint: Hint, onError: (err: Error) => void): Promise<FSWatcher> {
  const { watch } = await import('chokidar');
  const roots = globs.roots;
  const depth = Math.max(...roots.map((r) => r.depth));
  const w = watch(
    roots.map((r) => r.dir),
    {
      ignoreInitial: true,
      atomic: false,
      // A tailing agent runs as long as it watches files: the watch holds the event loop open
      // (stop() closes it).
      persistent: true,
      followSymlinks: false,
      ...(Number.isFinite(depth) ? { depth } : {}),
      // Files are not watched one by one: their directory's watch reports their changes (raw).
      ignored: (_p: string, st?: Stats) => st?.isFile() === true,
    },
  );
  w.on('raw', (event: string, evPath: string, details: unknown) => {
    const watched = (details as { watchedPath?: string } | undefined)?.watchedPath;
    if (watched === undefined || !evPath) return;
    const full = evPath.startsWith(sep) ? evPath : join(watched, evPath);
    hint(full, event === 'change' ? 'change' : 'rename');
  });
  w.on('addDir', (p: string) => hint(p, 'dir'));
  w.on('unlinkDir', (p: string) => hint(p, 'dir'));
  w.on('error', (err: unknown) => onError(err instanceof Error ? err : new Error(String(err))));
  await new Promise<void>((res) => w.once('ready', () => res()));
  return w;
}
