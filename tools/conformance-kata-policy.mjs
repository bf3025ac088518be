#!/usr/bin/env node
// Runs the Kata agent-policy conformance cases (../shared/conformance/kata-policy by default)
// against @contrast-cc/policy's generator, rules and Rego evaluator. Builds the package first.
// Usage: pnpm --silent conformance:kata-policy [dir]
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = path.resolve(
  process.argv[2] ?? process.env.CONTRAST_SHARED_DIR ?? path.join(root, '../shared/conformance/kata-policy'),
);
const resolvedDir = existsSync(path.join(dir, 'index.json'))
  ? dir
  : path.join(dir, 'conformance/kata-policy');
if (!existsSync(path.join(resolvedDir, 'index.json'))) {
  console.error(`no conformance cases at ${dir} (expected index.json)`);
  process.exit(2);
}
execFileSync(
  'pnpm',
  ['exec', 'turbo', 'run', 'build', '--filter=@contrast-cc/policy...', '--output-logs=errors-only'],
  {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
  },
);
const policy = await import(pathToFileURL(path.join(root, 'packages/policy/dist/index.js')).href);
const images = await policy.loadRecordedImages(
  path.join(root, 'packages/policy/src/images/__fixtures__/conformance-images.json'),
);
const summary = await policy.runKataConformance(resolvedDir, images);
console.log(policy.formatConformance(summary));
process.exit(summary.failed > 0 ? 1 : 0);
