/**
 * The kafka sink's disk buffer: an append-only queue of produce groups (topic + messages) in
 * bounded segment files under `<data_dir>/sink/<name>/buffer/`, so that an agent keeps taking
 * data while Kafka is unreachable and loses none of it across its own restart.
 *
 * Record framing (little-endian): magic u32 0x54574231 ("TWB1"), payload length u32, CRC-32 of
 * the payload u32, payload. Payload: topic (u16 length + UTF-8), event count u32, message count
 * u32, then per message key (i32 length, -1 for none), value (u32 length), header count u16 and
 * each header's name and value (u16 length + UTF-8).
 *
 * Contract:
 * - append() resolves once the record is written and fdatasync'ed (it survives a crash).
 * - peek() returns the oldest records not yet acknowledged, in append order; ack(n) removes the
 *   first n of them. A restart resumes at the first record not acknowledged (the position is
 *   saved in `ack`, written with rename): records sent but not acknowledged before a crash are
 *   sent again (at-least-once; the collector drops replayed lines by offset).
 * - Bounded: when a record would take the buffer past max_bytes, `block` waits for acks to free
 *   room; `drop_oldest` deletes the oldest segment and reports its records to onDrop.
 * - A record whose magic, length or checksum is wrong (a torn write after a power cut, a flipped
 *   bit) is skipped: its bytes go to onCorrupt and reading resumes at the next valid record.
 */
import { closeSync, mkdirSync, openSync, readdirSync, readSync, renameSync, statSync, unlinkSync, writeFileSync, readFileSync, fsyncSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { TidewatchError } from '../../../core/errors.js';
import type { OutMessage } from '../../../core/transport.js';

const MAGIC = 0x54574231;
const HEADER = 12;
/** A payload larger than this is taken for corruption (the sink's messages are ~1 MB). */
const MAX_RECORD = 64 * 1024 * 1024;

export interface DiskBufferOptions {
  dir: string;
  maxBytes: number;
  segmentBytes: number;
  whenFull: 'block' | 'drop_oldest';
  onDrop: (events: number, reason: 'buffer_full') => void;
  onCorrupt: (bytes: number) => void;
}

export interface BufferedGroup {
  topic: string;
  messages: OutMessage[];
  events: number;
  /** The sender removes the messages Kafka acknowledged (a retry sends only the rest). */
}

interface Segment {
  seq: number;
  path: string;
  /** Bytes in the file. */
  size: number;
  /** Events in records at or after the read position (whole file for later segments). */
  events: number;
}

export class DiskBuffer {
  private segments: Segment[] = [];
  /** Read position: first unacknowledged record in segments[0]. */
  private readPos = 0;
  private writeFd: number | undefined;
  private totalBytes = 0;
  private peeked: { end: number; events: number; segSeq: number }[] = [];
  private readonly waiters: (() => void)[] = [];
  private closed = false;
  private readonly reportedCorrupt = new Set<string>();
  private appending: Promise<void> = Promise.resolve();

  constructor(private readonly opts: DiskBufferOptions) {}

  /** Events appended and not acknowledged. */
  get pendingRecords(): number {
    return this.segments.reduce((n, s) => n + s.events, 0);
  }

  /** Bytes appended and not acknowledged (approximately: the read segment counts from the read position). */
  get pendingBytes(): number {
    return this.totalBytes - this.readPos;
  }

  async open(): Promise<void> {
    mkdirSync(this.opts.dir, { recursive: true });
    const seqs = readdirSync(this.opts.dir)
      .map((f) => /^seg-(\d{12})\.log$/.exec(f)?.[1])
      .filter((s): s is string => s !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    let ack = { seq: -1, pos: 0 };
    try {
      const a = JSON.parse(readFileSync(join(this.opts.dir, 'ack'), 'utf8')) as { seq?: unknown; pos?: unknown };
      if (typeof a.seq === 'number' && typeof a.pos === 'number') ack = { seq: a.seq, pos: a.pos };
    } catch {
      // No ack file: nothing was acknowledged yet.
    }
    for (const seq of seqs) {
      const path = this.segPath(seq);
      if (seq < ack.seq) {
        unlinkSync(path);
        continue;
      }
      const size = statSync(path).size;
      const from = seq === ack.seq ? Math.min(ack.pos, size) : 0;
      const events = this.countEvents(path, from, size);
      this.segments.push({ seq, path, size, events });
      this.totalBytes += size;
      if (seq === ack.seq) this.readPos = from;
    }
    if (this.segments.length > 0 && this.segments[0]!.seq !== ack.seq) this.readPos = 0;
    this.roll();
  }

  private segPath(seq: number): string {
    return join(this.opts.dir, `seg-${String(seq).padStart(12, '0')}.log`);
  }

  /** Starts a new write segment (every open starts one: a torn tail of the last run is never appended to). */
  private roll(): void {
    if (this.writeFd !== undefined) closeSync(this.writeFd);
    const seq = (this.segments[this.segments.length - 1]?.seq ?? -1) + 1;
    const path = this.segPath(seq);
    this.writeFd = openSync(path, 'a');
    this.segments.push({ seq, path, size: 0, events: 0 });
  }

  append(topic: string, messages: OutMessage[], events: number): Promise<void> {
    const run = (): Promise<void> => this.doAppend(topic, messages, events);
    this.appending = this.appending.then(run, run);
    return this.appending;
  }

  private async doAppend(topic: string, messages: OutMessage[], events: number): Promise<void> {
    const rec = frame(encodePayload(topic, messages, events));
    if (rec.length > this.opts.maxBytes) throw new TidewatchError('TW_QUEUE_FULL', `buffer record of ${rec.length} bytes exceeds buffer.max_bytes`);
    while (this.totalBytes + rec.length > this.opts.maxBytes) {
      if (this.closed) throw new TidewatchError('TW_STOPPED', 'disk buffer closed');
      if (this.opts.whenFull === 'drop_oldest' && this.segments.length > 1) {
        this.dropOldest();
        continue;
      }
      if (this.opts.whenFull === 'drop_oldest') {
        // Only the write segment is left: close it so that it can be dropped next.
        this.roll();
        continue;
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    let w = this.segments[this.segments.length - 1]!;
    if (w.size > 0 && w.size + rec.length > this.opts.segmentBytes) {
      this.roll();
      w = this.segments[this.segments.length - 1]!;
    }
    writeSync(this.writeFd!, rec);
    fsyncSync(this.writeFd!);
    w.size += rec.length;
    w.events += events;
    this.totalBytes += rec.length;
  }

  private dropOldest(): void {
    const s = this.segments.shift()!;
    this.opts.onDrop(s.events, 'buffer_full');
    this.totalBytes -= s.size;
    this.readPos = 0;
    // A peek in flight over the dropped segment is void: its ack must not remove newer records.
    this.peeked = [];
    unlinkSync(s.path);
    this.saveAck();
  }

  /** The oldest unacknowledged groups, up to about maxBytes (at least one when any). */
  async peek(maxBytes: number): Promise<BufferedGroup[]> {
    // No wait for appends in progress: a record is visible only once written whole (size is
    // updated after the write), and an append blocked on room waits for this very reader.
    const out: BufferedGroup[] = [];
    this.peeked = [];
    let bytes = 0;
    let segIdx = 0;
    let pos = this.readPos;
    while (segIdx < this.segments.length && bytes < maxBytes) {
      const s = this.segments[segIdx]!;
      if (pos >= s.size) {
        segIdx++;
        pos = 0;
        continue;
      }
      const r = this.readRecord(s, pos);
      if (r === undefined) {
        segIdx++;
        pos = 0;
        continue;
      }
      if (r.payload === undefined && out.length === 0 && segIdx === 0) {
        // Skipped bytes at the read position: move past them for good, so they are reported once.
        this.readPos = r.end;
        this.saveAck();
      }
      if (r.payload !== undefined) {
        const g = decodePayload(r.payload);
        out.push(g);
        bytes += r.payload.length;
        this.peeked.push({ end: r.end, events: g.events, segSeq: s.seq });
      }
      pos = r.end;
    }
    return out;
  }

  /**
   * Reads the record at `pos`; a bad record is reported once (onCorrupt) and skipped by
   * scanning for the next valid one. Undefined at the segment's end.
   */
  private readRecord(s: Segment, pos: number, report = true): { payload: Buffer | undefined; end: number } | undefined {
    const fd = openSync(s.path, 'r');
    try {
      const head = Buffer.alloc(HEADER);
      let at = pos;
      while (at + HEADER <= s.size) {
        readSync(fd, head, 0, HEADER, at);
        const len = head.readUInt32LE(4);
        if (head.readUInt32LE(0) === MAGIC && len <= MAX_RECORD && at + HEADER + len <= s.size) {
          const payload = Buffer.alloc(len);
          readSync(fd, payload, 0, len, at + HEADER);
          if (crc32(payload) === head.readUInt32LE(8)) {
            if (at > pos) {
              if (report) this.reportCorrupt(s, pos, at - pos);
              return { payload: undefined, end: at };
            }
            return { payload, end: at + HEADER + len };
          }
        }
        at++;
      }
      // A torn tail: no valid record up to the end of the segment.
      if (report) this.reportCorrupt(s, pos, s.size - pos);
      return { payload: undefined, end: s.size };
    } finally {
      closeSync(fd);
    }
  }

  /** Each bad stretch is counted once, however often a peek passes it. */
  private reportCorrupt(s: Segment, pos: number, bytes: number): void {
    const key = `${s.seq}:${pos}`;
    if (this.reportedCorrupt.has(key)) return;
    if (this.reportedCorrupt.size > 1000) this.reportedCorrupt.clear();
    this.reportedCorrupt.add(key);
    this.opts.onCorrupt(bytes);
  }

  /** Removes the first n peeked groups (they reached Kafka). */
  async ack(n: number): Promise<void> {
    const done = this.peeked.splice(0, n);
    for (const p of done) {
      // Whole segments before the acknowledged record are finished.
      while (this.segments.length > 1 && this.segments[0]!.seq < p.segSeq) this.dropFinished();
      const s = this.segments[0];
      if (s === undefined || s.seq !== p.segSeq) continue; // dropped meanwhile (drop_oldest)
      s.events -= p.events;
      this.readPos = p.end;
      if (this.readPos >= s.size && this.segments.length > 1) this.dropFinished();
    }
    this.saveAck();
    for (const w of this.waiters.splice(0)) w();
  }

  private dropFinished(): void {
    const s = this.segments.shift()!;
    this.totalBytes -= s.size;
    this.readPos = 0;
    unlinkSync(s.path);
  }

  private saveAck(): void {
    const s = this.segments[0];
    const tmp = join(this.opts.dir, 'ack.tmp');
    writeFileSync(tmp, JSON.stringify({ seq: s?.seq ?? -1, pos: this.readPos }));
    renameSync(tmp, join(this.opts.dir, 'ack'));
  }

  private countEvents(path: string, from: number, size: number): number {
    const seg: Segment = { seq: -1, path, size, events: 0 };
    let events = 0;
    let pos = from;
    while (pos < size) {
      const r = this.readRecord(seg, pos, false);
      if (r === undefined) break;
      if (r.payload !== undefined) events += r.payload.readUInt32LE(2 + r.payload.readUInt16LE(0));
      pos = r.end;
    }
    return events;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.waiters.splice(0)) w();
    await this.appending.catch(() => undefined);
    if (this.writeFd !== undefined) closeSync(this.writeFd);
    this.writeFd = undefined;
  }
}

function frame(payload: Buffer): Buffer {
  const head = Buffer.alloc(HEADER);
  head.writeUInt32LE(MAGIC, 0);
  head.writeUInt32LE(payload.length, 4);
  head.writeUInt32LE(crc32(payload), 8);
  return Buffer.concat([head, payload]);
}

export function encodePayload(topic: string, messages: readonly OutMessage[], events: number): Buffer {
  const parts: Buffer[] = [];
  const u16 = (n: number): Buffer => {
    const b = Buffer.alloc(2);
    b.writeUInt16LE(n);
    return b;
  };
  const u32 = (n: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    return b;
  };
  const str16 = (s: string): void => {
    const b = Buffer.from(s);
    parts.push(u16(b.length), b);
  };
  str16(topic);
  parts.push(u32(events), u32(messages.length));
  for (const m of messages) {
    if (m.key === undefined) {
      const b = Buffer.alloc(4);
      b.writeInt32LE(-1);
      parts.push(b);
    } else {
      const k = typeof m.key === 'string' ? Buffer.from(m.key) : m.key;
      parts.push(u32(k.length), k);
    }
    parts.push(u32(m.value.length), m.value);
    const h = Object.entries(m.headers ?? {});
    parts.push(u16(h.length));
    for (const [k, v] of h) {
      str16(k);
      str16(v);
    }
  }
  return Buffer.concat(parts);
}

export function decodePayload(b: Buffer): BufferedGroup {
  let at = 0;
  const str16 = (): string => {
    const n = b.readUInt16LE(at);
    const s = b.toString('utf8', at + 2, at + 2 + n);
    at += 2 + n;
    return s;
  };
  const topic = str16();
  const events = b.readUInt32LE(at);
  const count = b.readUInt32LE(at + 4);
  at += 8;
  const messages: OutMessage[] = [];
  for (let i = 0; i < count; i++) {
    const kl = b.readInt32LE(at);
    at += 4;
    let key: Buffer | undefined;
    if (kl >= 0) {
      key = b.subarray(at, at + kl);
      at += kl;
    }
    const vl = b.readUInt32LE(at);
    const value = b.subarray(at + 4, at + 4 + vl);
    at += 4 + vl;
    const hn = b.readUInt16LE(at);
    at += 2;
    const headers: Record<string, string> = {};
    for (let j = 0; j < hn; j++) {
      const k = str16();
      headers[k] = str16();
    }
    messages.push({ ...(key !== undefined ? { key } : {}), value, headers });
  }
  return { topic, messages, events };
}
