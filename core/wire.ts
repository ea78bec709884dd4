/**
 * Wire format v1 (docs/wire-format.md): the bytes that travel between roles over Kafka or the
 * in-process bus. Every message carries two headers, `tw-wire: 1` and `tw-type: <type>`; the
 * value is one UTF-8 JSON document (the default encoding).
 *
 * Decoders are validating and total: whatever bytes arrive, they return a well-formed record or
 * throw TidewatchError TW_WIRE_DECODE (TW_WIRE_VERSION for another version); never anything
 * else (test/core/wire.test.ts fuzzes them). They run per message, so the checks are hand-written
 * field tests, not a generic schema walk. A decoder builds its output from the fields it knows:
 * unknown fields (a later minor addition) are ignored, never passed through.
 *
 * Non-finite numbers (a NaN gauge from a Prometheus scrape) have no JSON form; in the numeric
 * value fields of metrics and rollups they travel as the strings "NaN", "+Inf", "-Inf".
 */
import { TidewatchError } from './errors.js';
import { AttrKeys } from './model.js';
import type {
  AttrValue,
  Attributes,
  ExpBuckets,
  ExponentialHistogramPoint,
  HistogramPoint,
  LogRecord,
  MetricPoint,
  Scope,
  Temporality,
} from './model.js';
import type { OutMessage } from './transport.js';
import type { LineBlock } from './line-block.js';
import { isUtf8 } from 'node:buffer';

export const WIRE_VERSION = '1';
export const WIRE_HEADER = 'tw-wire';
export const TYPE_HEADER = 'tw-type';

export const WIRE_TYPES = ['logs', 'metrics', 'rollups', 'alerts', 'patterns', 'agents', 'state'] as const;
export type WireType = (typeof WIRE_TYPES)[number];

/** Kafka's default max.message.bytes is 1 MiB; batches stay under it with room for headers. */
export const DEFAULT_MAX_BATCH_BYTES = 900_000;

// ---------------------------------------------------------------------------------------------
// Record shapes

/** One line of a log batch. Absent optional fields mean: severity 0 / '', no attributes. */
export interface WireLogLine {
  /** Byte offset of the line in its stream generation (absent for logs that have no stream). */
  offset?: number;
  time?: number;
  observed_time: number;
  severity_number?: number;
  severity_text?: string;
  body: AttrValue;
  /** The record's attributes without the line identity (path, stream_id, generation, offset). */
  attributes?: Attributes;
  scope?: Scope;
  trace_id?: string;
  span_id?: string;
}

/**
 * Log lines of ONE stream (one file generation on one agent): the line identity of DESIGN.md is
 * `(agent_id, stream_id, generation, lines[i].offset)`. Logs without a stream (OTLP) travel in
 * batches without `stream_id`, `generation` and `path`, and their lines without `offset`.
 */
export interface LogBatch {
  agent_id: string;
  host: string;
  stream_id?: string;
  generation?: number;
  /** `log.file.path` of the stream. */
  path?: string;
  /** The records' resource, whole (agent_id and host are copies, for routing without digging). */
  resource: Attributes;
  lines: WireLogLine[];
}

/** MetricPoints of one resource. Points are MetricPoint without `kind` and `resource`. */
export interface MetricBatch {
  resource: Attributes;
  points: WireMetricPoint[];
}
export type WireMetricPoint = DistributiveOmit<MetricPoint, 'kind' | 'resource'>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** A partial window aggregate of one series, mergeable with the other instances' partials. */
export interface RollupPartial {
  series_id: string;
  name: string;
  labels: Record<string, string>;
  /** Window start, epoch ms. */
  window_start: number;
  window_ms: number;
  count: number;
  sum: number;
  min: number;
  max: number;
  /** Value of the latest point in the window (by event time). */
  last: number;
  /** Quantile sketch (e.g. DDSketch), opaque base64; merged by the sketch's own code. */
  sketch?: string;
  /** false for an early (open window) partial, true once the window closed; a final replaces the early ones. */
  final: boolean;
  /** The collector instance that produced it (partials of one series from many instances merge). */
  source_instance: string;
}

export type AlertState = 'firing' | 'resolved';
export type AlertSeverity = 'info' | 'warning' | 'critical';

/** The state of one alert; the alerts topic is compacted by `alert_id`, so the latest state wins. */
export interface AlertRecord {
  alert_id: string;
  rule: string;
  state: AlertState;
  severity: AlertSeverity;
  series_id?: string;
  labels: Record<string, string>;
  /** When it started firing, epoch ms. */
  started_at: number;
  /** Event time of the evaluation that produced this record, epoch ms. */
  time: number;
  resolved_at?: number;
  /** The observed value that triggered it, and the detector's score in [0,1] when it has one. */
  value: number;
  score?: number;
  summary: string;
}

/** A log template (pattern) and its counts; compacted by `pattern_id`. */
export interface PatternRecord {
  pattern_id: string;
  /** Template with `<*>` for the variable tokens. */
  template: string;
  count: number;
  first_seen: number;
  last_seen: number;
  /** One raw line that matched, for the dashboard. */
  sample?: string;
  labels: Record<string, string>;
  /**
   * Set when a miner merged this pattern into a more general one: the live record is that id's
   * (which counts these lines too); `count` here is what was forwarded to it.
   */
  alias_of?: string;
  /** Recent counts per time window, `[window start (epoch ms), count]`, oldest first. */
  windows?: [number, number][];
}

/** An agent's heartbeat; compacted by `agent_id`, so the topic lists every agent's last word. */
export interface AgentHeartbeat {
  agent_id: string;
  host: string;
  version: string;
  started_at: number;
  time: number;
  /** The next heartbeat is due before `time + interval_ms`; later, the agent is silent. */
  interval_ms: number;
  /** Files (streams) the agent tails now. */
  streams: number;
  /** true in the last heartbeat of an orderly stop: silence after it is not an outage. */
  stopping: boolean;
}

/** Exactly-once state of the ingest stage: the highest line offset counted per stream generation. */
export interface StreamState {
  agent_id: string;
  stream_id: string;
  generation: number;
  offset: number;
}

// ---------------------------------------------------------------------------------------------
// Headers

export function wireHeaders(type: WireType): Record<string, string> {
  return { [WIRE_HEADER]: WIRE_VERSION, [TYPE_HEADER]: type };
}

/** The message's wire type; TW_WIRE_VERSION for another version, TW_WIRE_DECODE without headers. */
export function wireTypeOf(headers: Readonly<Record<string, string | undefined>>): WireType {
  const v = headers[WIRE_HEADER];
  if (v === undefined) throw new TidewatchError('TW_WIRE_DECODE', `message has no ${WIRE_HEADER} header: not a tidewatch message`);
  if (v !== WIRE_VERSION) throw new TidewatchError('TW_WIRE_VERSION', `wire version ${JSON.stringify(v)} is not supported (this program reads ${WIRE_VERSION})`, { version: v });
  const t = headers[TYPE_HEADER];
  if (!(WIRE_TYPES as readonly (string | undefined)[]).includes(t)) throw new TidewatchError('TW_WIRE_DECODE', `unknown ${TYPE_HEADER} header ${JSON.stringify(t ?? null)}`);
  return t as WireType;
}

export type DecodedMessage =
  | { type: 'logs'; records: LogRecord[] }
  | { type: 'metrics'; records: MetricPoint[] }
  | { type: 'rollups'; record: RollupPartial }
  | { type: 'alerts'; record: AlertRecord }
  | { type: 'patterns'; record: PatternRecord }
  | { type: 'agents'; record: AgentHeartbeat }
  | { type: 'state'; record: StreamState };

/** Decodes any tidewatch message by its headers. */
export function decodeMessage(msg: { headers: Readonly<Record<string, string | undefined>>; value: Buffer }): DecodedMessage {
  const type = wireTypeOf(msg.headers);
  switch (type) {
    case 'logs':
      return { type, records: decodeLogBatch(msg.value) };
    case 'metrics':
      return { type, records: decodeMetricBatch(msg.value) };
    case 'rollups':
      return { type, record: decodeRollup(msg.value) };
    case 'alerts':
      return { type, record: decodeAlert(msg.value) };
    case 'patterns':
      return { type, record: decodePattern(msg.value) };
    case 'agents':
      return { type, record: decodeHeartbeat(msg.value) };
    case 'state':
      return { type, record: decodeStreamState(msg.value) };
  }
}

// ---------------------------------------------------------------------------------------------
// Logs

/**
 * Messages of grouped records: each group (one stream's lines, one resource's points) becomes
 * messages `<head><part>,<part>,...]}`, in the order its parts came, each under `maxBytes`
 * unless a single part is larger. The one grouping and size-splitting loop of log and metric
 * batches.
 *
 * Parts are written as UTF-8 straight into one growing Buffer per group, so a batch is encoded
 * once, measured exactly as it is written (no Buffer.byteLength per part), and never joined or
 * copied again (bench/wire.mjs "encode": the agent's Kafka sink encodes every line it ships).
 */
class BatchWriter {
  private readonly groups = new Map<string, Batch>();
  private readonly out: OutMessage[] = [];

  /**
   * @param items how many parts will be added (all groups together): a new batch's buffer is
   *   sized for them from the first part, so it seldom grows or is copied.
   */
  constructor(
    private readonly type: WireType,
    private readonly maxBytes: number,
    private remaining: number,
  ) {}

  /** The batch of group `id`, if it was opened. */
  get(id: string): Batch | undefined {
    return this.groups.get(id);
  }

  /** Opens group `id`: its messages start with `head` (JSON up to the array's `[`) and carry `key`. */
  open(id: string, head: string, key: string): Batch {
    const b: Batch = { head: Buffer.from(head), key, buf: EMPTY, view: EMPTY_VIEW, pos: 0, count: 0 };
    this.groups.set(id, b);
    return b;
  }

  /** Appends one part (a JSON value) to the group's batch; a full batch becomes a message first. */
  add(b: Batch, part: string): void {
    this.remaining--;
    const start = this.room(b, part.length * 3, part.length + 1);
    this.placed(b, start, b.buf.write(part, start));
  }

  /**
   * Appends one log line (its JSON: see writeLogLine), written field by field into the
   * batch's buffer: no string per line, and a string body is encoded to UTF-8 once, straight
   * into place (bench/kafka-e2e.mjs: the agent's Kafka sink encodes every line it ships).
   */
  addLog(b: Batch, r: LogRecord, offset: number | undefined): void {
    this.remaining--;
    const mid = lineMidJson(r);
    const rest = lineRestJson(r, offset);
    const body = r.body;
    let bodyJson = typeof body === 'string' ? undefined : (JSON.stringify(body) ?? 'null');
    const fixed = LINE_FIXED_BYTES + (mid.length + rest.length) * 3;
    for (;;) {
      const bodyChars = bodyJson === undefined ? (body as string).length + 2 : bodyJson.length;
      // Room for the worst case; a new buffer is sized by the likely one (numbers of 12 digits,
      // one byte per character), so a batch's buffer is seldom grown and copied.
      const start = this.room(b, fixed + bodyChars * 3, LINE_FIXED_BYTES - 24 + mid.length + rest.length + bodyChars);
      const end = writeLogLine(b.buf, b.view, start, r, offset, mid, bodyJson, rest);
      if (end >= 0) {
        this.placed(b, start, end - start);
        return;
      }
      // The body needs escaping: JSON.stringify writes it (rare in log text but for quotes).
      bodyJson = JSON.stringify(body);
    }
  }

  /**
   * Appends one file line given as bytes, `src[s, e)`, with its offset and observed time: the
   * bytes are copied into place once, escaped where JSON needs it, never decoded to a string
   * (encodeLineBlock). Returns false, having added nothing, when they are not valid UTF-8: the
   * caller then adds the line as text (its invalid sequences become U+FFFD, as on every path).
   */
  addLineBytes(b: Batch, src: Buffer, srcView: DataView, s: number, e: number, offset: number, time: number): boolean {
    const n = e - s;
    // Room for the worst case (six bytes, \u00XX, per byte); a new buffer is sized by the likely one.
    const start = this.room(b, LINE_FIXED_BYTES + n * 6 + 2, LINE_FIXED_BYTES - 24 + n + 2);
    let o = writeLineHead(b.buf, b.view, start, offset, time);
    o = copyEscaped(src, srcView, s, b.buf, b.view, o, n);
    if (escapedHigh && !isUtf8(src.subarray(s, e))) return false;
    const buf = b.buf;
    buf[o++] = 0x22;
    buf[o++] = 0x7d; // '}'
    this.remaining--;
    this.placed(b, start, o - start);
    return true;
  }

  /** Where the next part of `b` starts, with room for `need` bytes (`partBytes`: the estimate for a new buffer). */
  private room(b: Batch, need: number, partBytes: number): number {
    if (b.buf === EMPTY) this.begin(b, need + 2, partBytes);
    else this.reserve(b, need + 3);
    return b.count === 0 ? b.pos : b.pos + 1;
  }

  /** The part just written at `start` (`n` bytes) joins the batch; a full batch becomes a message first. */
  private placed(b: Batch, start: number, n: number): void {
    if (b.count > 0 && start + n + 2 > this.maxBytes) {
      // It does not fit: the message ends before it, and it opens the next one.
      const moved = Buffer.from(b.buf.subarray(start, start + n));
      this.flush(b);
      this.begin(b, n + 2, n + 1);
      b.pos += moved.copy(b.buf, b.pos);
    } else {
      if (b.count > 0) b.buf[b.pos] = 0x2c; // ','
      b.pos = start + n;
    }
    b.count++;
  }

  /** Every group's last message; the writer is done. */
  finish(): OutMessage[] {
    for (const b of this.groups.values()) this.flush(b);
    return this.out;
  }

  /** A fresh buffer for `b`: room for `need` bytes now, and its estimate of this and the parts to come (`partBytes` each). */
  private begin(b: Batch, need: number, partBytes: number): void {
    const estimate = b.head.length + Math.ceil((this.remaining + 1) * partBytes * 1.1) + 2;
    this.setBuffer(b, Buffer.allocUnsafe(Math.max(b.head.length + need, Math.min(this.maxBytes + 2, Math.max(estimate, MIN_BATCH_BYTES)))));
    b.pos = b.head.copy(b.buf, 0);
    b.count = 0;
  }

  private reserve(b: Batch, need: number): void {
    if (b.pos + need <= b.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(b.pos + need, Math.min(b.buf.length * 2, this.maxBytes + 2)));
    b.buf.copy(grown, 0, 0, b.pos);
    this.setBuffer(b, grown);
  }

  private setBuffer(b: Batch, buf: Buffer): void {
    b.buf = buf;
    b.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  private flush(b: Batch): void {
    if (b.count === 0) return;
    b.buf[b.pos++] = 0x5d; // ']'
    b.buf[b.pos++] = 0x7d; // '}'
    // A buffer mostly empty is not kept alive by the message (memory is bounded by what is sent).
    const value = b.pos * 2 < b.buf.length ? Buffer.from(b.buf.subarray(0, b.pos)) : b.buf.subarray(0, b.pos);
    this.out.push({ key: b.key, value, headers: wireHeaders(this.type) });
    b.buf = EMPTY;
    b.view = EMPTY_VIEW;
    b.pos = 0;
    b.count = 0;
  }
}

interface Batch {
  readonly head: Buffer;
  readonly key: string;
  buf: Buffer;
  /** `buf` as words, for writeLogLine's scan. */
  view: DataView;
  /** Bytes written to `buf` (the head, then the parts and their commas). */
  pos: number;
  /** Parts in the current message. */
  count: number;
}

const EMPTY = Buffer.alloc(0);
const EMPTY_VIEW = new DataView(new ArrayBuffer(0));
/** Smallest first buffer of a batch; it doubles when the estimate was short. */
const MIN_BATCH_BYTES = 4096;

/**
 * One log line's JSON is `{"offset":N,"observed_time":T<mid>,"body":B<rest>}` (`"offset"` only
 * when the record has its whole stream identity: the identity attributes then travel once per
 * batch, not per line). Non-finite times have no JSON form: a NaN event time is left out (as if
 * the source had not said), a NaN observed time becomes 0, so one bad record never makes its
 * whole batch undecodable. `mid` and `rest` are the fields a file line does not have, as JSON.
 */
function lineMidJson(r: LogRecord): string {
  let s = '';
  if (r.time !== undefined && Number.isFinite(r.time)) s += `,"time":${r.time}`;
  if (r.severity_number !== 0) s += `,"severity_number":${JSON.stringify(r.severity_number)}`;
  if (r.severity_text !== '') s += `,"severity_text":${JSON.stringify(r.severity_text)}`;
  return s;
}

function lineRestJson(r: LogRecord, offset: number | undefined): string {
  let s = '';
  let attrs: Attributes | undefined;
  for (const k in r.attributes) {
    // The identity keys, compared directly (interned strings): this runs for every line.
    if (offset !== undefined && (k === AttrKeys.offset || k === AttrKeys.streamId || k === AttrKeys.generation || k === AttrKeys.filePath)) continue;
    attrs ??= {};
    // Plain assignment of "__proto__" would set the prototype instead of copying the attribute.
    if (k === '__proto__') Object.defineProperty(attrs, k, { value: r.attributes[k], enumerable: true, writable: true, configurable: true });
    else attrs[k] = r.attributes[k] as AttrValue;
  }
  if (attrs !== undefined) s += `,"attributes":${JSON.stringify(attrs)}`;
  if (r.scope !== undefined) s += `,"scope":${JSON.stringify(r.scope)}`;
  if (r.trace_id !== undefined) s += `,"trace_id":${JSON.stringify(r.trace_id)}`;
  if (r.span_id !== undefined) s += `,"span_id":${JSON.stringify(r.span_id)}`;
  return s;
}

const OFFSET_KEY = Buffer.from('{"offset":');
const OBSERVED_KEY = Buffer.from('"observed_time":');
const BODY_KEY = Buffer.from(',"body":');
/** Bytes of a line besides mid, body and rest: its keys, braces, and two numbers of up to 24 characters. */
const LINE_FIXED_BYTES = OFFSET_KEY.length + 1 + OBSERVED_KEY.length + BODY_KEY.length + 1 + 2 * 24;
/** Bytes a JSON string cannot hold as they are: control characters, `"` and `\`. */
const JSON_ESCAPED = new Uint8Array(256);
for (let c = 0; c < 0x20; c++) JSON_ESCAPED[c] = 1;
JSON_ESCAPED[0x22] = 1;
JSON_ESCAPED[0x5c] = 1;

/**
 * Writes one log line at `o` (room for it is there); returns its end, or -1 when the string body
 * (`bodyJson` undefined) needs JSON escaping: the caller then passes it as `bodyJson`.
 */
function writeLogLine(buf: Buffer, view: DataView, o: number, r: LogRecord, offset: number | undefined, mid: string, bodyJson: string | undefined, rest: string): number {
  if (offset === undefined) buf[o++] = 0x7b; // '{'
  else {
    o = copyBytes(buf, o, OFFSET_KEY);
    o = writeNumber(buf, o, offset);
    buf[o++] = 0x2c; // ','
  }
  o = copyBytes(buf, o, OBSERVED_KEY);
  o = writeTime(buf, o, Number.isFinite(r.observed_time) ? r.observed_time : 0);
  if (mid !== '') o += buf.write(mid, o);
  o = copyBytes(buf, o, BODY_KEY);
  if (bodyJson !== undefined) o += buf.write(bodyJson, o);
  else {
    // A string body is written as UTF-8 between quotes, then checked: JSON.stringify would have
    // written the same bytes unless one needs escaping, or the string holds a lone surrogate
    // (it writes \udXXX where UTF-8 has only U+FFFD). Non-ASCII text writes more bytes than it
    // has characters, which is when surrogates are looked for.
    const body = r.body as string;
    buf[o++] = 0x22;
    const n = buf.write(body, o);
    const end = o + n;
    if (needsEscape(buf, view, o, end)) return -1;
    if (n !== body.length && !isWellFormed(body)) return -1;
    o = end;
    buf[o++] = 0x22;
  }
  if (rest !== '') o += buf.write(rest, o);
  buf[o++] = 0x7d; // '}'
  return o;
}

/**
 * Whether `buf[from, to)` holds a byte JSON must escape: four bytes per step (escapeInWord),
 * twice as fast as a byte loop (bench/kafka-e2e.mjs: every line).
 */
function needsEscape(buf: Buffer, view: DataView, from: number, to: number): boolean {
  let i = from;
  for (; i + 4 <= to; i += 4) if (escapeInWord(view.getInt32(i, true))) return true;
  for (; i < to; i++) if (JSON_ESCAPED[buf[i]!] === 1) return true;
  return false;
}

/**
 * Whether one of the four bytes of `x` is below 0x20 or is `"` or `\`: iff one of the three
 * borrow tests sets the high bit of a byte that is itself below 0x80 (bytes of 0x80 and above
 * never do).
 */
function escapeInWord(x: number): boolean {
  const q = x ^ 0x22222222;
  const z = x ^ 0x5c5c5c5c;
  return ((((x - 0x20202020) & ~x) | ((q - 0x01010101) & ~q) | ((z - 0x01010101) & ~z)) & 0x80808080) !== 0;
}

/** Whether copyEscaped's last bytes held one of 0x80 and above. Module state: encoding is synchronous. */
let escapedHigh = false;

/**
 * Copies `src[s, s + n)` to `dst` at `o` as the inside of a JSON string, escaped byte for byte
 * as JSON.stringify escapes the same text (`\"`, `\\`, `\b\f\n\r\t`, other controls as
 * `\u00xx`); words without such a byte are copied whole. Returns the end; sets escapedHigh.
 */
function copyEscaped(src: Buffer, srcView: DataView, s: number, dst: Buffer, dstView: DataView, o: number, n: number): number {
  let high = 0;
  let i = 0;
  while (i < n) {
    for (; i + 4 <= n; i += 4) {
      const x = srcView.getInt32(s + i, true);
      if (escapeInWord(x)) break;
      high |= x;
      dstView.setInt32(o, x, true);
      o += 4;
    }
    const stop = Math.min(n, i + 4);
    for (; i < stop; i++) {
      const c = src[s + i]!;
      high |= c << 24;
      if (JSON_ESCAPED[c] === 0) {
        dst[o++] = c;
        continue;
      }
      dst[o++] = 0x5c; // '\'
      const short = SHORT_ESCAPE[c]!;
      if (short !== 0) {
        dst[o++] = short;
      } else {
        dst[o++] = 0x75; // 'u'
        dst[o++] = 0x30;
        dst[o++] = 0x30;
        dst[o++] = HEX[c >> 4]!;
        dst[o++] = HEX[c & 15]!;
      }
    }
  }
  escapedHigh = (high & 0x80808080) !== 0;
  return o;
}

/** The letter after `\` where JSON.stringify escapes a byte so; 0 where it writes \u00xx. */
const SHORT_ESCAPE = new Uint8Array(256);
SHORT_ESCAPE[0x22] = 0x22;
SHORT_ESCAPE[0x5c] = 0x5c;
SHORT_ESCAPE[0x08] = 0x62; // b
SHORT_ESCAPE[0x09] = 0x74; // t
SHORT_ESCAPE[0x0a] = 0x6e; // n
SHORT_ESCAPE[0x0c] = 0x66; // f
SHORT_ESCAPE[0x0d] = 0x72; // r
const HEX = Buffer.from('0123456789abcdef');

/**
 * `{"offset":N,"observed_time":T,"body":"` of a file line at `o`; returns its end. Everything
 * after N is the same for the lines of a batch (one observed time), so it is kept as bytes and
 * copied four at a time (lineMid).
 */
function writeLineHead(buf: Buffer, view: DataView, o: number, offset: number, time: number): number {
  o = copyWords(view, o, OFFSET_KEY_VIEW, OFFSET_KEY.length);
  o = writeNumber(buf, o, offset);
  const t = Number.isFinite(time) ? time : 0;
  if (t !== lineMid.time) {
    let k = copyBytes(lineMid.bytes, 0, MID_KEY);
    k = writeNumber(lineMid.bytes, k, t);
    lineMid.length = copyBytes(lineMid.bytes, k, BODY_OPEN);
    lineMid.time = t;
  }
  return copyWords(view, o, lineMid.view, lineMid.length);
}

const OFFSET_KEY_VIEW = new DataView(OFFSET_KEY.buffer, OFFSET_KEY.byteOffset, OFFSET_KEY.length);
const MID_KEY = Buffer.from(',"observed_time":');
const BODY_OPEN = Buffer.from(',"body":"');
/** `,"observed_time":T,"body":"` for the last T written by writeLineHead (module state: encoding is synchronous). */
const lineMid = (() => {
  const bytes = Buffer.alloc(64);
  return { time: Number.NaN, bytes, view: new DataView(bytes.buffer, bytes.byteOffset, bytes.length), length: 0 };
})();

/** Copies `n` bytes from `src` (its start) to `dst` at `o`, four at a time; returns the end. */
function copyWords(dst: DataView, o: number, src: DataView, n: number): number {
  let i = 0;
  for (; i + 4 <= n; i += 4) dst.setInt32(o + i, src.getInt32(i));
  for (; i < n; i++) dst.setUint8(o + i, src.getUint8(i));
  return o + n;
}

const isWellFormed = (s: string): boolean => (s as string & { isWellFormed(): boolean }).isWellFormed();

function copyBytes(buf: Buffer, o: number, src: Buffer): number {
  for (let i = 0; i < src.length; i++) buf[o++] = src[i]!;
  return o;
}

/** `v` as JSON writes it (String(v) for finite numbers); digits without a string for the usual non-negative integers. */
function writeNumber(buf: Buffer, o: number, v: number): number {
  if (!(v >= 0 && v <= Number.MAX_SAFE_INTEGER && Math.floor(v) === v)) return o + buf.write(String(v), o, 'latin1');
  if (v < 1e9) return writeDigits(buf, o, v, digitCount(v));
  // Two halves below 2^31, so the digit loop stays in integer arithmetic.
  const hi = Math.floor(v / 1e9);
  o = writeDigits(buf, o, hi, digitCount(hi));
  return writeDigits(buf, o, v - hi * 1e9, 9);
}

/** Decimal digits of `v` (< 2^31), left-padded with zeros to `n` digits; two per division (a line's offset and time are written per line). */
function writeDigits(buf: Buffer, o: number, v: number, n: number): number {
  let i = o + n - 1;
  for (; i > o; i -= 2) {
    const q = (v / 100) | 0;
    const r = (v - q * 100) * 2;
    buf[i] = DIGIT_PAIRS[r + 1]!;
    buf[i - 1] = DIGIT_PAIRS[r]!;
    v = q;
  }
  if (i === o) buf[o] = 48 + (v % 10);
  return o + n;
}

/** "00" to "99" as ASCII, two bytes each. */
const DIGIT_PAIRS = new Uint8Array(200);
for (let d = 0; d < 100; d++) {
  DIGIT_PAIRS[d * 2] = 48 + Math.floor(d / 10);
  DIGIT_PAIRS[d * 2 + 1] = 48 + (d % 10);
}

function digitCount(v: number): number {
  let n = 1;
  for (let p = 10; v >= p && n < 10; p *= 10) n++;
  return n;
}

/**
 * The observed time of the last line written, as digits: a source stamps a whole batch with one
 * time, so most lines copy it rather than format it again. Module state, like lz4.ts's table:
 * encoding is synchronous.
 */
const lastTime = { value: Number.NaN, bytes: Buffer.alloc(32), length: 0 };

function writeTime(buf: Buffer, o: number, v: number): number {
  if (v === lastTime.value) {
    const src = lastTime.bytes;
    for (let i = 0; i < lastTime.length; i++) buf[o++] = src[i]!;
    return o;
  }
  const end = writeNumber(buf, o, v);
  if (end - o <= lastTime.bytes.length) {
    lastTime.value = v;
    lastTime.length = buf.copy(lastTime.bytes, 0, o, end);
  }
  return end;
}

/**
 * Groups LogRecords into batches of one stream (order kept within a stream) and encodes them,
 * each message under `maxBytes` unless a single line is larger. The message key is
 * `<agent_id>/<stream_id>`, so one stream's batches stay in one partition, in order.
 * A record has a stream when it carries the whole line identity with the canonical types
 * (string stream id and path, non-negative integer generation and offset); otherwise it travels
 * in a batch without stream, its identity attributes kept as plain attributes.
 * The caller keeps ownership of `records`; nothing is retained.
 */
export function encodeLogBatch(records: readonly LogRecord[], opts: { maxBytes?: number } = {}): OutMessage[] {
  const w = new BatchWriter('logs', opts.maxBytes ?? DEFAULT_MAX_BATCH_BYTES, records.length);
  // Records of one source share their resource object: serialise it once per object.
  const resourceJson = new Map<Attributes, string>();
  // Consecutive records mostly belong to the same stream: its batch is found without a lookup.
  let lastRes: Attributes | undefined;
  let lastSid: unknown;
  let lastGen: unknown;
  let lastPath: unknown;
  let lastStreamed = false;
  let last: Batch | undefined;
  for (const r of records) {
    const a = r.attributes;
    const sid = a[AttrKeys.streamId];
    const gen = a[AttrKeys.generation];
    const path = a[AttrKeys.filePath];
    const off = a[AttrKeys.offset];
    const streamed = typeof sid === 'string' && typeof path === 'string' && isUInt(gen) && isUInt(off);
    let b: Batch | undefined;
    if (last !== undefined && r.resource === lastRes && streamed === lastStreamed && (!streamed || (sid === lastSid && gen === lastGen && path === lastPath))) {
      b = last;
    } else {
      let res = resourceJson.get(r.resource);
      if (res === undefined) {
        res = JSON.stringify(r.resource);
        resourceJson.set(r.resource, res);
      }
      const id = streamed ? `${sid}\u0000${gen}\u0000${path}\u0000${res}` : `-\u0000${res}`;
      b = w.get(id) ?? openLogGroup(w, id, r.resource, res, streamed ? { sid, gen, path } : undefined);
      lastRes = r.resource;
      lastStreamed = streamed;
      lastSid = sid;
      lastGen = gen;
      lastPath = path;
      last = b;
    }
    w.addLog(b, r, streamed ? off : undefined);
  }
  return w.finish();
}

/** Opens the log batch `id` of `w`: one stream's lines (`stream`), or records without a stream. */
function openLogGroup(w: BatchWriter, id: string, resource: Attributes, resourceJson: string, stream: { sid: string; gen: number; path: string } | undefined): Batch {
  const agentId = stringOr(resource[AttrKeys.agentId], '');
  const host = stringOr(resource[AttrKeys.hostName], '');
  const ids = stream !== undefined ? `,"stream_id":${JSON.stringify(stream.sid)},"generation":${stream.gen},"path":${JSON.stringify(stream.path)}` : '';
  const head = `{"agent_id":${JSON.stringify(agentId)},"host":${JSON.stringify(host)}${ids},"resource":${resourceJson},"lines":[`;
  return w.open(id, head, `${agentId}/${stream !== undefined ? stream.sid : ''}`);
}

/**
 * The messages encodeLogBatch makes of `block.records()`, byte for byte, written from the
 * lines' bytes: a line is copied from the buffer it was read into straight into its batch,
 * and only a line JSON cannot hold as it is (a quote, a tab, invalid UTF-8) goes through a
 * string. The agent's Kafka and bus sinks ship file lines this way (bench/kafka-e2e.mjs).
 */
export function encodeLineBlock(block: LineBlock, opts: { maxBytes?: number } = {}): OutMessage[] {
  const w = new BatchWriter('logs', opts.maxBytes ?? DEFAULT_MAX_BATCH_BYTES, block.length);
  const stream = { sid: block.streamId, gen: block.generation, path: block.path };
  const b = openLogGroup(w, '', block.resource, JSON.stringify(block.resource), stream);
  // Lines of a block lie in a few read buffers: each is viewed as words once.
  let src: Buffer | undefined;
  let srcView: DataView = EMPTY_VIEW;
  for (let i = 0; i < block.length; i++) {
    const p = block.part(i);
    const offset = block.offset(i);
    const time = block.observed(i);
    if (typeof p !== 'string') {
      if (p !== src) {
        src = p;
        srcView = new DataView(p.buffer, p.byteOffset, p.byteLength);
      }
      if (w.addLineBytes(b, p, srcView, block.start(i), block.end(i), offset, time)) continue;
    }
    // As text: the identity attributes are the batch's, so a line needs none of its own.
    const body = typeof p === 'string' ? p : p.toString('utf8', block.start(i), block.end(i));
    w.addLog(b, { kind: 'log', observed_time: time, severity_number: 0, severity_text: '', body, attributes: {}, resource: block.resource }, offset);
  }
  return w.finish();
}

/** Decodes a log batch to the LogRecords the agent produced. */
export function decodeLogBatch(value: Buffer): LogRecord[] {
  return logBatchRecords(parseLogBatch(value));
}

/** Decodes and validates a log batch without building records (the ingest stage's dedup reads identities only). */
export function parseLogBatch(value: Buffer): LogBatch {
  const o = parseObject(value, 'logs');
  const agent_id = str(o['agent_id'], 'logs', 'agent_id');
  const host = str(o['host'], 'logs', 'host');
  const resource = attrs(o['resource'], 'logs', 'resource');
  const batch: LogBatch = { agent_id, host, resource, lines: [] };
  const hasStream = o['stream_id'] !== undefined;
  if (hasStream) {
    batch.stream_id = str(o['stream_id'], 'logs', 'stream_id');
    batch.generation = uint(o['generation'], 'logs', 'generation');
    batch.path = str(o['path'], 'logs', 'path');
  } else if (o['generation'] !== undefined || o['path'] !== undefined) {
    fail('logs', 'stream_id', 'is missing while generation or path is set');
  }
  const lines = o['lines'];
  if (!Array.isArray(lines)) fail('logs', 'lines', 'expected an array');
  for (let i = 0; i < lines.length; i++) {
    const l: unknown = lines[i];
    if (!isObject(l)) fail('logs', `lines[${i}]`, 'expected an object');
    const line: WireLogLine = { observed_time: num(l['observed_time'], 'logs', `lines[${i}].observed_time`), body: null };
    if (!('body' in l)) fail('logs', `lines[${i}].body`, 'is missing');
    line.body = l['body'] as AttrValue;
    if (tooDeep(line.body, 0)) fail('logs', `lines[${i}].body`, `is nested deeper than ${MAX_VALUE_DEPTH} levels`);
    if (hasStream) line.offset = uint(l['offset'], 'logs', `lines[${i}].offset`);
    else if (l['offset'] !== undefined) fail('logs', `lines[${i}].offset`, 'is set in a batch without stream_id');
    if (l['time'] !== undefined) line.time = num(l['time'], 'logs', `lines[${i}].time`);
    if (l['severity_number'] !== undefined) line.severity_number = uint(l['severity_number'], 'logs', `lines[${i}].severity_number`);
    if (l['severity_text'] !== undefined) line.severity_text = str(l['severity_text'], 'logs', `lines[${i}].severity_text`);
    if (l['attributes'] !== undefined) line.attributes = attrs(l['attributes'], 'logs', `lines[${i}].attributes`);
    if (l['scope'] !== undefined) line.scope = scope(l['scope'], 'logs', `lines[${i}].scope`);
    if (l['trace_id'] !== undefined) line.trace_id = str(l['trace_id'], 'logs', `lines[${i}].trace_id`);
    if (l['span_id'] !== undefined) line.span_id = str(l['span_id'], 'logs', `lines[${i}].span_id`);
    batch.lines.push(line);
  }
  return batch;
}

/** LogRecords of a batch; they share the batch's resource object (records are read-only data). */
export function logBatchRecords(batch: LogBatch): LogRecord[] {
  const out: LogRecord[] = new Array<LogRecord>(batch.lines.length);
  for (let i = 0; i < batch.lines.length; i++) {
    const l = batch.lines[i]!;
    const attributes: Attributes = { ...l.attributes };
    if (batch.stream_id !== undefined) {
      attributes[AttrKeys.filePath] = batch.path ?? '';
      attributes[AttrKeys.streamId] = batch.stream_id;
      attributes[AttrKeys.generation] = batch.generation ?? 0;
      attributes[AttrKeys.offset] = l.offset ?? 0;
    }
    const r: LogRecord = {
      kind: 'log',
      observed_time: l.observed_time,
      severity_number: l.severity_number ?? 0,
      severity_text: l.severity_text ?? '',
      body: l.body,
      attributes,
      resource: batch.resource,
    };
    if (l.time !== undefined) r.time = l.time;
    if (l.scope !== undefined) r.scope = l.scope;
    if (l.trace_id !== undefined) r.trace_id = l.trace_id;
    if (l.span_id !== undefined) r.span_id = l.span_id;
    out[i] = r;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Metrics

/**
 * Groups points by resource and encodes one batch per resource (split under `maxBytes`). The key
 * is the resource's agent id, or its service.name for points from elsewhere.
 */
export function encodeMetricBatch(points: readonly MetricPoint[], opts: { maxBytes?: number } = {}): OutMessage[] {
  const w = new BatchWriter('metrics', opts.maxBytes ?? DEFAULT_MAX_BATCH_BYTES, points.length);
  const resourceJson = new Map<Attributes, string>();
  for (const p of points) {
    let res = resourceJson.get(p.resource);
    if (res === undefined) {
      res = JSON.stringify(p.resource);
      resourceJson.set(p.resource, res);
    }
    const b = w.get(res) ?? w.open(res, `{"resource":${res},"points":[`, stringOr(p.resource[AttrKeys.agentId], stringOr(p.resource[AttrKeys.serviceName], '')));
    const { kind: _kind, resource: _resource, ...rest } = p;
    w.add(b, JSON.stringify(encodeNonFinite(rest)));
  }
  return w.finish();
}

/** The numeric value fields that may be NaN or infinite (OpenTelemetry allows it; JSON does not). */
function encodeNonFinite<T extends object>(p: T): T {
  const q = p as Record<string, unknown>;
  let copy: Record<string, unknown> | undefined;
  for (const f of ['value', 'sum', 'min', 'max', 'last'] as const) {
    const v = q[f];
    if (typeof v === 'number' && !Number.isFinite(v)) {
      copy ??= { ...q };
      copy[f] = nonFinite(v);
    }
  }
  const qs = q['quantiles'];
  if (Array.isArray(qs) && qs.some((x: { value: number }) => !Number.isFinite(x.value))) {
    copy ??= { ...q };
    copy['quantiles'] = qs.map((x: { quantile: number; value: number }) => ({ quantile: x.quantile, value: Number.isFinite(x.value) ? x.value : nonFinite(x.value) }));
  }
  return (copy ?? q) as T;
}

function nonFinite(v: number): string {
  return Number.isNaN(v) ? 'NaN' : v > 0 ? '+Inf' : '-Inf';
}

export function decodeMetricBatch(value: Buffer): MetricPoint[] {
  const o = parseObject(value, 'metrics');
  const resource = attrs(o['resource'], 'metrics', 'resource');
  const points = o['points'];
  if (!Array.isArray(points)) fail('metrics', 'points', 'expected an array');
  const out: MetricPoint[] = [];
  for (let i = 0; i < points.length; i++) out.push(metricPoint(points[i], resource, `points[${i}]`));
  return out;
}

function metricPoint(v: unknown, resource: Attributes, at: string): MetricPoint {
  if (!isObject(v)) fail('metrics', at, 'expected an object');
  const T = 'metrics';
  const base = {
    kind: 'metric' as const,
    name: nonEmpty(v['name'], T, `${at}.name`),
    time: num(v['time'], T, `${at}.time`),
    attributes: attrs(v['attributes'], T, `${at}.attributes`),
    resource,
  };
  const opt = (p: MetricPoint): MetricPoint => {
    if (v['description'] !== undefined) p.description = str(v['description'], T, `${at}.description`);
    if (v['unit'] !== undefined) p.unit = str(v['unit'], T, `${at}.unit`);
    if (v['start_time'] !== undefined) p.start_time = num(v['start_time'], T, `${at}.start_time`);
    if (v['scope'] !== undefined) p.scope = scope(v['scope'], T, `${at}.scope`);
    return p;
  };
  const stats = (p: HistogramPoint | ExponentialHistogramPoint): MetricPoint => {
    if (v['sum'] !== undefined) p.sum = value(v['sum'], T, `${at}.sum`);
    if (v['min'] !== undefined) p.min = value(v['min'], T, `${at}.min`);
    if (v['max'] !== undefined) p.max = value(v['max'], T, `${at}.max`);
    return p;
  };
  const type = v['type'];
  switch (type) {
    case 'gauge':
      return opt({ ...base, type, value: value(v['value'], T, `${at}.value`) });
    case 'sum':
      return opt({
        ...base,
        type,
        temporality: temporality(v['temporality'], `${at}.temporality`),
        monotonic: bool(v['monotonic'], T, `${at}.monotonic`),
        value: value(v['value'], T, `${at}.value`),
      });
    case 'histogram': {
      const bucket_bounds = numArray(v['bucket_bounds'], `${at}.bucket_bounds`, false);
      const bucket_counts = numArray(v['bucket_counts'], `${at}.bucket_counts`, true);
      if (bucket_counts.length !== bucket_bounds.length + 1 && !(bucket_counts.length === 0 && bucket_bounds.length === 0)) {
        fail(T, `${at}.bucket_counts`, 'must have one entry more than bucket_bounds');
      }
      return opt(
        stats({
          ...base,
          type,
          temporality: temporality(v['temporality'], `${at}.temporality`),
          count: uint(v['count'], T, `${at}.count`),
          bucket_bounds,
          bucket_counts,
        }),
      );
    }
    case 'exponential_histogram':
      return opt(
        stats({
          ...base,
          type,
          temporality: temporality(v['temporality'], `${at}.temporality`),
          count: uint(v['count'], T, `${at}.count`),
          scale: int(v['scale'], T, `${at}.scale`),
          zero_count: uint(v['zero_count'], T, `${at}.zero_count`),
          positive: expBuckets(v['positive'], `${at}.positive`),
          negative: expBuckets(v['negative'], `${at}.negative`),
        }),
      );
    case 'summary': {
      const qs = v['quantiles'];
      if (!Array.isArray(qs)) fail(T, `${at}.quantiles`, 'expected an array');
      const quantiles = qs.map((q: unknown, j) => {
        if (!isObject(q)) fail(T, `${at}.quantiles[${j}]`, 'expected an object');
        const quantile = num(q['quantile'], T, `${at}.quantiles[${j}].quantile`);
        if (quantile < 0 || quantile > 1) fail(T, `${at}.quantiles[${j}].quantile`, 'must be in [0,1]');
        return { quantile, value: value(q['value'], T, `${at}.quantiles[${j}].value`) };
      });
      return opt({ ...base, type, count: uint(v['count'], T, `${at}.count`), sum: value(v['sum'], T, `${at}.sum`), quantiles });
    }
    default:
      return fail(T, `${at}.type`, `unknown metric type ${JSON.stringify(type ?? null)}`);
  }
}

function temporality(v: unknown, at: string): Temporality {
  if (v !== 'delta' && v !== 'cumulative') fail('metrics', at, 'expected "delta" or "cumulative"');
  return v;
}

function numArray(v: unknown, at: string, counts: boolean): number[] {
  if (!Array.isArray(v)) fail('metrics', at, 'expected an array');
  for (let i = 0; i < v.length; i++) {
    const x: unknown = v[i];
    if (counts ? !isUInt(x) : !isFiniteNumber(x)) fail('metrics', `${at}[${i}]`, counts ? 'expected a non-negative integer' : 'expected a finite number');
  }
  return v as number[];
}

function expBuckets(v: unknown, at: string): ExpBuckets {
  if (!isObject(v)) fail('metrics', at, 'expected an object');
  return { offset: int(v['offset'], 'metrics', `${at}.offset`), bucket_counts: numArray(v['bucket_counts'], `${at}.bucket_counts`, true) };
}

// ---------------------------------------------------------------------------------------------
// One-record messages: rollups, alerts, patterns, agents, state

export function encodeRollup(r: RollupPartial): OutMessage {
  return { key: r.series_id, value: Buffer.from(JSON.stringify(encodeNonFinite(r))), headers: wireHeaders('rollups') };
}

export function decodeRollup(buf: Buffer): RollupPartial {
  const T = 'rollups';
  const o = parseObject(buf, T);
  const r: RollupPartial = {
    series_id: nonEmpty(o['series_id'], T, 'series_id'),
    name: nonEmpty(o['name'], T, 'name'),
    labels: labels(o['labels'], T, 'labels'),
    window_start: num(o['window_start'], T, 'window_start'),
    window_ms: posInt(o['window_ms'], T, 'window_ms'),
    count: uint(o['count'], T, 'count'),
    sum: value(o['sum'], T, 'sum'),
    min: value(o['min'], T, 'min'),
    max: value(o['max'], T, 'max'),
    last: value(o['last'], T, 'last'),
    final: bool(o['final'], T, 'final'),
    source_instance: str(o['source_instance'], T, 'source_instance'),
  };
  if (o['sketch'] !== undefined) {
    const s = str(o['sketch'], T, 'sketch');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) fail(T, 'sketch', 'expected base64');
    r.sketch = s;
  }
  return r;
}

export function encodeAlert(a: AlertRecord): OutMessage {
  return { key: a.alert_id, value: Buffer.from(JSON.stringify(encodeNonFinite(a))), headers: wireHeaders('alerts') };
}

export function decodeAlert(buf: Buffer): AlertRecord {
  const T = 'alerts';
  const o = parseObject(buf, T);
  const state = o['state'];
  if (state !== 'firing' && state !== 'resolved') fail(T, 'state', 'expected "firing" or "resolved"');
  const severity = o['severity'];
  if (severity !== 'info' && severity !== 'warning' && severity !== 'critical') fail(T, 'severity', 'expected "info", "warning" or "critical"');
  const a: AlertRecord = {
    alert_id: nonEmpty(o['alert_id'], T, 'alert_id'),
    rule: nonEmpty(o['rule'], T, 'rule'),
    state,
    severity,
    labels: labels(o['labels'], T, 'labels'),
    started_at: num(o['started_at'], T, 'started_at'),
    time: num(o['time'], T, 'time'),
    value: value(o['value'], T, 'value'),
    summary: str(o['summary'], T, 'summary'),
  };
  if (o['series_id'] !== undefined) a.series_id = str(o['series_id'], T, 'series_id');
  if (o['resolved_at'] !== undefined) a.resolved_at = num(o['resolved_at'], T, 'resolved_at');
  if (o['score'] !== undefined) {
    const s = num(o['score'], T, 'score');
    if (s < 0 || s > 1) fail(T, 'score', 'must be in [0,1]');
    a.score = s;
  }
  return a;
}

export function encodePattern(p: PatternRecord): OutMessage {
  return { key: p.pattern_id, value: Buffer.from(JSON.stringify(p)), headers: wireHeaders('patterns') };
}

export function decodePattern(buf: Buffer): PatternRecord {
  const T = 'patterns';
  const o = parseObject(buf, T);
  const p: PatternRecord = {
    pattern_id: nonEmpty(o['pattern_id'], T, 'pattern_id'),
    template: str(o['template'], T, 'template'),
    count: uint(o['count'], T, 'count'),
    first_seen: num(o['first_seen'], T, 'first_seen'),
    last_seen: num(o['last_seen'], T, 'last_seen'),
    labels: labels(o['labels'], T, 'labels'),
  };
  if (o['sample'] !== undefined) p.sample = str(o['sample'], T, 'sample');
  if (o['alias_of'] !== undefined) p.alias_of = nonEmpty(o['alias_of'], T, 'alias_of');
  if (o['windows'] !== undefined) {
    const w = o['windows'];
    if (!Array.isArray(w)) fail(T, 'windows', 'expected an array');
    p.windows = w.map((x: unknown, i) => {
      if (!Array.isArray(x) || x.length !== 2) fail(T, `windows[${i}]`, 'expected [start, count]');
      return [num(x[0], T, `windows[${i}][0]`), uint(x[1], T, `windows[${i}][1]`)];
    });
  }
  return p;
}

export function encodeHeartbeat(h: AgentHeartbeat): OutMessage {
  return { key: h.agent_id, value: Buffer.from(JSON.stringify(h)), headers: wireHeaders('agents') };
}

export function decodeHeartbeat(buf: Buffer): AgentHeartbeat {
  const T = 'agents';
  const o = parseObject(buf, T);
  return {
    agent_id: nonEmpty(o['agent_id'], T, 'agent_id'),
    host: str(o['host'], T, 'host'),
    version: str(o['version'], T, 'version'),
    started_at: num(o['started_at'], T, 'started_at'),
    time: num(o['time'], T, 'time'),
    interval_ms: posInt(o['interval_ms'], T, 'interval_ms'),
    streams: uint(o['streams'], T, 'streams'),
    stopping: bool(o['stopping'], T, 'stopping'),
  };
}

/** Key `<agent_id>/<stream_id>/<generation>`: compaction keeps the latest offset per generation. */
export function encodeStreamState(s: StreamState): OutMessage {
  return { key: `${s.agent_id}/${s.stream_id}/${s.generation}`, value: Buffer.from(JSON.stringify(s)), headers: wireHeaders('state') };
}

export function decodeStreamState(buf: Buffer): StreamState {
  const T = 'state';
  const o = parseObject(buf, T);
  return {
    agent_id: str(o['agent_id'], T, 'agent_id'),
    stream_id: str(o['stream_id'], T, 'stream_id'),
    generation: uint(o['generation'], T, 'generation'),
    offset: uint(o['offset'], T, 'offset'),
  };
}

// ---------------------------------------------------------------------------------------------
// Checks. Each returns the value typed or throws TW_WIRE_DECODE naming the record type and field.

function fail(type: WireType, at: string, why: string): never {
  throw new TidewatchError('TW_WIRE_DECODE', `${type}: ${at}: ${why}`, { type, field: at });
}

function parseObject(buf: Buffer, type: WireType): Record<string, unknown> {
  if (!Buffer.isBuffer(buf)) fail(type, '(value)', 'expected bytes');
  let v: unknown;
  try {
    // `fatal` rejects invalid UTF-8 instead of decoding it to U+FFFD and carrying mangled text on.
    v = JSON.parse(utf8.decode(buf));
  } catch {
    return fail(type, '(value)', 'not valid UTF-8 JSON');
  }
  if (!isObject(v)) fail(type, '(value)', 'expected a JSON object');
  return v;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function isUInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function stringOr(v: AttrValue | undefined, dflt: string): string {
  return typeof v === 'string' ? v : dflt;
}

function str(v: unknown, t: WireType, at: string): string {
  if (typeof v !== 'string') fail(t, at, 'expected a string');
  return v;
}

function nonEmpty(v: unknown, t: WireType, at: string): string {
  if (typeof v !== 'string' || v === '') fail(t, at, 'expected a non-empty string');
  return v;
}

function num(v: unknown, t: WireType, at: string): number {
  if (!isFiniteNumber(v)) fail(t, at, 'expected a finite number');
  return v;
}

/** A measured value: a finite number, or "NaN" / "+Inf" / "-Inf". */
function value(v: unknown, t: WireType, at: string): number {
  if (isFiniteNumber(v)) return v;
  if (v === 'NaN') return Number.NaN;
  if (v === '+Inf') return Number.POSITIVE_INFINITY;
  if (v === '-Inf') return Number.NEGATIVE_INFINITY;
  return fail(t, at, 'expected a number (or "NaN", "+Inf", "-Inf")');
}

function int(v: unknown, t: WireType, at: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) fail(t, at, 'expected an integer');
  return v;
}

function uint(v: unknown, t: WireType, at: string): number {
  if (!isUInt(v)) fail(t, at, 'expected a non-negative integer');
  return v;
}

function posInt(v: unknown, t: WireType, at: string): number {
  if (!isUInt(v) || v === 0) fail(t, at, 'expected a positive integer');
  return v;
}

function bool(v: unknown, t: WireType, at: string): boolean {
  if (typeof v !== 'boolean') fail(t, at, 'expected true or false');
  return v;
}

/**
 * Values nested deeper than this are refused. JSON.parse reads any depth, but JSON.stringify and
 * every recursive walk downstream overflow the stack from about 10 000 levels, so one such record
 * would fail its whole batch again at every retry (found by test/fuzz/wire.test.ts). OTLP
 * receivers already refuse more than 32 levels; the margin is for prefixes added on the way.
 */
const MAX_VALUE_DEPTH = 64;

function tooDeep(v: unknown, depth: number): boolean {
  if (typeof v !== 'object' || v === null) return false;
  if (depth >= MAX_VALUE_DEPTH) return true;
  if (Array.isArray(v)) {
    for (const x of v) if (tooDeep(x, depth + 1)) return true;
    return false;
  }
  for (const k in v) if (tooDeep((v as Record<string, unknown>)[k], depth + 1)) return true;
  return false;
}

/** Any JSON object not nested too deep is a valid attribute map (JSON.parse yields only AttrValues). */
function attrs(v: unknown, t: WireType, at: string): Attributes {
  if (!isObject(v)) fail(t, at, 'expected an object');
  if (tooDeep(v, 0)) fail(t, at, `is nested deeper than ${MAX_VALUE_DEPTH} levels`);
  return v as Attributes;
}

function labels(v: unknown, t: WireType, at: string): Record<string, string> {
  if (!isObject(v)) fail(t, at, 'expected an object');
  for (const k in v) if (typeof v[k] !== 'string') fail(t, `${at}.${k}`, 'expected a string');
  return v as Record<string, string>;
}

function scope(v: unknown, t: WireType, at: string): Scope {
  if (!isObject(v)) fail(t, at, 'expected an object');
  const s: Scope = { name: str(v['name'], t, `${at}.name`) };
  if (v['version'] !== undefined) s.version = str(v['version'], t, `${at}.version`);
  return s;
}
