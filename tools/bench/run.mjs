#!/usr/bin/env node
// pnpm --silent bench <name> [args]: builds what is stale (turbo cache), then runs one benchmark.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const names = readdirSync(path.join(here, 'benchmarks'))
  .filter((f) => f.endsWith('.mjs'))
  .map((f) => f.slice(0, -4))
  .sort();
const [name, ...args] = process.argv.slice(2);
if (!name || !names.includes(name)) {
  console.error(`usage: pnpm --silent bench <name>\nbenchmarks: ${names.join(', ')}`);
  process.exit(2);
}
const env = { ...process.env, TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' };
const build = spawnSync('pnpm', ['exec', 'turbo', 'run', 'build', '--output-logs=errors-only'], {
  cwd: path.resolve(here, '../..'),
  stdio: ['ignore', 'ignore', 'inherit'],
  env,
});
if (build.status !== 0) {
  console.error('bench: the build failed');
  process.exit(1);
}
const r = spawnSync(process.execPath, [path.join(here, 'benchmarks', `${name}.mjs`), ...args], {
  stdio: 'inherit',
  env,
});
process.exit(r.status ?? 1);
