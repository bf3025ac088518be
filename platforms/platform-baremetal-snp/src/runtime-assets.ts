/**
 * The runtime data of Metal-QEMU-SNP. No release of our runtime is pinned yet: its files, image
 * digests and launch measurements come from the operator's runtime assets description
 * (`contrast runtime --assets`, `loadRuntimeAssets` of `@contrast-cc/node-installer`). Without
 * one the platform's runtime refuses to produce anything rather than ship placeholders.
 */

import type { RuntimeAssets, SnpLaunchMeasurements } from '@contrast-cc/node-installer';

export type { SnpLaunchMeasurements };

/** The release data of the Metal-QEMU-SNP runtime. */
export type MetalQemuSnpAssets = RuntimeAssets<SnpLaunchMeasurements>;
