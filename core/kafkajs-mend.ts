/**
 * How tidewatch's kafkajs mends take effect: a kafkajs 2.2.4 module is replaced in require's
 * cache before the kafkajs module that takes it loads (kafkajs is CommonJS and binds its
 * requires at load). core/kafkajs.ts imports every mend before kafkajs itself.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/**
 * Makes `exports` what `require('kafkajs/src/<target>')` gives, unless `kafkajs/src/<loader>`
 * (which takes it) already loaded; throws when the mend did not take (kafkajs was loaded
 * before it, around core/kafkajs.ts), naming `what` was left unmended.
 */
export function replaceKafkajsModule(target: string, loader: string, exports: object, what: string): void {
  const mark = Symbol.for(`tidewatch.kafkajs.${target}`);
  const targetPath = require.resolve(`kafkajs/src/${target}`);
  if (require.cache[require.resolve(`kafkajs/src/${loader}`)] === undefined) {
    require(targetPath);
    require.cache[targetPath]!.exports = Object.assign(exports, { [mark]: true });
  }
  if ((require.cache[targetPath]?.exports as Record<symbol, unknown> | undefined)?.[mark] !== true) {
    throw new Error(`kafkajs was loaded before core/kafkajs.ts mended it, so ${what}: import kafkajs through core/kafkajs.ts only`);
  }
}
