/**
 * The browser UI: a fixed list of files, read once when the server is built. Requests are
 * matched against the list by exact path, so no part of a URL ever reaches the filesystem (no
 * path traversal by construction). uPlot is served from its npm package under /vendor/.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { TidewatchError } from '../../core/errors.js';

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

/** The UI directory: dashboard/ui next to the sources, whether running from TypeScript or dist/. */
export function defaultUiDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, '..', 'ui'), join(here, '..', '..', '..', 'dashboard', 'ui')];
  const found = candidates.find((d) => existsSync(join(d, 'index.html')));
  if (found === undefined) throw new TidewatchError('TW_INTERNAL', `dashboard UI not found (looked in ${candidates.join(', ')})`);
  return found;
}

function uplotFile(name: string): string {
  return createRequire(import.meta.url).resolve(`uplot/dist/${name}`);
}

interface Asset {
  readonly body: Buffer;
  readonly type: string;
}

export function registerStatic(app: FastifyInstance, uiDir: string = defaultUiDir()): void {
  const files: Record<string, string> = {
    '/': join(uiDir, 'index.html'),
    '/app.js': join(uiDir, 'app.js'),
    '/pages.js': join(uiDir, 'pages.js'),
    '/style.css': join(uiDir, 'style.css'),
    '/favicon.svg': join(uiDir, 'favicon.svg'),
    '/vendor/uPlot.iife.min.js': uplotFile('uPlot.iife.min.js'),
    '/vendor/uPlot.min.css': uplotFile('uPlot.min.css'),
  };
  const assets = new Map<string, Asset>();
  for (const [url, path] of Object.entries(files)) {
    const ext = path.slice(path.lastIndexOf('.'));
    assets.set(url, { body: readFileSync(path), type: TYPES[ext] ?? 'application/octet-stream' });
  }
  for (const [url, asset] of assets) {
    app.get(url, async (_req, reply) => {
      void reply.header('content-type', asset.type).header('cache-control', 'no-cache');
      return reply.send(asset.body);
    });
  }
  app.get('/index.html', async (_req, reply) => reply.redirect('/', 301));
}
