import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const sha = (alg: string, label: string) => createHash(alg).update(label).digest('hex');

/** The launch measurements the test descriptions give (digests of labels: fixture data). */
export const TEST_SNP_MEASUREMENTS = {
  Milan: sha('sha384', 'test-milan'),
  Genoa: sha('sha384', 'test-genoa'),
};

/**
 * Writes a runtime assets description for `platform` into `dir` (runtime-assets.json) with local
 * sources for its files (small test files: their digests are computed by the loader), and the
 * given launch measurements. Returns the description's path. `change` edits the JSON first.
 */
export function writeRuntimeAssets(
  dir: string,
  platform: 'Metal-QEMU-SNP' | 'Metal-QEMU-TDX',
  change: (d: Record<string, unknown>) => void = () => {},
): string {
  const tee = platform === 'Metal-QEMU-SNP' ? 'snp' : 'tdx';
  mkdirSync(path.join(dir, 'files'), { recursive: true });
  const file = (p: string, executable = false) => {
    const name = p.replaceAll('/', '_');
    writeFileSync(path.join(dir, 'files', name), `test content of ${p}\n`);
    return { path: p, url: `https://downloads.invalid/${name}`, source: `files/${name}`, executable };
  };
  const description: Record<string, unknown> = {
    platform,
    release: 'test fixture',
    installerImage: `registry.invalid/node-installer@sha256:${sha('sha256', 'installer')}`,
    snapshotterImage: `registry.invalid/nydus-snapshotter@sha256:${sha('sha256', 'snapshotter')}`,
    kernelParams: 'console=ttyS0 panic=-1',
    vmMemoryMiB: 512,
    files: [
      file('bin/containerd-shim-contrast-cc-v2', true),
      file('bin/nydus-overlayfs', true),
      file(`${tee}/bin/qemu-system-x86_64`, true),
      file(`${tee}/share/OVMF.fd`),
      file('share/kata-kernel'),
      file('share/kata-containers.img'),
    ],
    launchMeasurements:
      tee === 'snp'
        ? TEST_SNP_MEASUREMENTS
        : {
            mrTd: sha('sha384', 'test-mrtd'),
            rtmrs: [0, 1, 2, 3].map((i) => sha('sha384', `test-rtmr${i}`)),
          },
  };
  change(description);
  const out = path.join(dir, 'runtime-assets.json');
  writeFileSync(out, `${JSON.stringify(description, null, 2)}\n`);
  return out;
}
