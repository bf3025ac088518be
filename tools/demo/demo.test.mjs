import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

// The README's main command, `bash tools/run demo`, minus its install and build steps
// (CONTRAST_RUN_SKIP_SETUP=1): `pnpm --silent contrast demo --workspace DIR`, then the user's path
// of tools/demo/index.mjs. It runs the built CLI, so it needs a build first — the check pipeline
// builds before it tests; without a build it skips with a notice.
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const built = existsSync(path.join(root, 'apps/cli/dist/bin.js'));
if (!built) console.warn('skipping the demo test: the CLI is not built (run pnpm build)');
const parent = mkdtempSync(path.join(tmpdir(), 'contrast-demo-test-'));
afterAll(() => rmSync(parent, { recursive: true, force: true }));

const runDemo = (ws) =>
  spawnSync('bash', [path.join(root, 'tools/run'), 'demo', '--workspace', ws], {
    encoding: 'utf8',
    env: { ...process.env, CONTRAST_RUN_SKIP_SETUP: '1' },
    timeout: 170_000,
  });

describe.skipIf(!built)('bash tools/run demo', () => {
  it('runs contrast demo, then the user path, and leaves the workspace a user expects', () => {
    const ws = path.join(parent, 'ws');
    const r = runDemo(ws);
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain('pnpm --silent contrast demo --workspace');
    expect(r.stdout).toContain('[10/10]');
    expect(r.stdout).toContain('api answered "GET /orders" over the mesh');
    expect(r.stdout).toContain('Successfully recovered the Coordinator.');
    expect(r.stdout).toContain('What you saw');
    expect(r.stdout).toContain('[3/3] What a real deployment runs');
    // Bare metal without the operator's runtime assets: refused, saying what to supply.
    expect(r.stdout).toContain('the Metal-QEMU-SNP runtime has no pinned release');
    for (const f of [
      'manifest.json',
      'verify/coordinator-root-ca.pem',
      'verify/mesh-ca.pem',
      'verify/manifest.0.json',
      'seed-shares.json',
      'pods/web/tls-config/certChain.pem',
    ]) {
      expect(existsSync(path.join(ws, f)), f).toBe(true);
    }
    const manifest = JSON.parse(readFileSync(path.join(ws, 'manifest.json'), 'utf8'));
    expect(Object.values(manifest.Policies).filter((p) => p.Role === 'coordinator')).toHaveLength(1);
  });

  it('refuses a workspace that is not empty (exit 2), and changes nothing there', () => {
    const ws = path.join(parent, 'full');
    mkdirSync(ws);
    writeFileSync(path.join(ws, 'keep.txt'), 'mine');
    const r = runDemo(ws);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('not empty');
    expect(readdirSync(ws)).toEqual(['keep.txt']);
  });
});
