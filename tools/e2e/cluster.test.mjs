// e2e-cluster without a cluster: the notice without KUBECONFIG, the dry run (runtime and generate
// for Metal-QEMU-SNP with a runtime assets description of small test files, every manifest
// validated, the cluster steps printed), and the validation refusing what a cluster run must not apply.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseArgs } from './cluster.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const cli = path.resolve(here, '../../apps/cli/dist/bin.js');
const HAS_CLI = existsSync(cli);
if (!HAS_CLI) console.warn(`NOTICE: tools/e2e cluster dry-run test skipped: ${cli} is not built`);

const dirs = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A runtime assets description of small test files (the format of `contrast runtime --help`). */
function testAssets() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'e2e-assets-'));
  dirs.push(dir);
  mkdirSync(path.join(dir, 'files'));
  const sha = (alg, label) => createHash(alg).update(label).digest('hex');
  const file = (p, executable = false) => {
    const name = p.replaceAll('/', '_');
    writeFileSync(path.join(dir, 'files', name), `test content of ${p}\n`);
    return { path: p, url: `https://downloads.invalid/${name}`, source: `files/${name}`, executable };
  };
  writeFileSync(
    path.join(dir, 'runtime-assets.json'),
    JSON.stringify({
      platform: 'Metal-QEMU-SNP',
      release: 'test fixture',
      installerImage: `registry.invalid/node-installer@sha256:${sha('sha256', 'installer')}`,
      snapshotterImage: `registry.invalid/nydus-snapshotter@sha256:${sha('sha256', 'snapshotter')}`,
      kernelParams: 'console=ttyS0',
      vmMemoryMiB: 512,
      files: [
        file('bin/containerd-shim-contrast-cc-v2', true),
        file('bin/nydus-overlayfs', true),
        file('snp/bin/qemu-system-x86_64', true),
        file('snp/share/OVMF.fd'),
        file('share/kata-kernel'),
        file('share/kata-containers.img'),
      ],
      launchMeasurements: { Milan: sha('sha384', 'test-milan'), Genoa: sha('sha384', 'test-genoa') },
    }),
  );
  return path.join(dir, 'runtime-assets.json');
}

const runCluster = (args, env = {}) => {
  const { KUBECONFIG: _, ...rest } = process.env;
  return spawnSync(process.execPath, [path.join(here, 'cluster.mjs'), ...args], {
    encoding: 'utf8',
    env: { ...rest, ...env },
  });
};

describe('e2e-cluster', () => {
  it('skips with a notice without KUBECONFIG, refuses bad flags (exit 2)', () => {
    const r = runCluster([]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/SKIPPED: KUBECONFIG is not set/);
    expect(runCluster(['--frobnicate']).status).toBe(2);
    expect(() => parseArgs(['--platform'])).toThrow(/--platform needs a value/);
  });

  it.skipIf(!HAS_CLI)(
    'the dry run validates the runtime and the generated shop and prints the cluster steps',
    () => {
      const r = runCluster(['--dry-run', '--assets', testAssets()]);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(
        /RuntimeClass contrast-cc-metal-qemu-snp-[0-9a-f]{8}; every image pinned by a real digest/,
      );
      expect(r.stdout).toMatch(/5 workloads: .*Coordinator StatefulSet x3 on the ConfigMap store/);
      for (const s of [
        'install the runtime',
        'contrast set',
        'a Coordinator pod is killed and recovers from a peer',
        'clean up',
      ]) {
        expect(r.stdout).toContain(`▶ ${s}`);
      }
      expect(r.stdout).toMatch(/9 cluster steps printed, not run/);
      // without assets the bare-metal platform is refused by contrast runtime, naming the step
      const refused = runCluster(['--dry-run']);
      expect(refused.status).toBe(1);
      expect(refused.stdout).toMatch(
        /FAILED: step "the runtime objects \(contrast runtime\)" failed: .*--assets/,
      );
    },
  );
});
