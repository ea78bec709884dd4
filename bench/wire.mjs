#!/usr/bin/env node
// Wire format v1 codec throughput (core/wire.ts), lines/s on one core.
//
//   npx tsc -p tsconfig.build.json && node bench/wire.mjs [--lines N] [--batch B] [--ms T]
//
// Input: N file-tailed LogRecords (nginx-like bodies of ~110 bytes, one stream, full line
// identity), encoded in batches of B lines, as the agent's Kafka sink would; and the same lines
// as the file source now hands them over (LineBlock: byte ranges, no record per line).
// Baseline in the same run: "naive", JSON.stringify / JSON.parse of the LogRecord array as is
// (what core/codec.ts does now): no grouping by stream, no validation on decode.
// Then the Kafka sink's codecs on the encoded batches (one 4096-line batch of the file source, as
// the sink compresses a produce request): MB/s of wire bytes and the ratio, against gzip at
// kafkajs's default level 6 (what the sink used before) and the reference `lz4 -1` CLI (when installed).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const { encodeLogBatch, decodeLogBatch, encodeRollup, decodeRollup } = await import(`${root}dist/core/wire.js`);
const { lz4FrameCompress, lz4FrameDecompress } = await import(`${root}dist/core/lz4.js`);
const { LineBlock } = await import(`${root}dist/core/line-block.js`);
const { encodeLineBlock } = await import(`${root}dist/core/wire.js`);

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const LINES = opt('--lines', 100_000);
const BATCH = opt('--batch', 500);
const MS = opt('--ms', 1500);

const resource = { 'host.name': 'web-1', 'tidewatch.agent.id': 'a1b2c3d4', 'service.name': 'shop' };
const paths = ['/cart', '/', '/api/v1/items/123', '/static/app.js', '/login'];
let offset = 0;
const records = [];
for (let i = 0; i < LINES; i++) {
  const body = `10.0.${i % 256}.${(i * 7) % 256} - - [25/Nov/2026:10:00:${String(i % 60).padStart(2, '0')} +0000] "GET ${paths[i % paths.length]} HTTP/1.1" ${i % 50 === 0 ? 500 : 200} ${1000 + (i % 9000)}`;
  records.push({
    kind: 'log',
    observed_time: 1_764_064_800_000 + i,
    severity_number: 0,
    severity_text: '',
    body,
    attributes: { 'log.file.path': '/var/log/nginx/access.log', 'tidewatch.stream_id': '7', 'tidewatch.generation': 0, 'tidewatch.offset': offset },
    resource,
  });
  offset += Buffer.byteLength(body) + 1;
}
const batches = [];
for (let i = 0; i < records.length; i += BATCH) batches.push(records.slice(i, i + BATCH));

/** Runs `fn` over all batches repeatedly for about MS ms; returns lines/s. */
function rate(fn) {
  for (const b of batches.slice(0, 5)) fn(b, 0); // warm-up
  let lines = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < MS) {
    for (let i = 0; i < batches.length; i++) lines += fn(batches[i], i);
    elapsed = Number(process.hrtime.bigint() - start) / 1e6;
  }
  return (lines / elapsed) * 1000;
}

// The same lines as the file source hands them to the Kafka sink: byte ranges of the buffers
// they were read into (64 KiB reads), one observed time per batch (core/line-block.ts).
const blocks = batches.map((b) => {
  const text = Buffer.from(b.map((r) => `${r.body}\n`).join(''));
  const blk = new LineBlock(resource, '/var/log/nginx/access.log', '7', 0, b[0].observed_time);
  let at = 0;
  for (const r of b) {
    const n = Buffer.byteLength(r.body);
    blk.addBytes(text, at, at + n, r.attributes['tidewatch.offset'], b[0].observed_time);
    at += n + 1;
  }
  return blk;
});
const wire = batches.map((b) => encodeLogBatch(b)[0].value);
const naive = batches.map((b) => Buffer.from(JSON.stringify(b)));
const bytes = (bufs) => bufs.reduce((n, b) => n + b.length, 0) / LINES;

const results = [
  ['encode', 'wire v1 encodeLogBatch', rate((b) => (encodeLogBatch(b), b.length))],
  ['encode', 'wire v1 encodeLineBlock (file lines)', rate((b, i) => (encodeLineBlock(blocks[i]), b.length))],
  ['encode', 'naive JSON.stringify', rate((b) => (Buffer.from(JSON.stringify(b)), b.length))],
  ['decode', 'wire v1 decodeLogBatch (validating)', rate((b, i) => decodeLogBatch(wire[i]).length)],
  ['decode', 'naive JSON.parse (no checks)', rate((b, i) => JSON.parse(naive[i].toString('utf8')).length)],
];

const rollup = { series_id: '9f2c41aa', name: 'http.server.duration', labels: { route: '/cart', method: 'GET' }, window_start: 1_764_064_800_000, window_ms: 1000, count: 12, sum: 3.4, min: 0.05, max: 0.9, last: 0.2, final: false, source_instance: 'collector-1' };
const rbuf = encodeRollup(rollup).value;
let n = 0;
const t0 = process.hrtime.bigint();
let el = 0;
while (el < MS) {
  for (let i = 0; i < 1000; i++) decodeRollup(rbuf);
  n += 1000;
  el = Number(process.hrtime.bigint() - t0) / 1e6;
}

console.log(`node ${process.version}, ${os.cpus().length} cpus (${os.cpus()[0]?.model ?? '?'}), ${LINES} lines in batches of ${BATCH}`);
console.log(`bytes per line: wire v1 ${bytes(wire).toFixed(1)}, naive ${bytes(naive).toFixed(1)}`);
for (const [op, name, r] of results) console.log(`${op.padEnd(7)} ${name.padEnd(38)} ${(r / 1e6).toFixed(2)} M lines/s`);
console.log(`decode  wire v1 decodeRollup                    ${((n / el) * 1000 / 1e6).toFixed(2)} M records/s`);

// Codecs, on request-sized payloads (4096 lines encoded as the sink does).
const payload = Buffer.concat(
  Array.from({ length: Math.max(1, Math.floor(records.length / 4096)) }, (_, i) => encodeLogBatch(records.slice(i * 4096, (i + 1) * 4096))[0]?.value ?? Buffer.alloc(0)),
);
function codecRate(fn) {
  fn(payload);
  let bytes = 0;
  let out;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < MS) {
    out = fn(payload);
    bytes += payload.length;
    elapsed = Number(process.hrtime.bigint() - start) / 1e6;
  }
  return { mbs: bytes / elapsed / 1000, size: out.length };
}
const lz4 = lz4FrameCompress(payload);
const gz = zlib.gzipSync(payload, { level: 1 });
const codecs = [
  ['lz4 (core/lz4.ts) compress', (b) => lz4FrameCompress(b)],
  ['lz4 (core/lz4.ts) decompress', () => lz4FrameDecompress(lz4)],
  ['gzip level 1 compress (sink default)', (b) => zlib.gzipSync(b, { level: 1 })],
  ['gzip level 6 compress (kafkajs default)', (b) => zlib.gzipSync(b)],
  ['gunzip (level 1 data) decompress', () => zlib.gunzipSync(gz)],
];
console.log(`codecs on ${(payload.length / 1e6).toFixed(2)} MB of wire v1 log batches (${(payload.length / LINES).toFixed(1)} bytes per line)`);
for (const [name, fn] of codecs) {
  const r = codecRate(fn);
  const ratio = name.includes('decompress') ? '' : `, ratio ${(payload.length / r.size).toFixed(1)}`;
  console.log(`codec   ${name.padEnd(40)} ${r.mbs.toFixed(0)} MB/s${ratio}`);
}
try {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tw-lz4-'));
  writeFileSync(path.join(dir, 'p'), payload);
  writeFileSync(path.join(dir, 'p.lz4'), lz4);
  const ref = execFileSync('lz4', ['-1', '-c', path.join(dir, 'p')], { maxBuffer: 1 << 30 });
  // The reference decodes ours (and ours decodes it) byte for byte.
  const back = execFileSync('lz4', ['-d', '-c', path.join(dir, 'p.lz4')], { maxBuffer: 1 << 30 });
  console.log(`codec   reference lz4 -1 (C) ratio ${(payload.length / ref.length).toFixed(1)}; decodes ours: ${back.equals(payload)}; ours decodes it: ${lz4FrameDecompress(ref).equals(payload)}`);
  rmSync(dir, { recursive: true });
} catch {
  console.log('codec   (reference lz4 CLI not installed)');
}
