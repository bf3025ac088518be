// cli-start: cold start of `contrast --help` against a bare `node -e 0`, same machine, same run.
// Target (issue #8): at most 3x.
//
// It runs the bundled bin as `npx @contrast-cc/cli` would: the package's dist/ and package.json
// copied into an empty temporary directory, no node_modules anywhere, so nothing is resolved
// outside the bundle. The runs are interleaved (baseline, help, ...) so load from other processes
// hits both alike; the figures are medians. Also printed (not part of the ratio): `--version`, and
// `runtime --help`, which loads one command's lazily imported code.
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { commandMillis, printRatio, repoRoot } from '../lib.mjs';

const pkgDir = path.join(repoRoot, 'apps/cli');
if (!existsSync(path.join(pkgDir, 'dist/bin.js'))) {
  console.error(
    'cli-start: apps/cli/dist/bin.js is missing; build first (pnpm --silent bench cli-start does)',
  );
  process.exit(1);
}
const runs = Number(process.env.BENCH_RUNS ?? 21);
const rounds = 3;
const install = mkdtempSync(path.join(tmpdir(), 'contrast-cli-start-'));
try {
  // What the packed package holds: package.json and its "files" entries that exist (dist/, and
  // e.g. release-images.json, which --version reads); negations and globs are left to npm pack.
  const { files = ['dist'] } = JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
  for (const entry of ['package.json', ...files]) {
    if (entry.startsWith('!') || entry.includes('*') || !existsSync(path.join(pkgDir, entry))) continue;
    cpSync(path.join(pkgDir, entry), path.join(install, entry), { recursive: true });
  }
  const bin = path.join(install, 'dist/bin.js');
  const env = { ...process.env, NODE_PATH: '' };
  const opts = { runs: Math.ceil(runs / rounds), env };
  const samples = { baseline: [], help: [], version: [], commandHelp: [] };
  for (let i = 0; i < rounds; i++) {
    samples.baseline.push(commandMillis(process.execPath, ['-e', '0'], opts));
    samples.help.push(commandMillis(process.execPath, [bin, '--help'], opts));
    samples.version.push(commandMillis(process.execPath, [bin, '--version'], opts));
    samples.commandHelp.push(commandMillis(process.execPath, [bin, 'runtime', '--help'], opts));
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const baseline = median(samples.baseline);
  const help = median(samples.help);
  const n = opts.runs * rounds;
  console.log(
    `node -e 0:                ${baseline.toFixed(1)} ms (median of ${rounds} medians of ${opts.runs})`,
  );
  console.log(`contrast --help:          ${help.toFixed(1)} ms (bundled bin, no node_modules; ${n} runs)`);
  console.log(`contrast --version:       ${median(samples.version).toFixed(1)} ms`);
  console.log(
    `contrast runtime --help:  ${median(samples.commandHelp).toFixed(1)} ms (loads the command's chunks)`,
  );
  printRatio('cli-start', help / baseline, 'contrast --help wall time / node -e 0 wall time; target <= 3');
} finally {
  rmSync(install, { recursive: true, force: true });
}
