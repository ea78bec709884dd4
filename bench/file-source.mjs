// Benchmark of the agent's `file` source (agent/sources/file.ts), run against dist/:
//   npx tsc -p tsconfig.build.json && node bench/file-source.mjs [scenario...]
// Scenarios, each in its own child process (so CPU and peak RSS are its own):
//   throughput  N lines from one file to a null sink: lines/s, MB/s, CPU, peak RSS; handed over
//               as LineBlocks (the Kafka/bus sinks' path), as LogRecords, and as LineBlocks
//               encoded to wire v1 batches; with include_lines / exclude_lines testing every
//               line; CRI container lines with and without `multiline: { preset: cri }`;
//               UTF-16LE lines (`encoding: utf-16le`); the same lines as a .gz archive
//               (`exclude_gz: false`) beside zcat of it; beside it all, the naive baseline:
//               readline over a read stream, one record per line.
//   idle        one followed file, no writes, 5 s: CPU and RSS.
//   rate10k     a writer process appends 10,000 lines/s for 5 s: CPU, RSS, write-to-emit latency.
//   backfill    a live file written at 1,000 lines/s while a 1M-line .gz archive appears beside it
//               (`exclude_gz: false`), then a 1M-line plain file: the live lines' write-to-emit
//               latency meanwhile, and the backlog's time.
//   files10k    10,000 idle files in one directory: time to take them in, then 12 s idle (one
//               rescan): CPU, RSS, inotify watches, open files; beside it, chokidar watching the
//               same files one by one (its default way).
// TW_SCALE=full makes the throughput file 10x larger. Figures go to stdout as a table and JSON.
import { spawn, spawnSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { mkdtempSync, mkdirSync, statSync, writeFileSync, rmSync, readdirSync, readlinkSync, readFileSync, createReadStream, openSync, writeSync, closeSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const full = process.env.TW_SCALE === 'full';

function inotifyWatches() {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    let link;
    try {
      link = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue;
    }
    if (link.includes('inotify')) {
      try {
        n += readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').split('\n').filter((l) => l.startsWith('inotify wd:')).length;
      } catch {}
    }
  }
  return n;
}

const openFds = () => readdirSync('/proc/self/fd').length;
const rssMb = () => process.memoryUsage().rss / 2 ** 20;
const peakRssMb = () => process.resourceUsage().maxRSS / 1024;
const cpuMs = (since) => {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1000;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function loadSource() {
  const { fileSource, FileSourceSchema } = await import(join(root, 'dist/agent/sources/file.js'));
  const { Value } = await import('@sinclair/typebox/value');
  const { MemoryTelemetry } = await import(join(root, 'dist/core/telemetry.js'));
  const { silentLogger } = await import(join(root, 'dist/core/log.js'));
  return (opts, dir, emit, emitLines) => {
    const cfg = Value.Default(FileSourceSchema, structuredClone(opts));
    const ctx = {
      name: 'bench',
      dataDir: join(dir, 'data'),
      telemetry: new MemoryTelemetry(),
      log: silentLogger,
      now: Date.now,
      agentId: 'bench',
      hostName: 'bench',
      bus: undefined,
      emit,
      ...(emitLines === undefined ? {} : { emitLines }),
    };
    return fileSource.create(cfg, ctx);
  };
}

function line(i) {
  // ~100 bytes, nginx-like
  return `10.0.${i % 256}.${(i >> 8) % 256} - - [25/Nov/2026:10:00:00 +0000] "GET /api/item/${i} HTTP/1.1" 200 ${i % 5000} "-" "bench"\n`;
}

function writeLines(path, n, make = line, encoding = 'utf8') {
  const fd = openSync(path, 'w');
  let buf = '';
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    buf += make(i);
    if (buf.length > 1 << 20) {
      bytes += writeSync(fd, Buffer.from(buf, encoding));
      buf = '';
    }
  }
  bytes += writeSync(fd, Buffer.from(buf, encoding));
  closeSync(fd);
  return bytes;
}

/**
 * A writer process (its CPU is not this one's) appending `perMs` lines per millisecond to `path`
 * for `seconds`, in 10 ms ticks; each line starts with its write time (epoch ms). Resolves on exit.
 */
function writeFor(path, seconds, perMs) {
  const writer = spawn(
    process.execPath,
    [
      '-e',
      `const fs=require('fs');const fd=fs.openSync(${JSON.stringify(path)},'a');let i=0;const end=Date.now()+${seconds * 1000};` +
        `const t0=Date.now();const tick=()=>{let s='';const now=Date.now();const due=Math.floor((now-t0)*${perMs});for(;i<due;){s+=now+' '+(i++)+' GET /api/item 200 1234 "-" "bench-writer"\\n'}if(s)fs.writeSync(fd,s);if(now<end)setTimeout(tick,10);else fs.closeSync(fd)};tick();`,
    ],
    { stdio: 'ignore' },
  );
  return new Promise((r) => writer.once('exit', r));
}

/** The p-quantile of ascending `sorted`. */
const quantile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];

const scenarios = {
  async throughput(dir) {
    const n = full ? 5_000_000 : 500_000;
    const path = join(dir, 'logs', 'big.log');
    const bytes = writeLines(path, n);
    const make = await loadSource();
    const { encodeLineBlock } = await import(join(root, 'dist/core/wire.js'));
    /** One pass over the file; `lines` true: the source hands LineBlocks (as to the Kafka sink), which `encode` makes wire v1 batches of. */
    const pass = async (name, lines, encode, opts = {}, file = path) => {
      let got = 0;
      let done;
      const finished = new Promise((r) => (done = r));
      const count = (k) => {
        got += k;
        if (got >= n) done();
      };
      const src = make(
        { include: [file], start_at: 'beginning', ...opts },
        join(dir, name),
        async (events) => count(events.length),
        lines ? async (block) => count(encode ? (encodeLineBlock(block), block.length) : block.length) : undefined,
      );
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await src.start();
      await finished;
      const ms = performance.now() - t0;
      const cpu = cpuMs(c0);
      await src.stop();
      return { lines_per_s: n / (ms / 1000), mb_per_s: statSync(file).size / 2 ** 20 / (ms / 1000), cpu_ms: cpu, wall_ms: ms };
    };
    const asLines = await pass('lines', true, false);
    const peak = peakRssMb();
    const asRecords = await pass('records', false, false);
    const toWire = await pass('wire', true, true);
    // include_lines tests every line (each becomes a string); this pattern keeps them all, so the count completes.
    const filtered = await pass('filtered', true, false, { include_lines: ['HTTP/1\\.1'], exclude_lines: ['^#'] });
    // Container logs (CRI, as containerd writes them), with and without joining split lines.
    const criPath = join(dir, 'logs', 'cri.log');
    writeLines(criPath, n, (i) => `2026-11-25T10:00:00.${String(i % 1e9).padStart(9, '0')}Z stdout F ${line(i)}`);
    const cri = await pass('cri', true, false, {}, criPath);
    const criJoined = await pass('cri-joined', true, false, { multiline: { preset: 'cri' } }, criPath);
    // The same nginx-like lines in UTF-16LE (SQL Server's errorlog, Windows tools): framed on
    // 2-byte units and decoded, so every line becomes a string.
    const utf16Path = join(dir, 'logs', 'utf16.log');
    writeLines(utf16Path, n, line, 'utf16le');
    const utf16 = await pass('utf16', true, false, { encoding: 'utf-16le' }, utf16Path);
    // The same lines as a .gz archive (exclude_gz: false): uncompressed into the state directory,
    // then read. Its mtime is set back, so the quiet wait (rotated_idle_ms) is not in the figure.
    // Beside it, the floor of that work: zcat of the same .gz to /dev/null.
    const gzPath = join(dir, 'logs', 'big.log.gz');
    writeFileSync(gzPath, gzipSync(readFileSync(path)));
    const past = new Date(Date.now() - 60_000);
    utimesSync(gzPath, past, past);
    const archive = await pass('archive', true, false, { exclude_gz: false }, gzPath);
    const z0 = performance.now();
    const z = spawnSync('/usr/bin/time', ['-f', 'TWCPU %U %S', 'sh', '-c', `zcat '${gzPath}' > /dev/null`]);
    const zMs = performance.now() - z0;
    const zCpu = /TWCPU ([\d.]+) ([\d.]+)/.exec(z.stderr.toString());
    const zcat = { lines_per_s: n / (zMs / 1000), mb_per_s: bytes / 2 ** 20 / (zMs / 1000), cpu_ms: zCpu ? (Number(zCpu[1]) + Number(zCpu[2])) * 1000 : NaN, wall_ms: zMs };
    // Naive baseline, same process afterwards (its peak RSS is not separable; CPU and time are).
    const c1 = process.cpuUsage();
    const t1 = performance.now();
    let m = 0;
    const rl = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
    let batch = [];
    for await (const l of rl) {
      batch.push({ kind: 'log', observed_time: Date.now(), severity_number: 0, severity_text: '', body: l, attributes: { 'log.file.path': path }, resource: {} });
      if (batch.length === 4096) batch = [];
      m++;
    }
    const ms2 = performance.now() - t1;
    return {
      lines: n,
      mb: bytes / 2 ** 20,
      tidewatch: { ...asLines, peak_rss_mb: peak },
      tidewatch_records: asRecords,
      tidewatch_wire: toWire,
      tidewatch_filtered: filtered,
      cri_lines: { plain: cri, multiline_cri: criJoined },
      utf16le: utf16,
      archive: { ...archive, mb_per_s: bytes / 2 ** 20 / (archive.wall_ms / 1000), gz_mb: statSync(gzPath).size / 2 ** 20 },
      zcat,
      naive_readline: { lines_per_s: m / (ms2 / 1000), mb_per_s: bytes / 2 ** 20 / (ms2 / 1000), cpu_ms: cpuMs(c1), wall_ms: ms2 },
    };
  },

  async idle(dir) {
    const path = join(dir, 'logs', 'idle.log');
    writeLines(path, 1000);
    const make = await loadSource();
    const src = make({ include: [path], start_at: 'beginning' }, dir, async () => {});
    await src.start();
    await sleep(500);
    const c0 = process.cpuUsage();
    await sleep(5000);
    const cpu = cpuMs(c0);
    const r = { cpu_ms_per_s: cpu / 5, cpu_pct: cpu / 50, rss_mb: rssMb(), peak_rss_mb: peakRssMb(), inotify_watches: inotifyWatches() };
    await src.stop();
    return r;
  },

  async rate10k(dir) {
    const path = join(dir, 'logs', 'rate.log');
    writeFileSync(path, '');
    const make = await loadSource();
    const lat = [];
    let got = 0;
    const src = make({ include: [path], start_at: 'beginning' }, dir, async (events) => {
      const now = Date.now();
      for (const e of events) {
        got++;
        const t = Number(e.body.slice(0, 13));
        if (Number.isFinite(t) && lat.length < 100_000) lat.push(now - t);
      }
    });
    await src.start();
    // Rival in the same run: GNU tail -F following the same file (it only copies bytes to /dev/null).
    const tail = spawn('tail', ['-F', '-n', '+1', path], { stdio: ['ignore', 'ignore', 'ignore'] });
    const procCpuMs = (pid) => {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime + stime, in clock ticks of 10 ms
    };
    await sleep(200);
    const tail0 = procCpuMs(tail.pid);
    const seconds = 5;
    // 100 lines every 10 ms.
    const written = writeFor(path, seconds, 10);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await written;
    await sleep(500);
    const wall = performance.now() - t0;
    const cpu = cpuMs(c0);
    const tailCpu = procCpuMs(tail.pid) - tail0;
    tail.kill();
    lat.sort((a, b) => a - b);
    const r = {
      lines: got,
      lines_per_s: got / seconds,
      cpu_ms_per_s: cpu / (wall / 1000),
      cpu_pct: cpu / wall * 100,
      rss_mb: rssMb(),
      peak_rss_mb: peakRssMb(),
      latency_ms_p50: quantile(lat, 0.5),
      latency_ms_p99: quantile(lat, 0.99),
      tail_f_cpu_pct: (tailCpu / wall) * 100,
    };
    await src.stop();
    return r;
  },

  async backfill(dir, variant) {
    // A live file written at 1,000 lines/s by another process while a large .gz archive appears
    // beside it (exclude_gz: false; variant `plain`: a large plain file): the live lines'
    // write-to-emit latency while the backlog is uncompressed and read, and how long it takes.
    const gzip = variant !== 'plain';
    const live = join(dir, 'logs', 'live.log');
    writeFileSync(live, '');
    const n = full ? 5_000_000 : 1_000_000;
    const plain = join(dir, 'old.txt');
    const mb = writeLines(plain, n) / 2 ** 20;
    const backlog = gzip ? `${plain}.gz` : plain;
    if (gzip) {
      const r0 = spawnSync('sh', ['-c', `gzip -1 -c '${plain}' > '${backlog}'`]);
      if (r0.status !== 0) throw new Error(`gzip: ${r0.stderr}`);
      rmSync(plain);
    }
    const make = await loadSource();
    const lat = [];
    let backlogged = 0;
    let backlogDoneAt = 0;
    const src = make({ include: [join(dir, 'logs', '*')], exclude_gz: false, start_at: 'beginning', rotated_idle_ms: 100 }, dir, async (events) => {
      const now = Date.now();
      for (const e of events) {
        if (e.body.startsWith('10.0.')) {
          if (++backlogged === n) backlogDoneAt = now;
          continue;
        }
        const t = Number(e.body.slice(0, 13));
        if (Number.isFinite(t)) lat.push(now - t);
      }
    });
    await src.start();
    const written = writeFor(live, full ? 20 : 6, 1);
    await sleep(500);
    const past = new Date(Date.now() - 60_000);
    utimesSync(backlog, past, past);
    spawnSync('mv', [backlog, join(dir, 'logs', gzip ? 'old.log.gz' : 'old.log')]);
    const appeared = Date.now();
    const before = lat.length;
    await written;
    while (backlogged < n && Date.now() - appeared < 120_000) await sleep(50);
    await sleep(300);
    await src.stop();
    const during = lat.slice(before).sort((a, b) => a - b);
    return {
      backlog: gzip ? 'gz' : 'plain',
      backlog_lines: backlogged,
      backlog_mb: mb,
      backlog_s: backlogged === n ? (backlogDoneAt - appeared) / 1000 : undefined,
      live_lines: during.length,
      live_latency_ms_p50: quantile(during, 0.5),
      live_latency_ms_p99: quantile(during, 0.99),
      live_latency_ms_max: during[during.length - 1],
    };
  },

  async files10k(dir, which) {
    const n = 10_000;
    const logs = join(dir, 'logs');
    for (let i = 0; i < n; i++) writeFileSync(join(logs, `f${i}.log`), `${line(i)}`);
    const base = { rss_mb_before: rssMb() };
    if (which === 'chokidar') {
      const { watch } = await import('chokidar');
      const t0 = performance.now();
      const w = watch(logs, { ignoreInitial: false });
      let adds = 0;
      w.on('add', () => adds++);
      await new Promise((r) => w.once('ready', r));
      const ready = performance.now() - t0;
      await sleep(1000);
      const c0 = process.cpuUsage();
      await sleep(12_000);
      const cpu = cpuMs(c0);
      const r = { ...base, adds, ready_ms: ready, idle_cpu_ms_per_s: cpu / 12, rss_mb: rssMb(), peak_rss_mb: peakRssMb(), inotify_watches: inotifyWatches(), open_fds: openFds() };
      await w.close();
      return r;
    }
    const make = await loadSource();
    let got = 0;
    let done;
    const all = new Promise((r) => (done = r));
    const src = make({ include: [join(logs, '*.log')], start_at: 'beginning', close_idle_ms: 2000 }, dir, async (events) => {
      got += events.length;
      if (got >= n) done();
    });
    const t0 = performance.now();
    await src.start();
    await all;
    const ready = performance.now() - t0;
    // Let the intake settle, then CPU in 1 s slices over 21 s: two rescans (10 s interval) fall in.
    await sleep(3000);
    const slices = [];
    for (let i = 0; i < 21; i++) {
      const c0 = process.cpuUsage();
      await sleep(1000);
      slices.push(cpuMs(c0));
    }
    const sorted = [...slices].sort((a, b) => a - b);
    const r = {
      ...base,
      lines: got,
      ready_ms: ready,
      idle_cpu_ms_per_s: slices.reduce((a, b) => a + b, 0) / slices.length,
      idle_cpu_ms_per_s_median: sorted[10],
      rescan_slice_cpu_ms: sorted[20],
      rss_mb: rssMb(),
      peak_rss_mb: peakRssMb(),
      inotify_watches: inotifyWatches(),
      open_fds: openFds(),
      tailer_open_files: src.openFiles,
    };
    await src.stop();
    return r;
  },
};

async function child(name, variant) {
  const dir = mkdtempSync(join(tmpdir(), 'tw-bench-file-'));
  mkdirSync(join(dir, 'logs'));
  try {
    const r = await scenarios[name](dir, variant);
    process.stdout.write(`${JSON.stringify(r)}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function runChild(name, variant) {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [fileURLToPath(import.meta.url), '--child', name, variant ?? ''], { stdio: ['ignore', 'pipe', 'inherit'], cwd: root });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop())) : reject(new Error(`${name} exited ${code}`))));
  });
}

const fmt = (x, d = 1) => (typeof x === 'number' ? x.toLocaleString('en-US', { maximumFractionDigits: d }) : String(x));

if (process.argv[2] === '--child') {
  await child(process.argv[3], process.argv[4] || undefined);
  // chokidar and friends may hold the loop: a child is done when its figure is out.
  process.exit(0);
} else {
  const pick = process.argv.slice(2);
  const want = pick.length > 0 ? pick : ['throughput', 'idle', 'rate10k', 'files10k'];
  const results = {};
  for (const s of want) {
    if (s === 'backfill') {
      results.backfill = await runChild('backfill');
      results.backfill_plain = await runChild('backfill', 'plain');
    } else if (s === 'files10k') {
      results.files10k = await runChild('files10k', 'tidewatch');
      results.files10k_chokidar_per_file = await runChild('files10k', 'chokidar');
    } else {
      results[s] = await runChild(s);
    }
    process.stderr.write(`${s}: ${JSON.stringify(results[s] ?? results.files10k)}\n`);
  }
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const chok = JSON.parse(readFileSync(join(root, 'node_modules/chokidar/package.json'), 'utf8')).version;
  console.log(`tidewatch ${version}, Node ${process.version}, chokidar ${chok}, ${full ? 'TW_SCALE=full' : 'TW_SCALE=small'}`);
  if (results.throughput) {
    const t = results.throughput;
    console.log(`\nthroughput, ${fmt(t.lines, 0)} lines (${fmt(t.mb)} MB), one file -> null sink`);
    console.log(`| reader | lines/s | MB/s | CPU ms | peak RSS MB |`);
    const row = (label, r, rss = '(same process)') => console.log(`| ${label} | ${fmt(r.lines_per_s, 0)} | ${fmt(r.mb_per_s)} | ${fmt(r.cpu_ms, 0)} | ${rss} |`);
    row('tidewatch file source, lines as LineBlocks (what the Kafka and bus sinks take)', t.tidewatch, fmt(t.tidewatch.peak_rss_mb));
    row('tidewatch file source, lines as LogRecords (what transforms and other sinks take)', t.tidewatch_records);
    row("tidewatch file source + wire v1 encoding (the Kafka sink's work before kafkajs)", t.tidewatch_wire);
    row('tidewatch, as LineBlocks, every line tested by include_lines and exclude_lines (all kept)', t.tidewatch_filtered);
    row('tidewatch, CRI container lines (`stdout F ...`), as LineBlocks', t.cri_lines.plain);
    row('tidewatch, the same with `multiline: { preset: cri }` (split lines joined)', t.cri_lines.multiline_cri);
    row('tidewatch, the nginx-like lines in UTF-16LE (`encoding: utf-16le`), as LineBlocks', t.utf16le);
    row(`tidewatch, the same lines as a .gz archive (${fmt(t.archive.gz_mb)} MB; \`exclude_gz: false\`), as LineBlocks (MB/s uncompressed)`, t.archive);
    row('zcat of that .gz to /dev/null (decompression alone, another process)', t.zcat);
    row('naive readline', t.naive_readline);
  }
  if (results.idle) console.log(`\nidle (1 file, 5 s): CPU ${fmt(results.idle.cpu_pct, 2)} %, RSS ${fmt(results.idle.rss_mb)} MB, inotify watches ${results.idle.inotify_watches}`);
  if (results.rate10k) {
    const r = results.rate10k;
    console.log(`\n10k lines/s for 5 s (writer in another process): ${fmt(r.lines_per_s, 0)} lines/s taken in, CPU ${fmt(r.cpu_pct)} %, RSS ${fmt(r.rss_mb)} MB (peak ${fmt(r.peak_rss_mb)}), write-to-emit p50 ${r.latency_ms_p50} ms, p99 ${r.latency_ms_p99} ms; tail -F on the same file: CPU ${fmt(r.tail_f_cpu_pct)} %`);
  }
  for (const b of [results.backfill, results.backfill_plain]) {
    if (b === undefined) continue;
    const what = b.backlog === 'gz' ? '.gz archive (`exclude_gz: false`)' : 'plain file';
    console.log(`\nbackfill: a ${fmt(b.backlog_lines, 0)}-line ${what} (${fmt(b.backlog_mb)} MB uncompressed) read in ${fmt(b.backlog_s, 2)} s beside a live file at 1,000 lines/s: live write-to-emit p50 ${b.live_latency_ms_p50} ms, p99 ${b.live_latency_ms_p99} ms, max ${b.live_latency_ms_max} ms (${fmt(b.live_lines, 0)} live lines)`);
  }
  if (results.files10k) {
    const a = results.files10k;
    const b = results.files10k_chokidar_per_file;
    console.log(`\n10,000 idle files, one directory`);
    console.log(`| | ready ms | idle CPU ms/s (mean) | between rescans (median) | RSS MB | inotify watches | open fds |`);
    console.log(`| tidewatch file source (all lines read) | ${fmt(a.ready_ms, 0)} | ${fmt(a.idle_cpu_ms_per_s, 2)} | ${fmt(a.idle_cpu_ms_per_s_median, 2)} | ${fmt(a.rss_mb)} | ${a.inotify_watches} | ${a.open_fds} |`);
    console.log(`| chokidar per file, defaults (watch only) | ${fmt(b.ready_ms, 0)} | ${fmt(b.idle_cpu_ms_per_s, 2)} | | ${fmt(b.rss_mb)} | ${b.inotify_watches} | ${b.open_fds} |`);
    console.log(`(the costliest 1 s slice, a rescan of 10,000 files: ${fmt(a.rescan_slice_cpu_ms, 0)} ms CPU)`);
  }
  console.log(`\n${JSON.stringify(results)}`);
}
