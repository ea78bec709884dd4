/**
 * `encoding: otlp_proto` for the kafka sink's logs: one OTLP ExportLogsServiceRequest
 * (opentelemetry-proto, collector/logs/v1) per Kafka message, as the OpenTelemetry Collector's
 * Kafka exporter writes and its Kafka receiver reads (`encoding: otlp_proto`). The line identity
 * travels as the log record attributes it already is (`tidewatch.stream_id`,
 * `tidewatch.generation`, `tidewatch.offset`, `log.file.path`), the agent id as the resource
 * attribute `tidewatch.agent.id`. Records are grouped per stream (key `<agent_id>/<stream_id>`,
 * so one file stays in one partition, in order) and per message under `maxBytes`.
 *
 * Metrics likewise: one ExportMetricsServiceRequest per message, points grouped per resource.
 */
import type { AttrValue, Attributes, LogRecord, MetricPoint } from '../../../core/model.js';
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

  /** fixed64 of a count (non-negative integer). */
  fixed64(field: number, n: number): this {
    this.tag(field, 1);
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(Math.max(0, Math.round(n))));
    this.push(b);
    return this;
  }

  sint32(field: number, n: number): this {
    if (n === 0) return this;
    this.tag(field, 0);
    this.varint(n >= 0 ? n * 2 : -n * 2 - 1);
    return this;
  }

  packedFixed64(field: number, ns: readonly number[]): this {
    if (ns.length === 0) return this;
    const b = Buffer.alloc(8 * ns.length);
    ns.forEach((n, i) => b.writeBigUInt64LE(BigInt(Math.max(0, Math.round(n))), i * 8));
    return this.bytes(field, b);
  }

  packedDouble(field: number, ns: readonly number[]): this {
    if (ns.length === 0) return this;
    const b = Buffer.alloc(8 * ns.length);
    ns.forEach((n, i) => b.writeDoubleLE(n, i * 8));
    return this.bytes(field, b);
  }

  packedVarint(field: number, ns: readonly number[]): this {
    if (ns.length === 0) return this;
    const w = new Pb();
    for (const n of ns) w.varint(Math.max(0, Math.round(n)));
    return this.message(field, w);
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

/** One OTLP Metric message holding one point. */
function metric(p: MetricPoint): Buffer {
  const m = new Pb().string(1, p.name).string(2, p.description ?? '').string(3, p.unit ?? '');
  const dp = new Pb();
  const times = (attrField: number): void => {
    attributes(dp, attrField, p.attributes);
    dp.fixed64ms(2, p.start_time);
    dp.fixed64ms(3, p.time);
  };
  const temporality = (t: 'delta' | 'cumulative'): number => (t === 'delta' ? 1 : 2);
  switch (p.type) {
    case 'gauge':
    case 'sum': {
      times(7);
      dp.double(4, p.value);
      const data = new Pb().message(1, dp);
      if (p.type === 'sum') data.uint(2, temporality(p.temporality)).bool(3, p.monotonic);
      m.message(p.type === 'gauge' ? 5 : 7, data);
      break;
    }
    case 'histogram': {
      times(9);
      dp.fixed64(4, p.count);
      if (p.sum !== undefined) dp.double(5, p.sum);
      dp.packedFixed64(6, p.bucket_counts).packedDouble(7, p.bucket_bounds);
      if (p.min !== undefined) dp.double(11, p.min);
      if (p.max !== undefined) dp.double(12, p.max);
      m.message(9, new Pb().message(1, dp).uint(2, temporality(p.temporality)));
      break;
    }
    case 'exponential_histogram': {
      times(1);
      dp.fixed64(4, p.count);
      if (p.sum !== undefined) dp.double(5, p.sum);
      dp.sint32(6, p.scale).fixed64(7, p.zero_count);
      dp.message(8, new Pb().sint32(1, p.positive.offset).packedVarint(2, p.positive.bucket_counts));
      dp.message(9, new Pb().sint32(1, p.negative.offset).packedVarint(2, p.negative.bucket_counts));
      if (p.min !== undefined) dp.double(12, p.min);
      if (p.max !== undefined) dp.double(13, p.max);
      m.message(10, new Pb().message(1, dp).uint(2, temporality(p.temporality)));
      break;
    }
    case 'summary': {
      times(7);
      dp.fixed64(4, p.count).double(5, p.sum);
      for (const q of p.quantiles) dp.message(6, new Pb().double(1, q.quantile).double(2, q.value));
      m.message(11, new Pb().message(1, dp));
      break;
    }
  }
  return m.finish();
}

/** MetricPoints → ExportMetricsServiceRequest messages, per resource (and scope), each under maxBytes. */
export function encodeOtlpMetrics(points: readonly MetricPoint[], maxBytes: number): OutMessage[] {
  const out: OutMessage[] = [];
  const groups = new Map<string, { key: string; resource: Attributes; scope: MetricPoint['scope']; metrics: Buffer[]; bytes: number }>();
  const resourceKey = new Map<Attributes, string>();
  const flush = (g: { key: string; resource: Attributes; scope: MetricPoint['scope']; metrics: Buffer[]; bytes: number }): void => {
    if (g.metrics.length === 0) return;
    const sm = new Pb();
    if (g.scope !== undefined) sm.message(1, new Pb().string(1, g.scope.name).string(2, g.scope.version ?? ''));
    for (const b of g.metrics) sm.bytes(2, b);
    const res = new Pb();
    attributes(res, 1, g.resource);
    out.push({ key: g.key, value: new Pb().message(1, new Pb().message(1, res).message(2, sm)).finish() });
    g.metrics = [];
    g.bytes = 0;
  };
  for (const p of points) {
    let rk = resourceKey.get(p.resource);
    if (rk === undefined) {
      rk = JSON.stringify(p.resource);
      resourceKey.set(p.resource, rk);
    }
    const gk = `${rk}\u0000${p.scope?.name ?? ''}\u0000${p.scope?.version ?? ''}`;
    let g = groups.get(gk);
    if (g === undefined) {
      const id = p.resource[AttrKeys.agentId] ?? p.resource[AttrKeys.serviceName];
      g = { key: typeof id === 'string' ? id : '', resource: p.resource, scope: p.scope, metrics: [], bytes: 0 };
      groups.set(gk, g);
    }
    const enc = metric(p);
    if (g.metrics.length > 0 && g.bytes + enc.length + 16 > maxBytes - 4096) flush(g);
    g.metrics.push(enc);
    g.bytes += enc.length + 16;
  }
  for (const g of groups.values()) flush(g);
  return out;
}
