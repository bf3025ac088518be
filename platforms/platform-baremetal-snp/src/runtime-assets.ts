/**
 * The pinned runtime of Metal-QEMU-SNP: the node-installer images and the files the installer
 * places on each node. This is release data, kept in this one file so that a release replaces it
 * and nothing else; the data model and everything generated from it live in
 * `@contrast-cc/node-installer`.
 *
 * NOT RELEASED YET: these entries name OUR release artifacts (built from this repository), which
 * do not exist yet. Every digest below is the all-zero placeholder, so a node installer refuses
 * every download (fail closed) and the launch measurements are unknown (`null`). They are not
 * upstream Contrast's artifacts and must never be read as such.
 */

import { bundledFile, type RuntimeAssets, UNRELEASED_IMAGE_DIGEST } from '@contrast-cc/node-installer';

/** Launch measurement (48 bytes hex) of the 1-vCPU VM per product; `null` until released. */
export interface SnpLaunchMeasurements {
  Milan: string | null;
  Genoa: string | null;
}

/** The release data of the Metal-QEMU-SNP runtime. */
export type MetalQemuSnpAssets = RuntimeAssets<SnpLaunchMeasurements>;

/** The runtime pinned for Metal-QEMU-SNP. @public */
export const METAL_QEMU_SNP_ASSETS: MetalQemuSnpAssets = {
  release: 'unreleased',
  installerImage: `ghcr.io/contrast-cc/node-installer-metal-qemu-snp@${UNRELEASED_IMAGE_DIGEST}`,
  snapshotterImage: `ghcr.io/contrast-cc/nydus-snapshotter@${UNRELEASED_IMAGE_DIGEST}`,
  files: [
    bundledFile('bin/containerd-shim-contrast-cc-v2', 'containerd-shim-contrast-cc-v2', { executable: true }),
    bundledFile('bin/nydus-overlayfs', 'nydus-overlayfs', { executable: true }),
    bundledFile('snp/bin/qemu-system-x86_64', 'qemu-system-x86_64', { executable: true }),
    bundledFile('snp/share/OVMF.fd', 'OVMF-snp.fd'),
    bundledFile('share/kata-kernel', 'kata-kernel'),
    bundledFile('share/kata-containers.img', 'kata-containers.img'),
  ],
  kernelParams: 'console=ttyS0 panic=-1 selinux=0 systemd.unified_cgroup_hierarchy=1',
  vmMemoryMiB: 512,
  launchMeasurements: { Milan: null, Genoa: null },
};
