#!/usr/bin/env node
// Second step of the build, after tsc: TypeBox and yaml, as dist/ imports them, become a few
// ES modules of dist/vendor/ (bundled by rolldown), and dist/'s imports of them point there.
//
// Why: Node loads an ES module package file by file, and @sinclair/typebox is about 250 files:
// importing it took 90-115 ms of every process start, yaml 20-35 ms; bundled, 10-15 ms and a few
// (bench/RESULTS.md, issue 5). The code is the packages' own, unchanged; one bundle with shared
// chunks keeps one copy of TypeBox's registries for all of its entry points.
//
// dist/ works without this step (plain `tsc` output imports the packages by name), only slower
// to start. Run by `npm run build` and by the `prepare` script (scripts/prepare.mjs).
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Bare specifiers dist/ imports → the dist/vendor/ module that replaces each. */
const ENTRIES = {
  '@sinclair/typebox': 'typebox',
  '@sinclair/typebox/value': 'typebox-value',
  '@sinclair/typebox/compiler': 'typebox-compiler',
  '@sinclair/typebox/errors': 'typebox-errors',
  yaml: 'yaml',
};
/** Packages that Node loads as CommonJS (yaml's "node" export): no static export list. */
const COMMONJS = new Set(['yaml']);

const SPEC = /(\bfrom\s*|\bimport\s*\(\s*)(['"])(@sinclair\/typebox(?:\/(?:value|compiler|errors))?|yaml)\2/g;

/**
 * The entry module of one package path: its exports, re-exported. A CommonJS package (yaml, as
 * Node resolves it) has no static export list, so its names are read from the package itself.
 */
function entryCode(root, spec) {
  if (!COMMONJS.has(spec)) return `export * from ${JSON.stringify(spec)};\n`;
  const require = createRequire(join(root, 'package.json'));
  const names = Object.keys(require(spec)).filter((n) => /^[A-Za-z_$][\w$]*$/.test(n) && n !== 'default');
  return `import m from ${JSON.stringify(spec)};\nexport const { ${names.join(', ')} } = m;\nexport default m;\n`;
}

/** dist/'s .js files, dist/vendor's aside. */
function jsFiles(dir, skip, out = []) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (p !== skip) jsFiles(p, skip, out);
    } else if (e.name.endsWith('.js')) out.push(p);
  }
  return out;
}

/** Bundles the packages into `<root>/dist/vendor` and rewrites dist/'s imports of them; returns the files changed. */
export async function vendor(root) {
  const dist = join(root, 'dist');
  const out = join(dist, 'vendor');
  const { rolldown } = await import('rolldown');
  rmSync(out, { recursive: true, force: true });
  // Each entry re-exports one package path; rolldown resolves them from the project's node_modules.
  const input = {};
  for (const [spec, name] of Object.entries(ENTRIES)) input[name] = `\0tw-vendor:${spec}`;
  const bundle = await rolldown({
    input,
    cwd: root,
    platform: 'node',
    logLevel: 'warn',
    plugins: [
      {
        name: 'tw-vendor-entries',
        resolveId: (id) => (id.startsWith('\0tw-vendor:') ? id : null),
        load: (id) => (id.startsWith('\0tw-vendor:') ? entryCode(root, id.slice('\0tw-vendor:'.length)) : null),
      },
    ],
  });
  await bundle.write({ dir: out, format: 'esm', entryFileNames: '[name].js', chunkFileNames: 'chunk-[hash].js' });
  await bundle.close();
  let changed = 0;
  for (const file of jsFiles(dist, out)) {
    const text = readFileSync(file, 'utf8');
    const next = text.replace(SPEC, (_m, lead, q, spec) => {
      let rel = relative(dirname(file), join(out, `${ENTRIES[spec]}.js`)).split(sep).join('/');
      if (!rel.startsWith('.')) rel = `./${rel}`;
      return `${lead}${q}${rel}${q}`;
    });
    if (next !== text) {
      writeFileSync(file, next);
      changed++;
    }
  }
  return changed;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const n = await vendor(root);
  process.stdout.write(`tidewatch: dist/vendor bundled; ${n} modules of dist/ import it\n`);
}
