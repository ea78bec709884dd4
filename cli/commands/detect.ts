/**
 * `tidewatch detect --input IN.csv [--output OUT.csv] [--detector NAME] [--sensitivity S]`
 *
 * Reads a `timestamp,value` CSV and writes `timestamp,value,anomaly_score,alert`, one row per input
 * row, in input order. Each row is fed, one at a time, to the same detector code the collector's
 * `anomaly` rule runs online; a fresh detector per invocation, so nothing is shared across files.
 * `alert` is 1 only on the row where a new alert starts firing. Rows whose value is not a finite
 * number are passed through with score 0 and counted (reported on stderr).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Writable } from 'node:stream';
import { TidewatchError } from '../../core/errors.js';
import { DETECTORS, DEFAULT_DETECTOR } from '../../collector/rules/anomaly/detectors.js';
import type { CommandIO } from '../io.js';

const HELP = `Usage: tidewatch detect --input IN.csv [--output OUT.csv] [--detector NAME] [--sensitivity S]

Score a timestamp,value CSV with the anomaly detector, one point at a time.

  --input FILE        CSV with a header naming 'timestamp' and 'value' columns
  --output FILE       where to write timestamp,value,anomaly_score,alert (default: stdout)
  --detector NAME     ${Object.keys(DETECTORS).join(' | ')} (default: ${DEFAULT_DETECTOR})
  --sensitivity S     0..1, higher alerts on smaller deviations (default: the detector's own)
`;

interface DetectArgs {
  input: string;
  output: string | undefined;
  detector: string;
  sensitivity: number | undefined;
  tuning: Record<string, number | boolean> | undefined;
}

function parseArgs(argv: string[]): DetectArgs | 'help' {
  let input: string | undefined;
  let output: string | undefined;
  let detector = DEFAULT_DETECTOR;
  let sensitivity: number | undefined;
  let tuning: Record<string, number | boolean> | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') return 'help';
    const eq = a.indexOf('=');
    const flag = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    const inline = a.startsWith('--') && eq > 0 ? a.slice(eq + 1) : undefined;
    const value = (): string => {
      if (inline !== undefined) return inline;
      const v = argv[++i];
      if (v === undefined) throw new TidewatchError('TW_USAGE', `${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--input':
        input = value();
        break;
      case '--output':
        output = value();
        break;
      case '--detector':
        detector = value();
        break;
      case '--sensitivity': {
        const raw = value();
        const s = Number(raw);
        if (raw.trim() === '' || !Number.isFinite(s) || s < 0 || s > 1) {
          throw new TidewatchError('TW_USAGE', `--sensitivity must be a number in [0, 1], got '${raw}'`);
        }
        sensitivity = s;
        break;
      }
      case '--tuning': {
        // Dev-only: JSON of the detector's internal constants, for bench/nab-loco.py's sweep.
        const raw = value();
        try {
          const parsed: unknown = JSON.parse(raw);
          if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
          tuning = parsed as Record<string, number | boolean>;
        } catch (err) {
          throw new TidewatchError('TW_USAGE', `--tuning must be a JSON object: ${(err as Error).message}`);
        }
        break;
      }
      default:
        throw new TidewatchError('TW_USAGE', `unknown option '${a}'`);
    }
  }
  if (input === undefined) throw new TidewatchError('TW_USAGE', '--input is required');
  if (!Object.hasOwn(DETECTORS, detector)) {
    throw new TidewatchError('TW_USAGE', `unknown detector '${detector}' (one of: ${Object.keys(DETECTORS).join(', ')})`);
  }
  return { input, output, detector, sensitivity, tuning };
}

/**
 * Timestamps: ISO 8601 / RFC 3339 (with or without zone), NAB's `YYYY-MM-DD HH:MM:SS` (read as
 * UTC: only differences and time of day/week matter to the detector), or epoch seconds/millis.
 */
export function parseTimestamp(text: string): number {
  const s = text.trim();
  if (/^-?\d+(\.\d+)?$/.test(s)) {
    const n = Number(s);
    // Below 1e11 it cannot be epoch millis of any date after 1973: read it as seconds.
    return Math.abs(n) < 1e11 ? n * 1000 : n;
  }
  const iso = s.replace(' ', 'T');
  const hasZone = /([zZ]|[+-]\d\d:?\d\d)$/.test(iso);
  return Date.parse(hasZone || !iso.includes('T') ? iso : `${iso}Z`);
}

/** Split one CSV line; handles double-quoted fields (no embedded newlines). */
function splitCsv(line: string): string[] {
  if (!line.includes('"')) return line.split(',');
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

function csvField(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

async function writeChunk(out: Writable, chunk: string, path: string): Promise<void> {
  try {
    if (out.errored !== null) throw out.errored;
    if (!out.write(chunk)) await once(out, 'drain');
  } catch (err) {
    throw new TidewatchError('TW_OUTPUT_WRITE', `cannot write ${path}: ${(err as Error).message}`, {}, { cause: err });
  }
}

export async function run(argv: string[], io: CommandIO): Promise<number> {
  const args = parseArgs(argv);
  if (args === 'help') {
    io.stdout(HELP);
    return 0;
  }
  const factory = DETECTORS[args.detector]!;
  const detector = factory({
    ...(args.sensitivity === undefined ? {} : { sensitivity: args.sensitivity }),
    ...(args.tuning === undefined ? {} : { tuning: args.tuning }),
  });

  const input = createReadStream(args.input, { encoding: 'utf8' });
  const opened = once(input, 'open').catch((err: unknown) => {
    throw new TidewatchError('TW_INPUT_READ', `cannot read ${args.input}: ${(err as Error).message}`, {}, { cause: err });
  });
  await opened;

  let out: Writable;
  let outStdout = false;
  if (args.output === undefined) {
    out = process.stdout;
    outStdout = true;
  } else {
    out = createWriteStream(args.output, { encoding: 'utf8' });
    await once(out, 'open').catch((err: unknown) => {
      throw new TidewatchError('TW_OUTPUT_WRITE', `cannot write ${args.output}: ${(err as Error).message}`, {}, { cause: err });
    });
  }
  // Write errors surface through writeChunk (out.errored); without a listener they would crash.
  out.on('error', () => {});
  const outName = args.output ?? 'stdout';

  // Create the line reader only now, right before iterating: lines emitted earlier would be lost.
  const lines = createInterface({ input, crlfDelay: Infinity });
  let header: string[] | undefined;
  let ti = -1;
  let vi = -1;
  let rows = 0;
  let badValues = 0;
  let badTimes = 0;
  let alerts = 0;
  let buf = 'timestamp,value,anomaly_score,alert\n';
  try {
    for await (const raw of lines) {
      if (raw.trim() === '') continue;
      const cells = splitCsv(raw);
      if (header === undefined) {
        // A UTF-8 byte-order mark (spreadsheet exports) is not part of the first column's name.
        header = cells.map((c, i) => (i === 0 ? c.replace(/^\uFEFF/, '') : c).trim().toLowerCase());
        ti = header.indexOf('timestamp');
        vi = header.indexOf('value');
        if (ti < 0 || vi < 0) {
          lines.close();
          input.destroy();
          throw new TidewatchError('TW_INPUT_READ', `${args.input}: the header must name 'timestamp' and 'value' columns, got '${raw}'`);
        }
        continue;
      }
      const ts = cells[ti] ?? '';
      const vs = cells[vi] ?? '';
      const time = parseTimestamp(ts);
      const value = vs.trim() === '' ? Number.NaN : Number(vs);
      if (!Number.isFinite(time)) badTimes++;
      else if (!Number.isFinite(value)) badValues++;
      const r = detector.update(time, value);
      if (r.alert) alerts++;
      rows++;
      buf += `${csvField(ts)},${csvField(vs)},${r.score.toFixed(6)},${r.alert ? 1 : 0}\n`;
      if (buf.length > 65_536) {
        await writeChunk(out, buf, outName);
        buf = '';
      }
    }
  } catch (err) {
    if (err instanceof TidewatchError) throw err;
    throw new TidewatchError('TW_INPUT_READ', `cannot read ${args.input}: ${(err as Error).message}`, {}, { cause: err });
  }
  if (header === undefined) throw new TidewatchError('TW_INPUT_READ', `${args.input}: empty file (no header)`);
  await writeChunk(out, buf, outName);
  if (!outStdout) {
    out.end();
    await once(out, 'finish').catch((err: unknown) => {
      throw new TidewatchError('TW_OUTPUT_WRITE', `cannot write ${outName}: ${(err as Error).message}`, {}, { cause: err });
    });
  }
  io.stderr(
    `detect: ${rows} rows, ${alerts} alerts, detector ${args.detector}` +
      (badValues + badTimes > 0 ? `, ${badValues} invalid values and ${badTimes} invalid timestamps scored 0` : '') +
      '\n',
  );
  return 0;
}
