// Test helpers for packages and platforms that build runtimes: fixture assets (digests of labels,
// never a release of anything) and Debian's OVMF, the real firmware the measurement tests use.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { isContrastError, type PlatformRuntime } from '@contrast-cc/core';
import type { QemuTee } from '../qemu-runtime.js';
import { bundledFile, type RuntimeAssets } from '../runtime-assets.js';

/** An SRI string over a label, so that every fixture file has a distinct, real-looking digest. @public */
export function sri(label: string): string {
  return `sha256-${createHash('sha256').update(label).digest('base64')}`;
}

/** Lower-case hex digest of a label (`sha256` for images, `sha384` for measurements). @public */
export function labelDigest(algorithm: 'sha256' | 'sha384', label: string): string {
  return createHash(algorithm).update(label).digest('hex');
}

/**
 * Runtime assets for tests of one TEE: the files a QEMU runtime needs (shim, nydus-overlayfs,
 * QEMU, OVMF, kernel, image) with digests of labels, images by digest, and the given launch
 * measurements. Fixture data, not a release.
 * @public
 */
export function fixtureAssets<M>(
  tee: QemuTee,
  launchMeasurements: M,
  options: { label?: string; kernelParams?: string; vmMemoryMiB?: number } = {},
): RuntimeAssets<M> {
  const label = options.label ?? tee;
  const file = (path: string, name: string, executable = false) =>
    bundledFile(path, name, { executable, integrity: sri(`${label}:${name}`) });
  return {
    release: 'test-fixture',
    installerImage: `registry.invalid/node-installer-${tee}@sha256:${labelDigest('sha256', `${label}:installer`)}`,
    snapshotterImage: `registry.invalid/nydus-snapshotter@sha256:${labelDigest('sha256', `${label}:snapshotter`)}`,
    files: [
      file('bin/containerd-shim-contrast-cc-v2', 'containerd-shim-contrast-cc-v2', true),
      file('bin/nydus-overlayfs', 'nydus-overlayfs', true),
      file(`${tee}/bin/qemu-system-x86_64`, `qemu-system-x86_64`, true),
      file(`${tee}/share/OVMF.fd`, `OVMF-${tee}.fd`),
      file('share/kata-kernel', 'kata-kernel'),
      file('share/kata-containers.img', 'kata-containers.img'),
    ],
    kernelParams:
      options.kernelParams ?? 'console=ttyS0 panic=-1 selinux=0 systemd.unified_cgroup_hierarchy=1',
    vmMemoryMiB: options.vmMemoryMiB ?? 512,
    launchMeasurements,
  };
}

/** Debian 12's `ovmf` 2022.11-6+deb12u2 firmware: its path and sha256. @public */
export const DEBIAN_OVMF = {
  path: '/usr/share/ovmf/OVMF.fd',
  sha256: '7b456907dd0786d415999e801a1ac4637b8ed4d7cf5378cfc6edbe5e574dd773',
} as const;

/**
 * Debian's OVMF image when it is installed in exactly the version the expected values were
 * computed on; otherwise undefined, and a notice on the console (`what` names the skipped tests).
 * @public
 */
export function readDebianOvmf(what: string): Buffer | undefined {
  if (existsSync(DEBIAN_OVMF.path)) {
    const data = readFileSync(DEBIAN_OVMF.path);
    if (createHash('sha256').update(data).digest('hex') === DEBIAN_OVMF.sha256) return data;
  }
  // biome-ignore lint/suspicious/noConsole: a test helper; a skipped test must say so visibly
  console.warn(
    `skipping ${what}: ${DEBIAN_OVMF.path} absent or not Debian's ovmf 2022.11-6+deb12u2 (apt-get install ovmf)`,
  );
  return undefined;
}

/**
 * What a runtime without assets answers when asked for its RuntimeClass and installer objects:
 * per call the thrown error as `code:field:message` (or `produced` when it produced objects).
 * @public
 */
export function refusalsWithoutAssets(runtime: PlatformRuntime): string[] {
  return [() => runtime.runtimeClasses(), () => runtime.nodeInstaller({ namespace: 'contrast-system' })].map(
    (produce) => {
      try {
        produce();
        return 'produced';
      } catch (e) {
        return isContrastError(e) ? `${e.code}:${e.field}:${e.message}` : String(e);
      }
    },
  );
}
