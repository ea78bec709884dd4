/**
 * Pattern observations: what one collector instance saw of one pattern since its previous
 * observation of it. The `patterns` sink publishes them keyed by pattern id on the observations
 * topic (`<prefix>pattern-observations`); the catalog stage (catalog/stage.ts), the one writer
 * of that key, merges them into the pattern catalog (`<prefix>patterns`, compacted).
 *
 * Wire: headers `tw-wire: 1`, `tw-type: pattern_observation`; value one JSON object. It is not
 * a core/wire.ts type on purpose: only the catalog stage reads this topic (the dashboard never
 * does), so its shape can change with the collector alone. Documented in docs/wire-format.md.
 */
import { TidewatchError } from '../../core/errors.js';
import type { OutMessage } from '../../core/transport.js';
import { TYPE_HEADER, WIRE_HEADER, WIRE_VERSION } from '../../core/wire.js';

export const OBSERVATION_TYPE = 'pattern_observation';

/** Window of the per-window counts, epoch-aligned: one minute, the dashboard's sparkline step. */
export const PATTERN_WINDOW_MS = 60_000;

export interface PatternObservation {
  pattern_id: string;
  /** The pattern's template (`<*>` for variables); '' in an alias-only observation from a sender that never saw the id. */
  template: string;
  /** Lines counted since the sender's previous observation of this id (a delta, not a total). */
  count: number;
  /** Record times (event time, else observed time), epoch ms, of the lines counted. */
  first_seen: number;
  last_seen: number;
  /** One line of the pattern; senders include it in their first observation of an id only. */
  sample?: string;
  labels: Record<string, string>;
  /** Those `count` lines per `PATTERN_WINDOW_MS` window of record time: `[window start, count]`. */
  windows: [number, number][];
  /** The sender's miner merged this id into `alias_of` (the merged template's id). */
  alias_of?: string;
  /** Catalog writers that forwarded this observation along aliases already (a loop guard). */
  hops: number;
}

export function encodeObservation(o: PatternObservation): OutMessage {
  return { key: o.pattern_id, value: Buffer.from(JSON.stringify(o)), headers: { [WIRE_HEADER]: WIRE_VERSION, [TYPE_HEADER]: OBSERVATION_TYPE } };
}

const bad = (at: string, why: string): never => {
  throw new TidewatchError('TW_WIRE_DECODE', `${OBSERVATION_TYPE}: ${at}: ${why}`, { at });
};

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isUInt = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/** Decodes one observation message; TW_WIRE_DECODE (or TW_WIRE_VERSION) when it is not one. */
export function decodeObservation(msg: { headers: Readonly<Record<string, string | undefined>>; value: Buffer }): PatternObservation {
  const v = msg.headers[WIRE_HEADER];
  if (v !== WIRE_VERSION) {
    if (v === undefined) bad('headers', `no ${WIRE_HEADER} header`);
    throw new TidewatchError('TW_WIRE_VERSION', `wire version ${JSON.stringify(v)} is not supported (this program reads ${WIRE_VERSION})`, { version: v });
  }
  if (msg.headers[TYPE_HEADER] !== OBSERVATION_TYPE) bad('headers', `${TYPE_HEADER} is ${JSON.stringify(msg.headers[TYPE_HEADER] ?? null)}, not ${OBSERVATION_TYPE}`);
  let o: unknown;
  try {
    o = JSON.parse(msg.value.toString('utf8'));
  } catch (err) {
    return bad('value', `not JSON (${(err as Error).message})`);
  }
  if (o === null || typeof o !== 'object' || Array.isArray(o)) return bad('value', 'expected an object');
  const r = o as Record<string, unknown>;
  const id = r['pattern_id'];
  if (typeof id !== 'string' || id === '') bad('pattern_id', 'expected a non-empty string');
  if (typeof r['template'] !== 'string') bad('template', 'expected a string');
  if (!isUInt(r['count'])) bad('count', 'expected a non-negative integer');
  if (!isNum(r['first_seen'])) bad('first_seen', 'expected a number');
  if (!isNum(r['last_seen'])) bad('last_seen', 'expected a number');
  if (!isUInt(r['hops'])) bad('hops', 'expected a non-negative integer');
  const labels = r['labels'];
  if (labels === null || typeof labels !== 'object' || Array.isArray(labels)) bad('labels', 'expected an object');
  for (const [k, lv] of Object.entries(labels as object)) if (typeof lv !== 'string') bad(`labels.${k}`, 'expected a string');
  const windows = r['windows'];
  if (!Array.isArray(windows)) return bad('windows', 'expected an array');
  for (const [i, w] of windows.entries()) {
    if (!Array.isArray(w) || w.length !== 2 || !isNum(w[0]) || !isUInt(w[1])) bad(`windows[${i}]`, 'expected [start, count]');
  }
  const out: PatternObservation = {
    pattern_id: id as string,
    template: r['template'] as string,
    count: r['count'] as number,
    first_seen: r['first_seen'] as number,
    last_seen: r['last_seen'] as number,
    labels: labels as Record<string, string>,
    windows: windows as [number, number][],
    hops: r['hops'] as number,
  };
  if (r['sample'] !== undefined) {
    if (typeof r['sample'] !== 'string') bad('sample', 'expected a string');
    out.sample = r['sample'] as string;
  }
  if (r['alias_of'] !== undefined) {
    if (typeof r['alias_of'] !== 'string' || r['alias_of'] === '') bad('alias_of', 'expected a non-empty string');
    out.alias_of = r['alias_of'] as string;
  }
  return out;
}
