/**
 * A minimal protobuf wire reader and writer: just the wire types OTLP uses (varint, 64-bit,
 * length-delimited, 32-bit). Hand-written rather than a protobufjs descriptor: the OTLP subset
 * is small, its field numbers are facts of the specification, and the agent stays free of a
 * runtime schema compiler. Every read is bounds-checked; a malformed or truncated message throws
 * WireError, never reads past its end and never allocates more than its input.
 */

export class WireError extends Error {
  override readonly name = 'WireError';
}

const TWO_32 = 4294967296;

export class Reader {
  pos: number;
  constructor(
    readonly buf: Buffer,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
  }

  done(): boolean {
    return this.pos >= this.end;
  }

  /** A field tag: field number and wire type. */
  tag(): { field: number; wire: number } {
    const t = this.uint32();
    const field = t >>> 3;
    if (field === 0) throw new WireError(`field number 0 at byte ${this.pos}`);
    return { field, wire: t & 7 };
  }

  /** Varint as an unsigned 32-bit number (larger varints are truncated as protobuf does for uint32). */
  uint32(): number {
    let result = 0;
    let shift = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new WireError('truncated varint');
      const b = this.buf[this.pos++]!;
      if (shift < 32) result |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result >>> 0;
      shift += 7;
    }
    throw new WireError('varint longer than 10 bytes');
  }

  /** Varint as a 64-bit value split into 32-bit halves. */
  private varint64(): [lo: number, hi: number] {
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new WireError('truncated varint');
      const b = this.buf[this.pos++]!;
      if (i < 4) lo |= (b & 0x7f) << (7 * i);
      else if (i === 4) {
        lo |= (b & 0x0f) << 28;
        hi |= (b & 0x7f) >>> 4;
      } else hi |= (b & 0x7f) << (7 * i - 32);
      if ((b & 0x80) === 0) return [lo >>> 0, hi >>> 0];
    }
    throw new WireError('varint longer than 10 bytes');
  }

  /** uint64 varint as a JS number (exact below 2^53). */
  uint64(): number {
    const [lo, hi] = this.varint64();
    return hi * TWO_32 + lo;
  }

  /** int64 varint (two's complement) as a JS number. */
  int64(): number {
    const [lo, hi] = this.varint64();
    return signed(lo, hi);
  }

  sint32(): number {
    const n = this.uint32();
    return (n >>> 1) ^ -(n & 1);
  }

  bool(): boolean {
    return this.uint64() !== 0;
  }

  private need(n: number): void {
    if (this.pos + n > this.end) throw new WireError(`truncated: need ${n} bytes at ${this.pos}, message ends at ${this.end}`);
  }

  fixed64(): number {
    this.need(8);
    const lo = this.buf.readUInt32LE(this.pos);
    const hi = this.buf.readUInt32LE(this.pos + 4);
    this.pos += 8;
    return hi * TWO_32 + lo;
  }

  /** fixed64 nanoseconds since the epoch as epoch milliseconds (fractional), without BigInt. */
  nanosAsMs(): number {
    this.need(8);
    const lo = this.buf.readUInt32LE(this.pos);
    const hi = this.buf.readUInt32LE(this.pos + 4);
    this.pos += 8;
    // ns = hi * 2^32 + lo, and 2^32 = 4294 * 1e6 + 967296: every partial result stays below 2^53,
    // so whole milliseconds come out exact and the fraction is rounded once.
    const x = hi * 967296 + lo;
    const q = Math.floor(x / 1e6);
    return hi * 4294 + q + (x - q * 1e6) / 1e6;
  }

  sfixed64(): number {
    this.need(8);
    const lo = this.buf.readUInt32LE(this.pos);
    const hi = this.buf.readUInt32LE(this.pos + 4);
    this.pos += 8;
    return signed(lo, hi);
  }

  fixed32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  double(): number {
    this.need(8);
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }

  /** A length-delimited field's bounds; the reader moves past it. */
  bytes(): [start: number, end: number] {
    const len = this.uint32();
    this.need(len);
    const start = this.pos;
    this.pos += len;
    return [start, this.pos];
  }

  string(): string {
    const [s, e] = this.bytes();
    return this.buf.toString('utf8', s, e);
  }

  /** A sub-reader over an embedded message. */
  sub(): Reader {
    const [s, e] = this.bytes();
    return new Reader(this.buf, s, e);
  }

  skip(wire: number): void {
    switch (wire) {
      case 0:
        this.varint64();
        return;
      case 1:
        this.need(8);
        this.pos += 8;
        return;
      case 2:
        this.bytes();
        return;
      case 5:
        this.need(4);
        this.pos += 4;
        return;
      default:
        throw new WireError(`unsupported wire type ${wire} at byte ${this.pos}`);
    }
  }

  /** Repeated fixed64 (packed or not), appended to `out`. */
  repeatedFixed64(wire: number, out: number[]): void {
    if (wire === 1) {
      out.push(this.fixed64());
      return;
    }
    expectWire(wire, 2);
    const [s, e] = this.bytes();
    if ((e - s) % 8 !== 0) throw new WireError('packed fixed64 length is not a multiple of 8');
    for (let p = s; p < e; p += 8) out.push(this.buf.readUInt32LE(p + 4) * TWO_32 + this.buf.readUInt32LE(p));
  }

  /** Repeated double (packed or not), appended to `out`. */
  repeatedDouble(wire: number, out: number[]): void {
    if (wire === 1) {
      out.push(this.double());
      return;
    }
    expectWire(wire, 2);
    const [s, e] = this.bytes();
    if ((e - s) % 8 !== 0) throw new WireError('packed double length is not a multiple of 8');
    for (let p = s; p < e; p += 8) out.push(this.buf.readDoubleLE(p));
  }

  /** Repeated uint64 varint (packed or not), appended to `out`. */
  repeatedUint64(wire: number, out: number[]): void {
    if (wire === 0) {
      out.push(this.uint64());
      return;
    }
    expectWire(wire, 2);
    const [s, e] = this.bytes();
    const sub = new Reader(this.buf, s, e);
    while (!sub.done()) out.push(sub.uint64());
  }
}

export function expectWire(got: number, want: number): void {
  if (got !== want) throw new WireError(`wire type ${got} where ${want} was expected`);
}

function signed(lo: number, hi: number): number {
  if ((hi & 0x80000000) === 0) return hi * TWO_32 + lo;
  // Two's complement negative: -(~value + 1).
  const nlo = ~lo >>> 0;
  const nhi = ~hi >>> 0;
  return -(nhi * TWO_32 + nlo + 1);
}

/** A growing protobuf writer, for the few messages the receiver answers with. */
export class Writer {
  private chunks: number[] = [];

  private varint(n: number): void {
    let v = n >>> 0 === n ? n : Math.max(0, Math.floor(n));
    while (v > 0x7f) {
      this.chunks.push((v % 128) | 0x80);
      v = Math.floor(v / 128);
    }
    this.chunks.push(v);
  }

  uint(field: number, n: number): this {
    if (n === 0) return this;
    this.varint((field << 3) | 0);
    this.varint(n);
    return this;
  }

  string(field: number, s: string): this {
    if (s === '') return this;
    return this.bytes(field, Buffer.from(s, 'utf8'));
  }

  bytes(field: number, b: Uint8Array): this {
    this.varint((field << 3) | 2);
    this.varint(b.length);
    for (const x of b) this.chunks.push(x);
    return this;
  }

  finish(): Buffer {
    return Buffer.from(this.chunks);
  }
}
