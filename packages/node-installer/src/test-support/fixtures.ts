import { createHash } from 'node:crypto';
import type { QemuTee } from '../qemu-runtime.js';
import { bundledFile, type RuntimeAssets } from '../runtime-assets.js';

/** An SRI string over a label, so that every fixture file has a distinct, real-looking digest. */
export function sri(label: string): string {
  return `sha256-${createHash('sha256').update(label).digest('base64')}`;
}

/** A released-looking runtime for one TEE (fixture data of these tests, not a real release). */
export function fixtureAssets(tee: QemuTee): RuntimeAssets<null> {
  const file = (path: string, name: string, executable = false) =>
    bundledFile(path, name, { executable, integrity: sri(`${tee}:${name}`) });
  return {
    release: 'v0.0.0-test',
    installerImage: `registry.invalid/node-installer-${tee}@sha256:${'1'.repeat(64)}`,
    snapshotterImage: `registry.invalid/nydus-snapshotter@sha256:${'2'.repeat(64)}`,
    files: [
      file('bin/containerd-shim-contrast-cc-v2', 'shim', true),
      file('bin/nydus-overlayfs', 'nydus-overlayfs', true),
      file(`${tee}/bin/qemu-system-x86_64`, `qemu-${tee}`, true),
      file(`${tee}/share/OVMF.fd`, `OVMF-${tee}.fd`),
      file('share/kata-kernel', 'kernel'),
      file('share/kata-containers.img', 'image'),
    ],
    kernelParams: 'console=ttyS0 panic=-1',
    vmMemoryMiB: 256,
    launchMeasurements: null,
  };
}
