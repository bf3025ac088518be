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
  /** Launch measurements of the pod VM; `null` (or `null` members) until released. */
  launchMeasurements: M;
}

/** Stands for the RuntimeClass handler in {@link RuntimeFile.path}. @public */
export const RUNTIME_NAME_PLACEHOLDER = '@@runtimeName@@';

/** The all-zero SRI digest of unreleased files: an installer refuses every download (fail closed). @public */
export const UNRELEASED_INTEGRITY = 'sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';

/** The all-zero image digest of unreleased images. @public */
export const UNRELEASED_IMAGE_DIGEST = `sha256:${'0'.repeat(64)}`;

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
  options: { executable?: boolean; integrity?: string } = {},
): RuntimeFile {
  return {
    path: `${RUNTIME_ROOT}/${path}`,
    url: `file:///opt/contrast/share/${name}`,
    integrity: options.integrity ?? UNRELEASED_INTEGRITY,
    executable: options.executable ?? false,
  };
}
