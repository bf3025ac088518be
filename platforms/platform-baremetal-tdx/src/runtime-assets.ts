/**
 * The runtime data of Metal-QEMU-TDX. No release of our runtime is pinned yet: its files, image
 * digests and launch measurements come from the operator's runtime assets description
 * (`contrast runtime --assets`, `loadRuntimeAssets` of `@contrast-cc/node-installer`). Without
 * one the platform's runtime refuses to produce anything rather than ship placeholders.
 */

import type { RuntimeAssets, TdxLaunchMeasurements } from '@contrast-cc/node-installer';

export type { TdxLaunchMeasurements };

/** The release data of the Metal-QEMU-TDX runtime. */
export type MetalQemuTdxAssets = RuntimeAssets<TdxLaunchMeasurements>;
