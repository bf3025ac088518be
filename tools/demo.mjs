#!/usr/bin/env node
// The README's main job (after `bash tools/run demo` has installed and built everything).
// When the CLI has its `demo` command (issue #8) this runs it: the end-to-end demo on the
// simulator platform, then a real user's path. Until then it runs what exists, step by step,
// and says plainly what is not there yet.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'apps/cli/dist/bin.js');
const args = process.argv.slice(2);

function contrast(argv, { show = true } = {}) {
  if (show) console.log(`\n$ contrast ${argv.join(' ')}`);
  const r = spawnSync(process.execPath, [cli, ...argv], {
    stdio: show ? 'inherit' : 'pipe',
    encoding: 'utf8',
  });
  return r;
}

const help = contrast(['--help'], { show: false });
const commands = new Set([...(help.stdout ?? '').matchAll(/^ {2}(\S+) {2,}/gm)].map((m) => m[1]));

if (commands.has('demo')) {
  const wsIdx = args.indexOf('--workspace');
  const workspace = wsIdx >= 0 ? args[wsIdx + 1] : mkdtempSync(path.join(tmpdir(), 'contrast-demo-'));
  const r = contrast([
    'demo',
    '--workspace',
    workspace,
    ...args.filter((_, i) => i !== wsIdx && i !== wsIdx + 1),
  ]);
  process.exit(r.status ?? 1);
}

console.log('The end-to-end demo (contrast demo) is not built yet; running what exists today.');
let failed = 0;
for (const argv of [['--version'], ['--help']]) {
  const r = contrast(argv);
  if (r.status !== 0) failed++;
}
console.log(`\ndemo: ${failed === 0 ? 'done' : `${failed} step(s) failed`}`);
process.exit(failed === 0 ? 0 : 1);
