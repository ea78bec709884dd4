/**
 * `encoding: otlp_proto` for the kafka sink's logs: one OTLP ExportLogsServiceRequest
 * (opentelemetry-proto, collector/logs/v1) per Kafka message, as the OpenTelemetry Collector's
 * Kafka exporter writes and its Kafka receiver reads (`encoding: otlp_proto`). The line identity
 * travels as the log record attributes it already is (`tidewatch.stream_id`,
 * `tidewatch.generation`, `tidewatch.offset`, `log.file.path`), the agent id as the resource
 * attribute `tidewatch.agent.id`. Records are grouped per stream (key `<agent_id>/<stream_id>`,
 * so one file stays in one partition, in order) and per message under `maxBytes`.
 *
 * Only logs: metrics in otlp_proto are not written yet (the collector reads them).
 */
import type { AttrValue, Attributes, LogRecord } from '../../../core/model.js';
import { AttrKeys } from '../../../core/model.js';
import type { OutMessage } from '../../../core/transport.js';

class Pb {
  private readonly parts: Buffer[] = [];
  size = 0;

  private push(b: Buffer): void {
    this.parts.push(b);
    this.size += b.length;
  }

  private varint(n: bigint | number): void {
    let v = BigInt(n);
    const out: number[] = [];
    while (v > 0x7fn) {
      out.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    out.push(Number(v));
    this.push(Buffer.from(out));
  }

  private tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  uint(field: number, n: number): this {
    if (n === 0) return this;
    this.tag(field, 0);
    this.varint(n);
    return this;
  }

  int64(field: number, n: number): this {
    this.tag(field, 0);
    // Two's complement on 64 bits for negatives, as protobuf int64 wants.
    this.varint(n < 0 ? (1n << 64n) + BigInt(n) : BigInt(n));
    return this;
  }

  bool(field: number, b: boolean): this {
    this.tag(field, 0);
    this.varint(b ? 1 : 0);
    return this;
  }

  double(field: number, v: number): this {
    this.tag(field, 1);
    const b = Buffer.alloc(8);
    b.writeDoubleLE(v);
    this.push(b);
    return this;
  }

  fixed64ms(field: number, ms: number | undefined): this {
    if (ms === undefined || !Number.isFinite(ms) || ms <= 0) return this;
    this.tag(field, 1);
    const b = Buffer.alloc(8);
    // Whole milliseconds and the fraction apart: ms * 1e6 as a double loses the last digits.
    const whole = Math.floor(ms);
    b.writeBigUInt64LE(BigInt(whole) * 1_000_000n + BigInt(Math.round((ms - whole) * 1e6)));
    this.push(b);
    return this;
  }

  string(field: number, s: string): this {
    if (s === '') return this;
    return this.bytes(field, Buffer.from(s, 'utf8'));
  }

  bytes(field: number, b: Buffer): this {
    this.tag(field, 2);
    this.varint(b.length);
    this.push(b);
    return this;
  }

  message(field: number, m: Pb): this {
    return this.bytes(field, m.finish());
  }

  finish(): Buffer {
    return Buffer.concat(this.parts, this.size);
  }
}

function anyValue(v: AttrValue): Pb {
  const w = new Pb();
  if (typeof v === 'string') w.bytes(1, Buffer.from(v, 'utf8'));
  else if (typeof v === 'boolean') w.bool(2, v);
  else if (typeof v === 'number') {
    if (Number.isSafeInteger(v)) w.int64(3, v);
    else w.double(4, v);
  } else if (Array.isArray(v)) {
    const arr = new Pb();
    for (const x of v) arr.message(1, anyValue(x));
    w.message(5, arr);
  } else if (v !== null && typeof v === 'object') {
    const kv = new Pb();
    for (const [k, x] of Object.entries(v)) kv.message(1, keyValue(k, x));
    w.message(6, kv);
  }
  return w;
}

function keyValue(k: string, v: AttrValue): Pb {
  return new Pb().string(1, k).message(2, anyValue(v));
}

function attributes(w: Pb, field: number, a: Attributes): void {
  for (const [k, v] of Object.entries(a)) w.message(field, keyValue(k, v));
}

function logRecord(r: LogRecord): Buffer {
  const w = new Pb();
  w.fixed64ms(1, r.time);
  w.uint(2, r.severity_number);
  w.string(3, r.severity_text);
  w.message(5, anyValue(r.body));
  attributes(w, 6, r.attributes);
  if (r.trace_id !== undefined) w.bytes(9, Buffer.from(r.trace_id, 'hex'));
  if (r.span_id !== undefined) w.bytes(10, Buffer.from(r.span_id, 'hex'));
  w.fixed64ms(11, r.observed_time);
  return w.finish();
}

interface Group {
  key: string;
  resource: Attributes;
  scope: LogRecord['scope'];
  records: Buffer[];
  bytes: number;
}

/** LogRecords → ExportLogsServiceRequest messages, per stream, each under maxBytes unless one record is larger. */
export function encodeOtlpLogs(records: readonly LogRecord[], maxBytes: number): OutMessage[] {
  const out: OutMessage[] = [];
  const groups = new Map<string, Group>();
  const flush = (g: Group): void => {
    if (g.records.length === 0) return;
    const scopeLogs = new Pb();
    if (g.scope !== undefined) scopeLogs.message(1, new Pb().string(1, g.scope.name).string(2, g.scope.version ?? ''));
    for (const r of g.records) scopeLogs.bytes(2, r);
    const res = new Pb();
    attributes(res, 1, g.resource);
    const rl = new Pb().message(1, res).message(2, scopeLogs);
    out.push({ key: g.key, value: new Pb().message(1, rl).finish() });
    g.records = [];
    g.bytes = 0;
  };
  for (const r of records) {
    const agent = r.resource[AttrKeys.agentId];
    const stream = r.attributes[AttrKeys.streamId];
    const key = `${typeof agent === 'string' ? agent : ''}/${typeof stream === 'string' ? stream : ''}`;
    const gk = `${key}\u0000${r.scope?.name ?? ''}\u0000${r.scope?.version ?? ''}`;
    let g = groups.get(gk);
    if (g === undefined) {
      g = { key, resource: r.resource, scope: r.scope, records: [], bytes: 0 };
      groups.set(gk, g);
    }
    const enc = logRecord(r);
    // Framing of the nested messages is a few bytes per record and per request.
    if (g.records.length > 0 && g.bytes + enc.length + 16 > maxBytes - 4096) flush(g);
    g.records.push(enc);
    g.bytes += enc.length + 16;
  }
  for (const g of groups.values()) flush(g);
  return out;
}
