#!/usr/bin/env node
// Sums vitest JSON reports into the last line `N passed, N failed`, and names every failing test
// (file, test, first lines of the message) just above it, so a CI log's tail says what broke.
// Usage: node scripts/test-summary.mjs REPORT.json [...]   (a missing report counts as 1 failure)
import { existsSync, readFileSync } from 'node:fs';
import { relative } from 'node:path';

/** Counts of one vitest JSON report, and a line per failure. */
export function summarize(report) {
  // A file that fails to load has no failing test of its own: count it as one failure.
  const broken = report.testResults.filter((f) => f.status === 'failed' && !f.assertionResults.some((a) => a.status === 'failed'));
  const failures = [];
  for (const file of report.testResults) {
    const name = relative(process.cwd(), file.name);
    if (broken.includes(file)) failures.push(`${name}: file failed: ${firstLines(file.message)}`);
    for (const a of file.assertionResults) {
      if (a.status === 'failed') failures.push(`${name} > ${a.fullName}: ${firstLines((a.failureMessages ?? []).join('\n'))}`);
    }
  }
  return {
    passed: report.numPassedTests,
    failed: report.numFailedTests + broken.length,
    skipped: report.numPendingTests + report.numTodoTests,
    failures,
  };
}

function firstLines(text = '') {
  return text.split('\n').map((l) => l.trim()).filter(Boolean).slice(0, 3).join(' | ').slice(0, 400);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  const failures = [];
  for (const file of process.argv.slice(2)) {
    if (!existsSync(file)) {
      console.log(`${file}: missing (that run did not happen), counted as 1 failure`);
      failed += 1;
      continue;
    }
    const s = summarize(JSON.parse(readFileSync(file, 'utf8')));
    console.log(`${file}: ${s.passed} passed, ${s.failed} failed${s.skipped ? `, ${s.skipped} skipped` : ''}`);
    passed += s.passed;
    failed += s.failed;
    skipped += s.skipped;
    failures.push(...s.failures.map((f) => `FAILED ${f}`));
  }
  for (const f of failures) console.log(f);
  console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  process.exitCode = failed === 0 ? 0 : 1;
}
