#!/usr/bin/env node
// `pnpm check`: every check and test of the repository, in the order CI runs them, ending with
// the test runner's closing line. Assumes dependencies are installed (tools/run does that).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const env = { ...process.env, TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' };
const bin = (name) => path.join(root, 'node_modules', '.bin', name);
const skipRelease = process.argv.includes('--skip-release');

const steps = [
  ['build and typecheck', bin('turbo'), ['run', 'build', 'typecheck', '--output-logs=errors-only']],
  ['lint and format (biome)', bin('biome'), ['check', '.']],
  ['dependency direction and cycles', process.execPath, ['tools/repo-checks/check-deps.mjs']],
  ['API reports (exports of each published package)', process.execPath, ['tools/repo-checks/api-report.mjs']],
  ['package exports (publint, attw)', bin('turbo'), ['run', 'check:pkg', '--output-logs=errors-only']],
  ...(skipRelease
    ? []
    : [
        [
          'release: pack, check and smoke-import every package',
          process.execPath,
          ['tools/release/check.mjs'],
        ],
      ]),
  ['tests', process.execPath, ['tools/repo-checks/run-tests.mjs']],
];

// Every step runs even when an earlier one failed, so one run shows every problem; the tests
// run last so the output ends with their closing line.
const failed = [];
for (const [title, cmd, args] of steps) {
  if (title === 'tests' && failed.length > 0) {
    console.log(`\n== failed so far: ${failed.join('; ')} — running the tests anyway`);
  }
  console.log(`\n== ${title}`);
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env });
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  if (r.status !== 0) failed.push(title);
  if (title !== 'tests') console.log(`== ${r.status === 0 ? 'ok' : 'FAILED'}: ${title} (${secs} s)`);
}
process.exit(failed.length === 0 ? 0 : 1);
