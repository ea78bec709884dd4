#!/usr/bin/env node
// Template mining throughput, lines/s on one core (one thread, one process).
//
//   npx tsc -p tsconfig.build.json && node --expose-gc bench/miner.mjs [--nginx-lines N] [--rounds R]
//     [--only loghub,nginx,worst]   (inputs to run; all by default. Each input run first gets the
//     JIT to itself: nginx alone runs ~15 % faster than after the Loghub inputs in one process)
//
// Inputs:
//   loghub-content  the 8 Loghub-2k message files concatenated (16,000 messages), fed R times
//                   to one miner (what `patterns --mode content` mines; the shape cache is warm
//                   after round 1, as in a long-running collector)
//   loghub-raw      the 8 raw Loghub-2k logs concatenated, with header detection (whole lines)
//   nginx           N generated nginx combined-format lines (varied IPs, paths, statuses,
//                   sizes, agents), with header detection
//   worst: ...      lines of random words: every line is a new template (see below)
// Baseline in the same run: "naive", the least any miner does per line (one regex replace of
// digit runs, then a Map lookup of the result), to show what the miner's extra work costs.
import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import os from 'node:os';

const root = fileURLToPath(new URL('..', import.meta.url));
const { TemplateMiner } = await import(`${root}dist/collector/miner/miner.js`);
const { stripHeader } = await import(`${root}dist/collector/miner/header.js`);

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const NGINX_LINES = opt('--nginx-lines', 2_000_000);
const ROUNDS = opt('--rounds', 20);
const WORST_LINES = opt('--worst-lines', 100_000);
const onlyAt = args.indexOf('--only');
const ONLY = new Set(onlyAt >= 0 ? String(args[onlyAt + 1]).split(',') : ['loghub', 'nginx', 'worst']);

const DATA = `${root}../shared/datasets/loghub`;
const NAMES = ['HDFS', 'Hadoop', 'Spark', 'Zookeeper', 'BGL', 'HPC', 'Apache', 'OpenSSH'];

function readLines(path) {
  const l = readFileSync(path, 'utf8').split('\n');
  if (l.at(-1) === '') l.pop();
  return l;
}

function loghubRaw() {
  return NAMES.flatMap((n) => readLines(`${DATA}/${n}/${n}_2k.log`));
}

// Content column of the corrected labels (a small CSV reader: quoted fields, doubled quotes).
function loghubContent() {
  const out = [];
  for (const n of NAMES) {
    const text = readFileSync(`${DATA}/${n}/${n}_2k.log_structured_corrected.csv`, 'utf8');
    const rows = parseCsv(text);
    const h = rows[0];
    const ci = h.indexOf('Content');
    for (const r of rows.slice(1)) if (r.length > ci) out.push(r[ci].replace(/[\r\n]/g, ' '));
  }
  return out;
}

function parseCsv(text) {
  const rows = [];
  let row = [];
  let f = '';
  let q = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (q) {
      if (c === '"') {
        if (text[i + 1] === '"') { f += '"'; i++; } else q = false;
      } else f += c;
    } else if (c === '"') q = true;
    else if (c === ',') { row.push(f); f = ''; }
    else if (c === '\n') { row.push(f.replace(/\r$/, '')); rows.push(row); row = []; f = ''; }
    else f += c;
  }
  if (f !== '' || row.length) { row.push(f); rows.push(row); }
  return rows;
}

// Deterministic generator (no Math.random): a 32-bit LCG.
function nginx() {
  let s = 12345;
  const rnd = (k) => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s % k; };
  const paths = ['/', '/cart', '/api/v1/orders', '/api/v1/orders/{id}', '/static/app.{h}.js', '/login', '/search?q={w}', '/products/{id}/reviews', '/healthz', '/images/{h}.png'];
  const words = ['shoes', 'red', 'phone', 'case', 'lamp', 'desk', 'coffee', 'mug'];
  const agents = ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36', 'curl/8.4.0', 'Go-http-client/1.1', 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15'];
  const methods = ['GET', 'GET', 'GET', 'POST', 'PUT', 'DELETE'];
  const statuses = [200, 200, 200, 200, 201, 204, 301, 304, 400, 401, 404, 500, 502, 503];
  const mon = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const line = () => {
    const p = paths[rnd(paths.length)].replace('{id}', String(rnd(100000))).replace('{h}', rnd(0xffffff).toString(16)).replace('{w}', words[rnd(words.length)]);
    const t = `${String(1 + rnd(28)).padStart(2, '0')}/${mon[rnd(12)]}/2026:${String(rnd(24)).padStart(2, '0')}:${String(rnd(60)).padStart(2, '0')}:${String(rnd(60)).padStart(2, '0')} +0000`;
    return `10.${rnd(256)}.${rnd(256)}.${rnd(256)} - - [${t}] "${methods[rnd(methods.length)]} ${p} HTTP/1.1" ${statuses[rnd(statuses.length)]} ${rnd(50000)} "-" "${agents[rnd(agents.length)]}"`;
  };
  // Joined and split again, as a file read in chunks and cut at newlines gives lines (flat
  // strings); the template-literal strings themselves are ropes that the first reader would pay
  // to flatten.
  return { line, take: (n) => Array.from({ length: n }, line).join('\n').split('\n') };
}

// CPU time of this process (user + system), not wall time: the machine is shared, and lines/s
// per core is what the figure means.
function time(fn) {
  // With --expose-gc, collect the input generator's garbage first so that it is not billed to
  // the code under test (the miner's own garbage is still collected inside the timed region).
  globalThis.gc?.();
  const t0 = process.cpuUsage();
  const r = fn();
  const d = process.cpuUsage(t0);
  return { secs: (d.user + d.system) / 1e6, r };
}

function runMiner(lines, rounds, strip) {
  const m = new TemplateMiner();
  // warm-up: JIT and the shape cache, as in a long-running collector
  for (let i = 0; i < Math.min(lines.length, 20_000); i++) m.add(strip ? stripHeader(lines[i]) : lines[i], 0);
  const { secs } = time(() => {
    for (let r = 0; r < rounds; r++) for (let i = 0; i < lines.length; i++) m.add(strip ? stripHeader(lines[i]) : lines[i], i);
  });
  return { rate: (lines.length * rounds) / secs, templates: m.stats().clusters };
}

// nginx lines are generated in chunks outside the timed region and dropped after mining, as
// lines stream through a collector (holding a million lines at once would time the garbage
// collector's old generation instead).
function runNginx(total) {
  const chunk = 50_000;
  const gen = nginx(total);
  const m = new TemplateMiner();
  const seen = new Map();
  const re = /\d+/g;
  let minerSecs = 0;
  let naiveSecs = 0;
  for (const l of gen.take(Math.min(total, 20_000))) m.add(stripHeader(l), 0); // warm-up
  for (let done = 0; done < total; done += chunk) {
    const lines = gen.take(Math.min(chunk, total - done));
    minerSecs += time(() => { for (let i = 0; i < lines.length; i++) m.add(stripHeader(lines[i]), i); }).secs;
    naiveSecs += time(() => {
      for (let i = 0; i < lines.length; i++) {
        const k = lines[i].replace(re, '<*>');
        seen.set(k, (seen.get(k) ?? 0) + 1);
      }
    }).secs;
  }
  return [{ rate: total / minerSecs, templates: m.stats().clusters }, { rate: total / naiveSecs, templates: seen.size }];
}

function runNaive(lines, rounds) {
  const seen = new Map();
  const re = /\d+/g;
  const { secs } = time(() => {
    for (let r = 0; r < rounds; r++) for (let i = 0; i < lines.length; i++) {
      const k = lines[i].replace(re, '<*>');
      seen.set(k, (seen.get(k) ?? 0) + 1);
    }
  });
  return { rate: (lines.length * rounds) / secs, templates: seen.size };
}

const fmt = (x) => Math.round(x).toLocaleString('en-US');
const results = [];
if (!ONLY.has('loghub')) {
  // not asked for
} else if (existsSync(DATA)) {
  const content = loghubContent();
  const raw = loghubRaw();
  results.push(['loghub-content', content.length, ROUNDS, runMiner(content, ROUNDS, false), runNaive(content, ROUNDS)]);
  results.push(['loghub-raw', raw.length, ROUNDS, runMiner(raw, ROUNDS, true), runNaive(raw, ROUNDS)]);
} else {
  console.error(`no Loghub data at ${DATA}; skipping those inputs`);
}
if (ONLY.has('nginx')) results.push(['nginx', NGINX_LINES, 1, ...runNginx(NGINX_LINES)]);
// Worst cases: every line a new template (random words, no digits), so nothing is cached and
// templates are evicted at max_templates; and the same with one shared first word, which fills
// one bucket to max_bucket.
if (ONLY.has('worst')) {
  const junk = words(WORST_LINES, '');
  results.push(['worst: new', junk.length, 1, runMiner(junk, 1, false), runNaive(junk, 1)]);
  const junk1 = words(WORST_LINES, 'event ');
  results.push(['worst: 1 bucket', junk1.length, 1, runMiner(junk1, 1, false), runNaive(junk1, 1)]);
}

function words(n, prefix) {
  let s = 7;
  const rnd = (k) => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s % k; };
  const word = () => { let w = ''; const l = 3 + rnd(6); for (let i = 0; i < l; i++) w += String.fromCharCode(97 + rnd(26)); return w; };
  const out = [];
  for (let i = 0; i < n; i++) { const k = 4 + rnd(4); const ws = []; for (let j = 0; j < k; j++) ws.push(word()); out.push(prefix + ws.join(' ')); }
  return out.join('\n').split('\n');
}

console.log(`node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'} (${os.cpus().length} cores), one thread`);
console.log('input            lines x rounds     miner lines/s  templates   naive lines/s  naive keys');
for (const [name, n, rounds, m, b] of results) {
  console.log(`${name.padEnd(16)} ${String(n).padStart(8)} x ${String(rounds).padEnd(4)} ${fmt(m.rate).padStart(15)} ${String(m.templates).padStart(10)} ${fmt(b.rate).padStart(15)} ${String(b.templates).padStart(11)}`);
}
