export {
  createMetalQemuTdxPlatform,
  METAL_QEMU_TDX_NODE_SELECTOR,
  METAL_QEMU_TDX_POD_OVERHEAD,
  type MetalQemuTdxOptions,
  metalQemuTdx,
  metalQemuTdxRuntimeInfo,
} from './platform.js';
export type {
  MetalQemuTdxAssets,
  TdxLaunchMeasurements,
} from './runtime-assets.js';
export {
  createTdxPlatformVerifier,
  type TdxPlatformVerifierOptions,
  tdxReferenceValuesFromManifest,
} from './verifier.js';
