/**
 * The pinned runtime of Metal-QEMU-TDX: the node-installer images and the files the installer
 * places on each node. This is release data, kept in this one file so that a release replaces it
 * and nothing else.
 *
 * NOT RELEASED YET: these entries name OUR release artifacts (built from this repository), which
 * do not exist yet. Every digest below is the all-zero placeholder, so a node installer refuses
 * every download (fail closed) and the launch measurements are unknown (`null`). They are not
 * upstream Contrast's artifacts and must never be read as such.
 */

/** One file the node installer places under the node's root. */
export interface RuntimeFile {
  /** Target path on the node; `@@runtimeName@@` is replaced by the RuntimeClass handler. */
  path: string;
  /** Where the installer reads it: inside the installer image (`file://`) or a URL. */
  url: string;
  /** Subresource-integrity string, `sha256-<base64 of the digest>`. */
  integrity: string;
  executable: boolean;
}

/** The release data of one platform's runtime. */
export interface RuntimeAssets {
  /** Release the data comes from; `unreleased` until a release fills in real digests. */
  release: string;
  /** The node-installer image, pinned by digest. */
  installerImage: string;
  /** The snapshotter image for guest pull (nydus), pinned by digest. */
  snapshotterImage: string;
  files: RuntimeFile[];
  /** Kernel command line of the pod VM; it enters the launch measurement. */
  kernelParams: string;
  /** Memory of the pod VM beyond the containers' requests (MiB): Kata `default_memory`. */
  vmMemoryMiB: number;
  /**
   * Launch measurements (48 bytes hex each) of the pod VM: MRTD and RTMR0-3 (RTMR0 for 1 vCPU,
   * further vCPU counts in `rtmr0Alternatives`); `null` until released.
   */
  launchMeasurements: {
    mrTd: string;
    rtmrs: [string, string, string, string];
    rtmr0Alternatives: string[];
  } | null;
}

const PLACEHOLDER_SRI = 'sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';
const PLACEHOLDER_DIGEST = `sha256:${'0'.repeat(64)}`;
const R = '/opt/edgeless/@@runtimeName@@';
const file = (path: string, name: string, executable = false): RuntimeFile => ({
  path: `${R}/${path}`,
  url: `file:///opt/contrast/share/${name}`,
  integrity: PLACEHOLDER_SRI,
  executable,
});

/** The runtime pinned for Metal-QEMU-TDX. @public */
export const METAL_QEMU_TDX_ASSETS: RuntimeAssets = {
  release: 'unreleased',
  installerImage: `ghcr.io/contrast-cc/node-installer-metal-qemu-tdx@${PLACEHOLDER_DIGEST}`,
  snapshotterImage: `ghcr.io/contrast-cc/nydus-snapshotter@${PLACEHOLDER_DIGEST}`,
  files: [
    file('bin/containerd-shim-contrast-cc-v2', 'containerd-shim-contrast-cc-v2', true),
    file('bin/nydus-overlayfs', 'nydus-overlayfs', true),
    file('tdx/bin/qemu-system-x86_64', 'qemu-system-x86_64', true),
    file('tdx/share/OVMF.fd', 'OVMF-tdx.fd'),
    file('share/kata-kernel', 'kata-kernel'),
    file('share/kata-containers.img', 'kata-containers.img'),
  ],
  kernelParams: 'console=ttyS0 panic=-1 selinux=0 systemd.unified_cgroup_hierarchy=1',
  vmMemoryMiB: 512,
  launchMeasurements: null,
};
