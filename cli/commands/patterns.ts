/**
 * `tidewatch patterns --input LOG [--output OUT.jsonl]`: feeds the collector's template miner one
 * line at a time, then writes one JSON object per input line, in order:
 * `{"cluster": "<id>", "template": "<template>"}`, where cluster and template are those of the
 * line's cluster at the end of the run (clusters that merged later are followed through their
 * aliases). Header detection is generic (collector/miner/header.ts): whole log lines and bare
 * messages both work, with no per-format flags.
 */
import { createReadStream, openSync, writeSync, closeSync } from 'node:fs';
import { TidewatchError } from '../../core/errors.js';
import { TemplateMiner } from '../../collector/miner/miner.js';
import { stripHeader } from '../../collector/miner/header.js';
import type { CommandIO } from '../io.js';

const HELP = `Usage: tidewatch patterns --input LOG [--output OUT.jsonl]

Mines log templates from LOG (one line at a time, as the collector does) and writes one JSON
object per input line, in order: {"cluster": "<id>", "template": "<template with <*>>"}.
Without --output, writes to stdout. A progress line goes to stderr when it is a terminal.
`;

interface Args {
  input: string;
  output: string | undefined;
}

function parse(argv: string[]): Args | 'help' {
  let input: string | undefined;
  let output: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') return 'help';
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(0, eq) : a;
    if (name !== '--input' && name !== '--output') throw new TidewatchError('TW_USAGE', `patterns: unknown option ${name}`);
    const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
    if (v === undefined || v === '') throw new TidewatchError('TW_USAGE', `patterns: ${name} needs a value`);
    if (name === '--input') input = v;
    else output = v;
  }
  if (input === undefined) throw new TidewatchError('TW_USAGE', 'patterns: --input LOG is required');
  return { input, output };
}

/** Streams the lines of a file (LF or CRLF), without holding the whole file. */
async function* lines(path: string): AsyncGenerator<string> {
  const stream = createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 20 });
  let rest = '';
  try {
    for await (const chunk of stream as AsyncIterable<string>) {
      const text = rest + chunk;
      let start = 0;
      let nl = text.indexOf('\n');
      while (nl >= 0) {
        const end = nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
        yield text.slice(start, end);
        start = nl + 1;
        nl = text.indexOf('\n', start);
      }
      rest = text.slice(start);
    }
  } catch (err) {
    throw new TidewatchError('TW_INPUT_READ', `patterns: cannot read ${path}: ${(err as Error).message}`, { path }, { cause: err });
  }
  if (rest.length > 0) yield rest.endsWith('\r') ? rest.slice(0, -1) : rest;
}

export async function run(argv: string[], io: CommandIO): Promise<number> {
  const args = parse(argv);
  if (args === 'help') {
    io.stdout(HELP);
    return 0;
  }
  // The CLI sees a whole file, so it keeps every template it met: the bound that matters to a
  // long-running collector (max templates, evictions counted) would only blur a batch answer.
  const miner = new TemplateMiner({ maxTemplates: 1_000_000, maxAliases: 10_000_000 });
  // Per line, an index into `ids`: one small integer per line instead of a string.
  let lineIds = new Uint32Array(1 << 16);
  let n = 0;
  const ids: string[] = [];
  const idIndex = new Map<string, number>();
  const templates = new Map<string, string>();
  const alias = new Map<string, string>();
  const tty = process.stderr.isTTY === true;
  let nextProgress = Date.now() + 200;

  for await (const line of lines(args.input)) {
    const r = miner.add(stripHeader(line), n);
    let k = idIndex.get(r.id);
    if (k === undefined) {
      k = ids.length;
      ids.push(r.id);
      idIndex.set(r.id, k);
    }
    templates.set(r.id, r.template);
    for (const m of r.merged) alias.set(m, r.id);
    if (n === lineIds.length) {
      const grown = new Uint32Array(lineIds.length * 2);
      grown.set(lineIds);
      lineIds = grown;
    }
    lineIds[n++] = k;
    if (tty && (n & 1023) === 0 && Date.now() >= nextProgress) {
      nextProgress = Date.now() + 200;
      io.stderr(`\rpatterns: ${n} lines, ${miner.stats().clusters} templates`);
    }
  }
  if (tty) io.stderr(`\rpatterns: ${n} lines, ${miner.stats().clusters} templates\n`);

  // Final cluster of each id seen: follow merges to the end.
  const finalOf = ids.map((id) => {
    let cur = id;
    for (let hops = 0; hops < 1_000 && alias.has(cur); hops++) cur = alias.get(cur)!;
    return JSON.stringify({ cluster: cur, template: templates.get(cur) ?? '' }) + '\n';
  });

  const fd = args.output === undefined ? undefined : openOut(args.output);
  try {
    let buf = '';
    for (let i = 0; i < n; i++) {
      buf += finalOf[lineIds[i]!]!;
      if (buf.length >= 1 << 20) {
        emit(fd, buf, io);
        buf = '';
      }
    }
    if (buf.length > 0) emit(fd, buf, io);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return 0;
}

function openOut(path: string): number {
  try {
    return openSync(path, 'w');
  } catch (err) {
    throw new TidewatchError('TW_OUTPUT_WRITE', `patterns: cannot write ${path}: ${(err as Error).message}`, { path }, { cause: err });
  }
}

function emit(fd: number | undefined, text: string, io: CommandIO): void {
  if (fd === undefined) io.stdout(text);
  else writeSync(fd, text);
}
