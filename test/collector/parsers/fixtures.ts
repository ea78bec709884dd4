/** Reads test/fixtures/logs/<name>: one event per line, or per `%%`-separated block for multiline events. */
import { readFileSync } from 'node:fs';

export function fixture(name: string, multiline = false): string[] {
  const text = readFileSync(new URL(`../../fixtures/logs/${name}`, import.meta.url), 'utf8');
  const body = text.endsWith('\n') ? text.slice(0, -1) : text;
  return multiline ? body.split('\n%%\n') : body.split('\n');
}
