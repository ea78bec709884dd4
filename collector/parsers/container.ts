/**
 * Container logs as the container runtime writes them under /var/log/pods (the files that
 * Kubernetes' /var/log/containers/*.log link to), for the agent's file source to tail:
 *
 * - `cri` (containerd, CRI-O): `<RFC 3339 time> <stdout|stderr> <tag> <message>`, the tag `F`
 *   (a full line) or `P` (a partial one: the runtime cut a line longer than its buffer, 16 KiB),
 *   possibly followed by `:`-separated tags of its own;
 * - `docker` (Docker's json-file driver): `{"log":"<message>\n","stream":"stdout","time":"..."}`,
 *   a message without its newline being a partial line.
 *
 * Sets `log.iostream` (OpenTelemetry semantic conventions), `message` (what the application
 * wrote, its newline removed) and the event time; a partial piece also gets
 * `tidewatch.partial: true`.
 *
 * The agent's `multiline: { preset: cri | docker }` joins the pieces of a split line into one
 * record, the runtime's lines separated by `\n` (pieces of one stream, in order, the last one
 * ending the line unless the event was cut short). Such a record is one line here: the pieces'
 * messages concatenated, the first piece's time and stream, `tidewatch.partial` when its last piece
 * does not end the line. A record that holds no joined pieces is read as a single line.
 */
import { fail, text, type Fields, type ParseResult } from './result.js';
import { parseIso } from './timestamp.js';

/** Longer inputs are refused (too_long); joined lines are bounded by the agent's multiline max_bytes (1 MiB by default). */
const MAX_CHARS = 8 << 20;

interface Piece {
  stream: string;
  message: string;
  full: boolean;
  time: number | undefined;
}

type PieceResult = Piece | { reason: string };

export function parseCri(input: string | Buffer): ParseResult {
  return joined(input, criPiece, false);
}

export function parseDocker(input: string | Buffer): ParseResult {
  return joined(input, dockerPiece, true);
}

/**
 * Reads each of the runtime's lines in the input and joins them. `lenientTime`: a time that does
 * not parse still gives a record (Docker's json time is metadata; CRI's is its line's first field).
 */
function joined(input: string | Buffer, piece: (s: string) => PieceResult, lenientTime: boolean): ParseResult {
  const s = text(input);
  if (s.length > MAX_CHARS) return fail('too_long');
  let first: Piece | undefined;
  let message = '';
  let full = false;
  for (let from = 0; from <= s.length; ) {
    let nl = s.indexOf('\n', from);
    if (nl < 0) nl = s.length;
    const p = piece(s.slice(from, nl));
    if ('reason' in p) return fail(p.reason);
    if (first === undefined) {
      first = p;
      if (p.time === undefined && !lenientTime) return fail('bad_timestamp');
    } else if (p.stream !== first.stream) return fail('mixed_streams');
    message += p.message;
    full = p.full;
    from = nl + 1;
  }
  const fields: Fields = { 'log.iostream': first!.stream, message };
  if (!full) fields['tidewatch.partial'] = true;
  const time = first!.time;
  return time === undefined ? { ok: true, fields, timeError: true } : { ok: true, fields, time };
}

/** CRI: `<RFC 3339 time> <stdout|stderr> <F|P>[:tags] <message>`. */
function criPiece(s: string): PieceResult {
  const sp1 = s.indexOf(' ');
  if (sp1 <= 0) return { reason: 'bad_timestamp' };
  const time = parseIso(s.slice(0, sp1));
  if (time === undefined) return { reason: 'bad_timestamp' };
  const sp2 = s.indexOf(' ', sp1 + 1);
  const stream = sp2 < 0 ? '' : s.slice(sp1 + 1, sp2);
  if (stream !== 'stdout' && stream !== 'stderr') return { reason: 'bad_stream' };
  // An empty message may come without the space after the tag.
  const sp3 = s.indexOf(' ', sp2 + 1);
  const tag = sp3 < 0 ? s.slice(sp2 + 1) : s.slice(sp2 + 1, sp3);
  const full = tag === 'F' || tag.startsWith('F:');
  if (!full && tag !== 'P' && !tag.startsWith('P:')) return { reason: 'bad_tag' };
  return { stream, message: sp3 < 0 ? '' : s.slice(sp3 + 1), full, time };
}

/** Docker json-file: `{"log":"<message>\n","stream":"stdout","time":"..."}`, a message without its newline being a partial piece. */
function dockerPiece(s: string): PieceResult {
  if (s.charCodeAt(0) !== 123 /* { */) return { reason: 'not_json' };
  let v: unknown;
  try {
    v = JSON.parse(s);
  } catch {
    return { reason: 'not_json' };
  }
  const o = v as { log?: unknown; stream?: unknown; time?: unknown };
  if (typeof o !== 'object' || o === null || typeof o.log !== 'string') return { reason: 'no_log' };
  if (o.stream !== 'stdout' && o.stream !== 'stderr') return { reason: 'bad_stream' };
  const log = o.log;
  const full = log.endsWith('\n');
  return {
    stream: o.stream,
    message: full ? log.slice(0, log.endsWith('\r\n') ? -2 : -1) : log,
    full,
    time: typeof o.time === 'string' ? parseIso(o.time) : undefined,
  };
}

/**
 * `kubernetes_path`: Kubernetes metadata from a container log's path, as the OpenTelemetry
 * Collector's container parser takes it (meant for `source: log.file.path`). kubelet names them
 * - `/var/log/containers/<pod>_<namespace>_<container>-<container id, 64 hex>.log` (links), and
 * - `/var/log/pods/<namespace>_<pod>_<pod uid>/<container>/<restart count>.log` (the files, rotated
 *   with a `.<YYYYMMDD-hhmmss>` suffix).
 * Pod, namespace and container names cannot hold `_` or `/`, so the split is unambiguous.
 */
const CONTAINERS_LINK = /(?:^|\/)([^_/]+)_([^_/]+)_([^/]+)-([0-9a-f]{64})\.log$/;
const PODS_FILE = /(?:^|\/)([^_/]+)_([^_/]+)_([0-9a-f-]{16,36})\/([^/]+)\/(\d{1,9})\.log(?:\.\d{8}-\d{6})?$/;

export function parseKubernetesPath(input: string | Buffer): ParseResult {
  const s = text(input);
  if (s.length > 4096) return fail('too_long');
  let m = CONTAINERS_LINK.exec(s);
  if (m !== null) {
    return { ok: true, fields: { 'k8s.pod.name': m[1]!, 'k8s.namespace.name': m[2]!, 'k8s.container.name': m[3]!, 'container.id': m[4]! } };
  }
  m = PODS_FILE.exec(s);
  if (m !== null) {
    return {
      ok: true,
      fields: { 'k8s.namespace.name': m[1]!, 'k8s.pod.name': m[2]!, 'k8s.pod.uid': m[3]!, 'k8s.container.name': m[4]!, 'k8s.container.restart_count': Number(m[5]) },
    };
  }
  return fail('not_kubernetes_path');
}
