#!/usr/bin/env node
// Runs every test of every workspace project in one vitest run, then prints the closing line
//   Tests: N passed, M failed, K skipped
// that CI reads. Extra arguments go to vitest (e.g. a file filter).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const outDir = path.join(root, '.test-results');
const outFile = path.join(outDir, 'vitest.json');
mkdirSync(outDir, { recursive: true });
rmSync(outFile, { force: true });

const vitest = path.join(root, 'node_modules', '.bin', 'vitest');
const run = spawnSync(
  vitest,
  ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${outFile}`, ...process.argv.slice(2)],
  {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, FORCE_COLOR: process.env.CI ? '0' : process.env.FORCE_COLOR },
  },
);

let summary;
try {
  const r = JSON.parse(readFileSync(outFile, 'utf8'));
  const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  // Suites that fail to load count as failures even when no test inside them ran.
  const brokenFiles = (r.testResults ?? []).filter(
    (f) => f.status === 'failed' && (f.assertionResults ?? []).length === 0,
  ).length;
  summary = { passed: r.numPassedTests, failed: r.numFailedTests + brokenFiles, skipped };
} catch {
  summary = undefined;
}
if (!summary) {
  console.log('\nTests: 0 passed, 1 failed (vitest produced no report)');
  process.exit(run.status || 1);
}
console.log(`\nTests: ${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped`);
process.exit(run.status === 0 && summary.failed === 0 ? 0 : 1);
