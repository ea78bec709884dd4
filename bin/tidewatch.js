#!/usr/bin/env node
// Thin launcher: the product is TypeScript compiled to dist/ by `npm install` (the prepare script).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
if (!existsSync(main)) {
  process.stderr.write('tidewatch: dist/ is missing; run `npm install` (or `npm run build`) in the package first\n');
  process.exit(2);
}
const { main: run } = await import(main);
const { exitAfterCommand } = await import(new URL('../dist/cli/exit.js', import.meta.url).href);
process.exitCode = await run(process.argv.slice(2));
// Nothing the command ran may keep the process alive once it has finished (cli/exit.ts).
exitAfterCommand(process.exitCode);
