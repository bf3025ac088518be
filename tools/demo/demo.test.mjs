import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

// The README's main job, end to end. It runs the built programs (dist/), so it needs `pnpm build`
// first — the check pipeline builds before it tests; without a build it skips with a notice.
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const built = [
  'apps/cli/dist/bin.js',
  'apps/coordinator/dist/index.js',
  'apps/initializer/dist/index.js',
].every((f) => existsSync(path.join(root, f)));
if (!built) console.warn('skipping the demo test: the apps are not built (run pnpm build)');
const parent = mkdtempSync(path.join(tmpdir(), 'contrast-demo-test-'));
afterAll(() => rmSync(parent, { recursive: true, force: true }));

describe.skipIf(!built)('the demo', () => {
  it('runs the whole flow on the simulator and leaves the workspace a user expects', () => {
    const ws = path.join(parent, 'ws');
    const r = spawnSync(process.execPath, [path.join(root, 'tools/demo/index.mjs'), '--workspace', ws], {
      encoding: 'utf8',
    });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain('[10/10]');
    expect(r.stdout).toContain('api answered "GET /orders" over the mesh');
    expect(r.stdout).toContain('Successfully recovered the Coordinator.');
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

  it('refuses a workspace that is not empty, and changes nothing there', () => {
    const r = spawnSync(process.execPath, [path.join(root, 'tools/demo/index.mjs'), '--workspace', root], {
      encoding: 'utf8',
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('not empty');
  });
});
