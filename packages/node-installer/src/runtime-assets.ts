/**
 * The data model of a pinned runtime: the images and the files a node installer places on each
 * node, and the VM settings that enter the launch measurement. A platform package holds one
 * `RuntimeAssets` value per release; everything the installer generates derives from it.
 */

/** One file the node installer places under the node's root. @public */
export interface RuntimeFile {
  /** Target path on the node; {@link RUNTIME_NAME_PLACEHOLDER} is replaced by the RuntimeClass handler. */
  path: string;
  /** Where the installer reads it: inside the installer image (`file://`) or a URL. */
  url: string;
  /** Subresource-integrity string, `sha256-<base64 of the digest>`. */
  integrity: string;
  executable: boolean;
}

/**
 * The release data of one platform's runtime. `M` is the shape of the launch measurements,
 * which differs per TEE (SNP: one digest per product; TDX: MRTD and RTMRs).
 * @public
 */
export interface RuntimeAssets<M = unknown> {
  /** Release the data comes from (a name for people: the Kata release and what was changed). */
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
  /** Launch measurements of the pod VM (computed from the files, see `measure/`). */
  launchMeasurements: M;
}

/**
 * SEV-SNP launch digests (48 bytes hex) of the 1-vCPU pod VM per product: Milan with QEMU CPU
 * model EPYC-Milan, Genoa with EPYC-Genoa.
 * @public
 */
export interface SnpLaunchMeasurements {
  Milan: string;
  Genoa: string;
}

/**
 * TDX measurements (48 bytes hex each) of the pod VM: MRTD (computed from the TDVF) and RTMR0-3
 * (not predicted from the files: taken from a reference TD), RTMR0 for 1 vCPU, other vCPU counts
 * in `rtmr0Alternatives`.
 * @public
 */
export interface TdxLaunchMeasurements {
  mrTd: string;
  rtmrs: [string, string, string, string];
  rtmr0Alternatives: string[];
}

/** Stands for the RuntimeClass handler in {@link RuntimeFile.path}. @public */
export const RUNTIME_NAME_PLACEHOLDER = '@@runtimeName@@';

/** The root of a runtime's files on the node: `/opt/edgeless/<handler>`. @public */
export const RUNTIME_ROOT = `/opt/edgeless/${RUNTIME_NAME_PLACEHOLDER}`;

/**
 * A file shipped inside the installer image (`file:///opt/contrast/share/<name>`) and placed at
 * `<runtime root>/<path>`.
 * @public
 */
export function bundledFile(
  path: string,
  name: string,
  options: { executable?: boolean; integrity: string },
): RuntimeFile {
  return {
    path: `${RUNTIME_ROOT}/${path}`,
    url: `file:///opt/contrast/share/${name}`,
    integrity: options.integrity,
    executable: options.executable ?? false,
  };
}
