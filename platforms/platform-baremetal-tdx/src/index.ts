export {
  createMetalQemuTdxPlatform,
  METAL_QEMU_SETTINGS_PATCH,
  METAL_QEMU_TDX_NODE_SELECTOR,
  METAL_QEMU_TDX_POD_OVERHEAD,
  type MetalQemuTdxOptions,
  type MetalQemuTdxRuntimeInfo,
  metalQemuTdx,
  metalQemuTdxRuntimeInfo,
} from './platform.js';
export { METAL_QEMU_TDX_ASSETS, type RuntimeAssets, type RuntimeFile } from './runtime-assets.js';
export { canonicalRuntimeBytes, runtimeHash } from './runtime-hash.js';
export {
  createTdxPlatformVerifier,
  type TdxPlatformVerifierOptions,
  tdxReferenceValuesFromManifest,
} from './verifier.js';
