/**
 * `file` source: tails the files that include/exclude globs select and hands their lines on, one
 * batch of whole lines of one file per emit, each line with its identity
 * (`tidewatch.stream_id`, `tidewatch.generation`, `tidewatch.offset`). It frames, it does not
 * parse: severity and time are the collector's business.
 *
 * Promise: every line written to a selected file is emitted at least once, through rotation
 * (rename or copytruncate), truncation, restarts, crashes and sink outages; a line emitted twice
 * carries the same identity both times. The engine is agent/sources/file/tailer.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import type { Source, SourceFactory } from '../../core/component.js';
import { TidewatchError } from '../../core/errors.js';
import { AttrKeys } from '../../core/model.js';
import { FileTailer } from './file/tailer.js';
import { compileMultiline } from './file/multiline.js';
import type { MultilineRule } from './file/multiline.js';

const MultilineSchema = Type.Object(
  {
    preset: Type.Optional(
      Type.Union([Type.Literal('java'), Type.Literal('python'), Type.Literal('go'), Type.Literal('cri'), Type.Literal('docker')], {
        description:
          "Built-in rules: java (stack traces, Caused by, ... N more), python (tracebacks) or go (panics and fatal errors with their goroutine traces), whose patterns given here override; or cri / docker, which join the pieces of a line a container runtime split (containerd and CRI-O's 'P' records, Docker json-file's messages without a newline) back into one event, per stream and in file order, and take no patterns (parse the result with the collector's cri / docker preset).",
      }),
    ),
    start_pattern: Type.Optional(Type.String({ minLength: 1, description: 'Regular expression: a line matching it starts a new event.' })),
    continuation_pattern: Type.Optional(
      Type.String({ minLength: 1, description: 'Regular expression: a line matching it (or, with negate, not matching it) extends the open event.' }),
    ),
    negate: Type.Boolean({ default: false, description: 'Invert continuation_pattern: lines that do NOT match it extend the open event.' }),
    max_lines: Type.Integer({ default: 500, minimum: 1, description: 'An event is closed at this many lines; the next line starts a new one (counted).' }),
    max_bytes: Type.Integer({ default: 1_048_576, minimum: 1, description: 'An event is closed at this many bytes (counted).' }),
    timeout_ms: Type.Integer({ default: 1000, minimum: 1, description: 'The open event is sent this long after its last line, without waiting for the next line.' }),
  },
  { additionalProperties: false, description: "Join consecutive lines into one event (stack traces, the pieces of a container runtime's split line)." },
);

export const FileSourceSchema = Type.Object(
  {
    include: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'Glob patterns of files to follow (picomatch syntax; ** crosses directories).' }),
    exclude: Type.Array(Type.String({ minLength: 1 }), { default: [], description: 'Glob patterns of files never to follow, even when included.' }),
    exclude_gz: Type.Boolean({
      default: true,
      description:
        'Skip *.gz files: compressed rotations were read before compression (a file compressed before it was read to its end, while the agent was down, is found compressed beside its old name and read from its checkpoint on, whatever this says). false: selected .gz files are archives, read once, uncompressed, once unchanged for rotated_idle_ms; the compressed rotation of a file already followed goes on where that file\'s reading got, under its identity (nothing twice).',
    }),
    start_at: Type.Union([Type.Literal('beginning'), Type.Literal('end')], {
      default: 'end',
      description: 'Where to start in files present at the very first start (no checkpoint yet); files that appear later are always read from their beginning.',
    }),
    ignore_older_ms: Type.Integer({
      default: 0,
      minimum: 0,
      description:
        'A file found with no checkpoint whose last modification is older than this is followed from its end: its history is skipped (counted in tidewatch_file_ignored_files_total and tidewatch_file_ignored_bytes_total), lines written to it later arrive. Files already followed, and the copy or new name of a followed file, are never skipped. 0 reads every file.',
    }),
    encoding: Type.Union([Type.Literal('utf-8'), Type.Literal('latin1'), Type.Literal('windows-1252'), Type.Literal('utf-16le'), Type.Literal('utf-16be')], {
      default: 'utf-8',
      description:
        "The files' character set: utf-8 (invalid bytes become U+FFFD, never an error), latin1 (ISO-8859-1) or windows-1252, for older applications' logs, or utf-16le / utf-16be (SQL Server's errorlog, Windows tools); lines are decoded and sent as UTF-8. A byte order mark at the start of a file is not part of its first line.",
    }),
    max_line_bytes: Type.Integer({ default: 262_144, minimum: 16, description: 'Longest line kept whole, in bytes; longer lines are truncated or split (counted).' }),
    long_lines: Type.Union([Type.Literal('truncate'), Type.Literal('split')], {
      default: 'truncate',
      description: 'What happens to a line longer than max_line_bytes: truncate (the rest is skipped) or split into several records.',
    }),
    multiline: Type.Optional(MultilineSchema),
    include_lines: Type.Array(Type.String({ minLength: 1 }), {
      default: [],
      description:
        'Regular expressions: when given, only lines (multiline events) matching one of them are sent. Dropped lines are counted (tidewatch_file_lines_filtered_total) and checkpointed like sent ones. Each tested line becomes a string: a cost per line.',
    }),
    exclude_lines: Type.Array(Type.String({ minLength: 1 }), {
      default: [],
      description: 'Regular expressions: lines (multiline events) matching one of them are not sent (counted), after include_lines, e.g. ["^DEBUG"].',
    }),
    resource: Type.Record(Type.String({ minLength: 1 }), Type.Union([Type.String(), Type.Number(), Type.Boolean()]), {
      default: {},
      description:
        'Resource attributes every line of this source carries besides host.name and tidewatch.agent.id, e.g. { service.name: checkout, deployment.environment.name: prod }: the collector routes by service.name and the dashboard groups by it. Sent once per batch, not per line.',
    }),
    fingerprint_bytes: Type.Integer({
      default: 1024,
      minimum: 16,
      maximum: 65_536,
      description: 'How many first bytes recognise a file after a rename or as the copy of a copytruncate rotation.',
    }),
    rescan_interval_ms: Type.Integer({
      default: 10_000,
      minimum: 100,
      description: 'Full directory walk and stat of every selected file; file-system events are only hints, this is the safety net.',
    }),
    max_open_files: Type.Integer({ default: 1024, minimum: 4, description: 'Cap on open file handles; idle files are closed first, rotated files being drained are never evicted.' }),
    close_idle_ms: Type.Integer({ default: 60_000, minimum: 0, description: 'A file read to its end and unchanged this long has its handle closed; a write reopens it.' }),
    // maximum: the buffer is allocated at create, a larger value failed there with a raw RangeError (test/fuzz/config.test.ts).
    read_buffer_bytes: Type.Integer({
      default: 262_144,
      minimum: 1024,
      maximum: 16_777_216,
      description: 'Bytes read from a file per read call. A file being caught up on is read in reads this large (each read is a thread-pool round trip); lines of a full read are shipped from its buffer without a copy, a short read is copied out.',
    }),
    max_batch_bytes: Type.Integer({ default: 524_288, minimum: 1, description: 'A batch (one Kafka message downstream) is sent at this many bytes of lines.' }),
    max_batch_lines: Type.Integer({ default: 4096, minimum: 1, description: 'A batch is sent at this many lines.' }),
    batch_linger_ms: Type.Integer({
      default: 0,
      minimum: 0,
      description: 'How long a partial batch waits for more lines once the file is read to its end; 0 sends at once (lowest latency).',
    }),
    max_inflight_batches: Type.Integer({
      default: 16,
      minimum: 1,
      description: 'Batches per file handed on and not yet confirmed; reading pauses beyond it. Enough to keep reading while the sink waits for Kafka (one produce request holds several batches); max_inflight_bytes bounds the memory.',
    }),
    max_inflight_bytes: Type.Integer({ default: 16_777_216, minimum: 1024, description: 'Bytes handed on and not yet confirmed, all files together; reading pauses beyond it (bounded memory).' }),
    remove_after_ms: Type.Integer({
      default: 0,
      minimum: 0,
      description:
        'Deletes a file once every line of it was confirmed by the sinks and it stayed unchanged this long at its end (spool directories: Vector\'s remove_after_secs, Filebeat\'s delete). Bytes a writer adds just before the deletion are still read. Needs start_at: beginning and ignore_older_ms: 0, so no file is deleted with lines that were skipped. Counted in tidewatch_file_removed_files_total. 0 deletes nothing.',
    }),
    rotated_idle_ms: Type.Integer({ default: 5000, minimum: 0, description: 'A rotated-away or deleted file, read to its end, is let go after this long without growth.' }),
    rotate_drain_timeout_ms: Type.Integer({
      default: 300_000,
      minimum: 0,
      description: 'Longest time a rotated-away or deleted file is followed; bytes still unread then are abandoned (counted).',
    }),
    partial_line_flush_ms: Type.Integer({ default: 5000, minimum: 1, description: 'A last line without its newline is sent as it is after the file stayed unchanged this long.' }),
    copy_detect_ms: Type.Integer({
      default: 10_000,
      minimum: 0,
      description: 'How long a file that looks like a copy of a followed file waits for that file to be truncated (copytruncate) before being read as a new file.',
    }),
    checkpoint_interval_ms: Type.Integer({ default: 1000, minimum: 10, description: 'Confirmed offsets are written (fsync + rename) at most this often; new files and truncations at once.' }),
    retry_backoff_ms: Type.Integer({ default: 1000, minimum: 0, description: 'After a batch was not confirmed, the file is re-read from its checkpoint after this pause.' }),
    stop_timeout_ms: Type.Integer({ default: 5000, minimum: 0, description: 'On stop, how long to wait for batches in flight to be confirmed before the final checkpoint.' }),
    max_dirs: Type.Integer({ default: 10_000, minimum: 1, description: 'Cap on directories walked per rescan (a runaway ** cannot make a rescan endless).' }),
    watch: Type.Boolean({ default: true, description: 'Use file-system events as hints; false relies on rescan_interval_ms alone (network file systems).' }),
  },
  { additionalProperties: false },
);

export type FileSourceConfig = Static<typeof FileSourceSchema>;

/**
 * The process's soft limit on open files (RLIMIT_NOFILE), from /proc/self/limits (Node has no
 * getrlimit); undefined where it cannot be read or is unlimited.
 */
export function openFilesLimit(limits?: string): number | undefined {
  let text = limits;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return undefined;
    }
  }
  const soft = /^Max open files\s+(\d+)/m.exec(text)?.[1];
  return soft === undefined ? undefined : Number(soft);
}

/**
 * max_open_files, lowered to half the process's open-files limit: tailed files must leave
 * descriptors for the sinks, sockets and checkpoint writes. Found by the chaos suite
 * (test/chaos/resource-faults.test.ts): with the default 1024 under `ulimit -n 200` and 300
 * files, the tailer took every descriptor and the file sink and checkpoints failed with EMFILE,
 * so no line was delivered.
 */
export function openFilesCap(configured: number, limit: number | undefined, ctx?: { name: string; log: { warn(msg: string, fields?: Record<string, unknown>): void } }): number {
  if (limit === undefined) return configured;
  const cap = Math.max(4, Math.min(configured, Math.floor(limit / 2)));
  if (cap < configured) ctx?.log.warn('max_open_files lowered to fit the open files limit', { source: ctx.name, configured, limit, max_open_files: cap });
  return cap;
}

export const fileSource: SourceFactory<typeof FileSourceSchema> = {
  type: 'file',
  role: 'source',
  description: 'Tails files selected by globs, through rotation, truncation and restarts; checkpoints only what every sink confirmed.',
  schema: FileSourceSchema,
  create(config, ctx): Source {
    let multiline: MultilineRule | undefined;
    if (config.multiline !== undefined) {
      const m = config.multiline;
      if (m.preset === undefined && m.start_pattern === undefined && m.continuation_pattern === undefined) {
        throw new TidewatchError('TW_CONFIG_SCHEMA', `sources.${ctx.name}.multiline needs preset, start_pattern or continuation_pattern`);
      }
      try {
        multiline = compileMultiline(m);
      } catch (err) {
        throw new TidewatchError('TW_CONFIG_SCHEMA', `sources.${ctx.name}.multiline: ${(err as Error).message}`, {}, { cause: err });
      }
    }
    const patterns = (key: 'include_lines' | 'exclude_lines'): RegExp[] =>
      config[key].map((p, i) => {
        try {
          return new RegExp(p);
        } catch (err) {
          throw new TidewatchError('TW_CONFIG_SCHEMA', `sources.${ctx.name}.${key}[${i}]: ${(err as Error).message}`, {}, { cause: err });
        }
      });
    const filter = { include: patterns('include_lines'), exclude: patterns('exclude_lines') };
    if (config.remove_after_ms > 0 && (config.start_at === 'end' || config.ignore_older_ms > 0)) {
      // Either one skips lines a file held before the agent saw it; deleting it would lose them.
      throw new TidewatchError(
        'TW_CONFIG_SCHEMA',
        `sources.${ctx.name}.remove_after_ms: deletes files, so it needs start_at: beginning and ignore_older_ms: 0 (otherwise a file would be deleted with lines never sent)`,
      );
    }
    for (const key of [AttrKeys.hostName, AttrKeys.agentId]) {
      if (key in config.resource) {
        throw new TidewatchError('TW_CONFIG_SCHEMA', `sources.${ctx.name}.resource.${key}: set by the agent (agent.host_name, agent.id), not per source`);
      }
    }
    return new FileTailer(
      {
        include: config.include,
        exclude: config.exclude,
        excludeGz: config.exclude_gz,
        startAt: config.start_at,
        ignoreOlderMs: config.ignore_older_ms,
        removeAfterMs: config.remove_after_ms,
        encoding: config.encoding,
        filter,
        maxLineBytes: config.max_line_bytes,
        longLines: config.long_lines,
        multiline,
        fingerprintBytes: config.fingerprint_bytes,
        rescanIntervalMs: config.rescan_interval_ms,
        maxOpenFiles: openFilesCap(config.max_open_files, openFilesLimit(), ctx),
        closeIdleMs: config.close_idle_ms,
        readBufferBytes: config.read_buffer_bytes,
        maxBatchBytes: config.max_batch_bytes,
        maxBatchLines: config.max_batch_lines,
        batchLingerMs: config.batch_linger_ms,
        maxInflightBatches: config.max_inflight_batches,
        maxInflightBytes: config.max_inflight_bytes,
        rotatedIdleMs: config.rotated_idle_ms,
        rotateDrainTimeoutMs: config.rotate_drain_timeout_ms,
        partialLineFlushMs: config.partial_line_flush_ms,
        copyDetectMs: config.copy_detect_ms,
        checkpointIntervalMs: config.checkpoint_interval_ms,
        retryBackoffMs: config.retry_backoff_ms,
        stopTimeoutMs: config.stop_timeout_ms,
        maxDirs: config.max_dirs,
        watch: config.watch,
        stateDir: join(ctx.dataDir, 'source', ctx.name),
        resource: config.resource,
      },
      ctx,
    );
  },
};
