/**
 * What every parser core returns. Parsers are pure: `(input, options) -> ParseResult`, no I/O,
 * no clock (callers pass `now` where a year must be inferred), never throwing on any input.
 * A failure carries a `reason` from a small fixed set per parser, because reasons become
 * telemetry labels and a `parse_error` attribute: free text there would make unbounded series.
 */
import type { AttrValue } from '../../core/model.js';

export type Fields = Record<string, AttrValue>;

export interface Parsed {
  readonly ok: true;
  /** New attributes (flat, dotted keys). Owned by the caller. */
  readonly fields: Fields;
  /** Event time, epoch ms, when the format carries one and it parsed. */
  readonly time?: number;
  /** Set when the format carried a timestamp that did not parse: the caller counts a fallback. */
  readonly timeError?: true;
  readonly severityNumber?: number;
  readonly severityText?: string;
}

export interface ParseFailure {
  readonly ok: false;
  readonly reason: string;
}

export type ParseResult = Parsed | ParseFailure;

export function fail(reason: string): ParseFailure {
  return { ok: false, reason };
}

/** Buffers are decoded as UTF-8 (invalid sequences become U+FFFD, never an exception). */
export function text(input: string | Buffer): string {
  return typeof input === 'string' ? input : input.toString('utf8');
}
