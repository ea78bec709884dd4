// CI guard (.ci/run): fails loudly unless the Kafka tests really ran against brokers, in each
// vitest project (`kafka`: 1 broker; `kafka-cluster`: 3 brokers; `chaos`, 3 brokers, when its
// report is given), with no Kafka or chaos test skipped.
// Usage: node scripts/kafka/ci-check.mjs <vitest json report> [more reports...]
import { readFileSync } from 'node:fs';

const reports = process.argv.length > 2 ? process.argv.slice(2) : ['.cache/vitest.json'];
/** @type {{ name: string, assertionResults: { status: string, fullName: string }[] }[]} */
const files = reports.flatMap((r) => JSON.parse(readFileSync(r, 'utf8')).testResults);
const problems = [];
const PROJECTS = /** @type {const} */ ([
  ['1-broker (*.kafka.test.ts)', /(?<!\.cluster)\.kafka\.test\.ts$/],
  ['3-broker (*.cluster.kafka.test.ts)', /\.cluster\.kafka\.test\.ts$/],
  // The chaos project (issue 11) runs on the same 3-broker cluster setup (`npm run chaos`).
  ...(reports.some((r) => r.includes('chaos')) ? [['chaos (test/chaos/*.chaos.test.ts)', /\.chaos\.test\.ts$/]] : []),
]);
for (const [label, pattern] of PROJECTS) {
  const mine = files.filter((f) => pattern.test(f.name));
  const passed = mine.flatMap((f) => f.assertionResults).filter((a) => a.status === 'passed').length;
  if (passed === 0) problems.push(`no ${label} Kafka test passed (${mine.length} files ran)`);
}
const skipped = files
  .filter((f) => /\.(kafka|chaos)\.test\.ts$/.test(f.name))
  .flatMap((f) => f.assertionResults)
  .filter((a) => a.status !== 'passed' && a.status !== 'failed');
for (const a of skipped) problems.push(`Kafka test not run (${a.status}): ${a.fullName}`);
if (problems.length) {
  for (const p of problems) console.error(`KAFKA TESTS: ${p}`);
  process.exit(1);
}
