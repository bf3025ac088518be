#!/usr/bin/env node
// The second half of the README's main job (`bash tools/run demo`), after `contrast demo`: a real
// user's path with the real `contrast` CLI as a separate process (apps/cli/dist/bin.js, so build
// first): the runtime for bare-metal SEV-SNP, and a real AMD SEV-SNP report from a Genoa machine
// checked offline (from ../shared/testvectors; skipped with a notice when that is absent).
// Usage: node tools/demo/index.mjs --workspace DIR   (the directory `contrast demo` used; it must exist)
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const cli = path.join(root, 'apps/cli/dist/bin.js');
const STEPS = 3;
let step = 0;

const title = (text) => console.log(`\n[${++step}/${STEPS}] ${text}`);

function workspaceArg() {
  const args = process.argv.slice(2);
  const i = args.indexOf('--workspace');
  const ws = i >= 0 ? args[i + 1] : undefined;
  if (!ws || args.length !== 2) throw new Error('usage: node tools/demo/index.mjs --workspace DIR');
  const abs = path.resolve(ws);
  if (!existsSync(abs) || !statSync(abs).isDirectory())
    throw new Error(`--workspace ${ws}: no such directory`);
  return abs;
}

/** Runs the built CLI as its own process in the workspace; prints the command and its output; returns stdout. */
async function contrast(ws, args, { quiet = false, expectStatus = 0 } = {}) {
  console.log(`$ contrast ${args.join(' ')}`);
  const child = spawn(process.execPath, [cli, ...args], { cwd: ws, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let all = '';
  child.stdout.on('data', (b) => {
    stdout += b;
    all += b;
  });
  child.stderr.on('data', (b) => {
    all += b;
  });
  const status = await new Promise((resolve) => child.on('close', resolve));
  const out = all.trimEnd();
  if ((!quiet || status !== expectStatus) && out) console.log(out.replace(/^/gm, '  '));
  if (status !== expectStatus)
    throw new Error(`contrast ${args[0]} exited ${status}, expected ${expectStatus}`);
  return stdout;
}

async function main() {
  if (!existsSync(cli)) throw new Error(`${path.relative(root, cli)} is missing: build first (pnpm build)`);
  const ws = workspaceArg();

  title('A real user on a real cluster: the runtime for bare-metal SEV-SNP');
  // No release of our runtime is pinned: without the operator's runtime assets it refuses (exit 2).
  await contrast(ws, ['runtime', '--platform', 'Metal-QEMU-SNP'], { expectStatus: 2 });
  const ovmf = '/usr/share/ovmf/OVMF.fd';
  if (existsSync(ovmf)) {
    // The launch digest the hardware will report for a VM booted from this firmware.
    await contrast(ws, [
      'runtime',
      'measure',
      '--snp',
      '--firmware',
      ovmf,
      '--vcpus',
      '1',
      '--vcpu-type',
      'EPYC-Genoa',
    ]);
  } else {
    console.warn(`  skipped: no OVMF at ${ovmf} (Debian package ovmf)`);
  }
  console.log(
    '  (contrast runtime --assets runtime-assets.json | kubectl apply -f -   installs it on a cluster)',
  );

  title('A real user checks real hardware evidence: an AMD SEV-SNP report from a Genoa machine');
  const shared = process.env.CONTRAST_SHARED_DIR ?? path.resolve(root, '../shared');
  const vector = path.join(shared, 'testvectors/snp/oak-genoa-v5-vcek');
  if (existsSync(vector)) {
    await contrast(ws, [
      'evidence',
      'verify',
      '--snp-report',
      path.join(vector, 'report.bin'),
      '--cert',
      path.join(vector, 'vcek.der'),
      '--at',
      '2025-10-01T08:00:00Z',
    ]);
  } else {
    console.warn(`  skipped: no real evidence at ${vector} (set CONTRAST_SHARED_DIR)`);
  }

  title('What a real deployment runs, in order');
  console.log(`  contrast generate --reference-values Metal-QEMU-SNP --assets runtime-assets.json deployment/   # then fill in MinimumTCB in manifest.json
  kubectl apply -f deployment/
  contrast set -c <coordinator-ip>:1314 deployment/
  contrast verify -c <coordinator-ip>:1314        # share verify/coordinator-root-ca.pem with your clients`);
  console.log(`\nuser's path: done.`);
}

try {
  await main();
} catch (e) {
  console.error(`\nuser's path: FAILED: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
}
