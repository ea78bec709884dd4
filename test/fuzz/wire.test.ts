/**
 * Bad input against the wire decoder (core/wire.ts through core/codec.ts), beyond the mutations
 * test/core/wire.test.ts already makes: values nested at any depth, huge and odd numbers where
 * counts and offsets are declared, large messages, and every wire type's header. The contract a
 * consumer relies on: decodeEvents / decodeMessage throw only TW_WIRE_DECODE or TW_WIRE_VERSION,
 * and whatever decodes can be handed on: encoded again (a sink, the ingest stage) without a throw.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeEvents, encodeEvents } from '../../core/codec.js';
import { TidewatchError } from '../../core/errors.js';
import type { Event } from '../../core/model.js';
import { WIRE_TYPES, decodeMessage, wireHeaders } from '../../core/wire.js';
import { scale } from '../support/scale.js';

const RUNS = scale(300, 10_000);

/** Decodes, or checks the throw is a registry wire error; returns what decoded. */
function decodeOrTyped(headers: Record<string, string>, value: Buffer): ReturnType<typeof decodeMessage> | undefined {
  try {
    return decodeMessage({ headers, value });
  } catch (err) {
    expect(err).toBeInstanceOf(TidewatchError);
    expect(['TW_WIRE_DECODE', 'TW_WIRE_VERSION']).toContain((err as TidewatchError).code);
    expect((err as Error).message).toMatch(/^[a-z]+: .+: .+|wire|header/);
    return undefined;
  }
}

/** What decoded must be usable downstream: encodable again, and decoding that gives the same events. */
function handOn(d: ReturnType<typeof decodeMessage>): void {
  if (d.type !== 'logs' && d.type !== 'metrics') {
    expect(() => JSON.stringify(d.record)).not.toThrow();
    return;
  }
  const events: Event[] = d.records;
  const again = encodeEvents(events).flatMap((m) => decodeEvents({ headers: m.headers ?? {}, value: m.value }));
  expect(again.length).toBe(events.length);
}

const nested = (depth: number, leaf: string, kind: number): string => {
  const [open, close] = kind === 0 ? ['[', ']'] : ['{"k":', '}'];
  return open.repeat(depth) + leaf + close.repeat(depth);
};

/** A JSON text for a value nested `depth` levels deep, as arrays, objects or a mix. */
const deepValue = fc.tuple(fc.integer({ min: 0, max: 20_000 }), fc.nat(2)).map(([depth, kind]) => {
  if (kind < 2) return nested(depth, '"x"', kind);
  let s = '1';
  for (let i = 0; i < depth; i++) s = i % 2 === 0 ? `[${s}]` : `{"a":${s}}`;
  return s;
});

const odd = fc.constantFrom('1e400', '-1e400', '9007199254740993', '-0', '1e-400', '1.5', '-1', '4294967296', '1e21', '"1"', 'null', 'true', '[]', '{}', '"NaN"', '"+Inf"');

function logsMessage(slot: number, v: string): string {
  const fields = [
    `"agent_id":${slot === 0 ? v : '"a"'}`,
    `"host":"h"`,
    `"resource":${slot === 1 ? `{"r":${v}}` : '{}'}`,
    `"stream_id":"7"`,
    `"generation":${slot === 2 ? v : '0'}`,
    `"path":"/p"`,
    `"lines":[{"offset":${slot === 3 ? v : '5'},"observed_time":${slot === 4 ? v : '1'},"body":${slot === 5 ? v : '"b"'},"attributes":{"k":${slot === 6 ? v : '1'}},"severity_number":${slot === 7 ? v : '9'}}]`,
  ];
  return `{${fields.join(',')}}`;
}

function metricsMessage(slot: number, v: string): string {
  const point =
    slot < 4
      ? `{"name":"m","time":1,"attributes":{"a":${slot === 0 ? v : '1'}},"type":"histogram","temporality":"delta","count":${slot === 1 ? v : '3'},"bucket_bounds":[${slot === 2 ? v : '1'}],"bucket_counts":[1,${slot === 3 ? v : '2'}]}`
      : `{"name":"m","time":1,"attributes":{},"type":"exponential_histogram","temporality":"delta","count":3,"scale":${slot === 4 ? v : '0'},"zero_count":0,"positive":{"offset":${slot === 5 ? v : '0'},"bucket_counts":[3]},"negative":{"offset":0,"bucket_counts":[]}}`;
  return `{"resource":{},"points":[${point}]}`;
}

describe('wire decoder: a typed error, or records that can be handed on', () => {
  it('regression: a body or attribute nested thousands of levels deep is refused (was decoded, then broke every re-encode with a RangeError)', () => {
    const body = nested(10_000, '1', 0);
    const value = Buffer.from(`{"agent_id":"a","host":"h","resource":{},"lines":[{"observed_time":1,"body":${body}}]}`);
    expect(() => decodeEvents({ headers: wireHeaders('logs'), value })).toThrow(expect.objectContaining({ code: 'TW_WIRE_DECODE', message: 'logs: lines[0].body: is nested deeper than 64 levels' }));
    const attr = Buffer.from(`{"resource":{"deep":${nested(5000, '1', 1)}},"points":[]}`);
    expect(() => decodeEvents({ headers: wireHeaders('metrics'), value: attr })).toThrow(expect.objectContaining({ code: 'TW_WIRE_DECODE' }));
    // What OTLP lets through (32 levels) still decodes.
    const ok = Buffer.from(`{"agent_id":"a","host":"h","resource":{},"lines":[{"observed_time":1,"body":${nested(32, '1', 1)}}]}`);
    expect(decodeEvents({ headers: wireHeaders('logs'), value: ok })).toHaveLength(1);
  });

  it('values of any depth in any log or metric field', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.nat(7), deepValue, (logs, slot, v) => {
        const text = logs ? logsMessage(slot, v) : metricsMessage(slot % 6, v);
        const d = decodeOrTyped(wireHeaders(logs ? 'logs' : 'metrics'), Buffer.from(text));
        if (d !== undefined) handOn(d);
      }),
      { numRuns: scale(60, 1000) },
    );
  });

  it('huge, negative, fractional and mistyped numbers where counts, offsets and times are declared', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.nat(7), odd, (logs, slot, v) => {
        const text = logs ? logsMessage(slot, v) : metricsMessage(slot % 6, v);
        const d = decodeOrTyped(wireHeaders(logs ? 'logs' : 'metrics'), Buffer.from(text));
        if (d !== undefined) handOn(d);
      }),
      { numRuns: RUNS },
    );
  });

  it('any headers with any wire type and random JSON or bytes', () => {
    const headers = fc.oneof(
      fc.constantFrom(...WIRE_TYPES).map((t) => wireHeaders(t)),
      fc.record({ 'tw-wire': fc.constantFrom('1', '2', '', '01', '1.0', ' 1'), 'tw-type': fc.constantFrom(...WIRE_TYPES, 'constructor', '__proto__', 'toString', '') }),
    );
    const value = fc.oneof(
      fc.jsonValue({ maxDepth: 4 }).map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
      fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
      fc.constantFrom(Buffer.alloc(0), Buffer.from('\ufeff{}'), Buffer.from([0xef, 0xbb, 0xbf, 0x7b, 0x7d]), Buffer.from('{"lines":[],"points":[]}'), Buffer.from('{"__proto__":{"x":1}}')),
    );
    fc.assert(
      fc.property(headers, value, (h, v) => {
        const d = decodeOrTyped(h, v);
        if (d !== undefined) handOn(d);
      }),
      { numRuns: RUNS },
    );
  });

  it('a large batch decodes in bounded time and memory proportional to its size', () => {
    const line = '{"offset":1,"observed_time":1,"body":"' + 'x'.repeat(100) + '"}';
    const n = scale(20_000, 200_000);
    const value = Buffer.from(`{"agent_id":"a","host":"h","resource":{},"stream_id":"1","generation":0,"path":"/p","lines":[${Array.from({ length: n }, (_, i) => line.replace('"offset":1', `"offset":${i}`)).join(',')}]}`);
    const rss0 = process.memoryUsage().rss;
    const events = decodeEvents({ headers: wireHeaders('logs'), value });
    expect(events).toHaveLength(n);
    // A generous bound: decoded records take several times their JSON size, never unbounded.
    expect(process.memoryUsage().rss - rss0).toBeLessThan(value.length * 20 + 64 * 1024 * 1024);
  });
});
