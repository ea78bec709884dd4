#!/usr/bin/env node
// Leave-one-dataset-out check of the miner's one global setting (minVariants: how many distinct
// values make a word position a variable) on the Loghub-2k development datasets.
//
//   npx tsc -p tsconfig.build.json && node bench/miner-loo.mjs [--mode content|raw]
//
// For each dataset D: pick the setting with the best mean GA on the other 7 (ties: the
// shipped default, then the smaller value), then score D with it. Prints the 8 held-out scores
// and their mean, beside the scores of the shipped default. Lines go through the same code as
// `tidewatch patterns` (header detection, miner, merges followed to the final cluster);
// scoring is ../shared/eval/loghub/score.py.
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const { TemplateMiner, DEFAULT_MINER_OPTIONS } = await import(`${root}dist/collector/miner/miner.js`);
const { stripHeader } = await import(`${root}dist/collector/miner/header.js`);
const DATA = `${root}../shared/datasets/loghub`;
const SCORE = `${root}../shared/eval/loghub/score.py`;
const NAMES = ['HDFS', 'Hadoop', 'Spark', 'Zookeeper', 'BGL', 'HPC', 'Apache', 'OpenSSH'];
const GRID = [2, 3, 4, 5, 6, 8, 12];
const mode = process.argv.includes('--mode') ? process.argv[process.argv.indexOf('--mode') + 1] : 'content';

function contentLines(name) {
  // The scorer's own content extraction (run-parser.sh), so the input is exactly the same.
  const py = `import csv,sys
csv.field_size_limit(sys.maxsize)
rows=list(csv.DictReader(open(sys.argv[1],newline='',encoding='utf-8',errors='surrogateescape')))
rows.sort(key=lambda r:int(r['LineId']))
sys.stdout.write(''.join(r['Content'].replace('\\n',' ').replace('\\r',' ')+'\\n' for r in rows))`;
  return execFileSync('python3', ['-c', py, `${DATA}/${name}/${name}_2k.log_structured_corrected.csv`], { maxBuffer: 1 << 26 }).toString('utf8').split('\n').slice(0, -1);
}

const inputs = Object.fromEntries(NAMES.map((n) => [n, mode === 'raw' ? readFileSync(`${DATA}/${n}/${n}_2k.log`, 'utf8').split('\n').filter((l, i, a) => i < a.length - 1 || l !== '') : contentLines(n)]));
const dir = mkdtempSync(join(tmpdir(), 'tw-loo-'));

function predict(lines, minVariants) {
  const m = new TemplateMiner({ minVariants, maxTemplates: 1_000_000 });
  const ids = [];
  const tpl = new Map();
  const alias = new Map();
  lines.forEach((l, i) => {
    const r = m.add(stripHeader(l), i);
    ids.push(r.id);
    tpl.set(r.id, r.template);
    for (const x of r.merged) alias.set(x, r.id);
  });
  const fin = (id) => { while (alias.has(id)) id = alias.get(id); return id; };
  return ids.map((id) => JSON.stringify({ cluster: fin(id), template: tpl.get(fin(id)) })).join('\n') + '\n';
}

// scores[k][name] = {GA, FGA, PA, FTA}
const scores = {};
for (const k of GRID) {
  const sub = join(dir, `k${k}`);
  execFileSync('mkdir', ['-p', sub]);
  for (const n of NAMES) writeFileSync(join(sub, `${n}.jsonl`), predict(inputs[n], k));
  const out = join(sub, 'score.json');
  execFileSync('python3', [SCORE, '--data-dir', DATA, '--pred-dir', sub, '--json', out]);
  scores[k] = JSON.parse(readFileSync(out, 'utf8')).results;
}

// Baseline in the same run: mask digit runs, group identical results (no clustering at all).
{
  const sub = join(dir, 'naive');
  execFileSync('mkdir', ['-p', sub]);
  for (const n of NAMES) {
    const rows = inputs[n].map((l) => {
      const t = stripHeader(l).replace(/\S*\d\S*/g, '<*>');
      return JSON.stringify({ cluster: t, template: t });
    });
    writeFileSync(join(sub, `${n}.jsonl`), rows.join('\n') + '\n');
  }
  const out = join(sub, 'score.json');
  execFileSync('python3', [SCORE, '--data-dir', DATA, '--pred-dir', sub, '--json', out]);
  scores.naive = JSON.parse(readFileSync(out, 'utf8')).results;
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const M = ['GA', 'FGA', 'PA', 'FTA'];
console.log(`mode=${mode}; grid minVariants=${GRID.join(',')}; shipped default ${DEFAULT_MINER_OPTIONS.minVariants}`);
console.log('held-out     chosen   ' + M.map((x) => x.padStart(6)).join(' ') + '   | default ' + M.map((x) => x.padStart(6)).join(' '));
const held = [];
const dflt = [];
for (const d of NAMES) {
  const others = NAMES.filter((n) => n !== d);
  let best = DEFAULT_MINER_OPTIONS.minVariants;
  let bestGa = mean(others.map((n) => scores[best][n].GA));
  for (const k of GRID) {
    const ga = mean(others.map((n) => scores[k][n].GA));
    if (ga > bestGa + 1e-12) { best = k; bestGa = ga; }
  }
  held.push(scores[best][d]);
  dflt.push(scores[DEFAULT_MINER_OPTIONS.minVariants][d]);
  console.log(`${d.padEnd(12)} ${String(best).padStart(6)}   ` + M.map((x) => scores[best][d][x].toFixed(3).padStart(6)).join(' ') + '   |         ' + M.map((x) => scores[DEFAULT_MINER_OPTIONS.minVariants][d][x].toFixed(3).padStart(6)).join(' '));
}
console.log('mean                  ' + M.map((x) => mean(held.map((r) => r[x])).toFixed(3).padStart(6)).join(' ') + '   |         ' + M.map((x) => mean(dflt.map((r) => r[x])).toFixed(3).padStart(6)).join(' '));
console.log('\nmean GA over the 8 datasets per setting: ' + GRID.map((k) => `${k}: ${mean(NAMES.map((n) => scores[k][n].GA)).toFixed(3)}`).join(', '));
console.log('baseline (words with a digit -> <*>, identical lines grouped): ' + M.map((x) => `${x} ${mean(NAMES.map((n) => scores.naive[n][x])).toFixed(3)}`).join(', '));
