export {
  createMetalQemuSnpPlatform,
  METAL_QEMU_SETTINGS_PATCH,
  METAL_QEMU_SNP_NODE_SELECTOR,
  METAL_QEMU_SNP_POD_OVERHEAD,
  type MetalQemuSnpOptions,
  type MetalQemuSnpRuntimeInfo,
  metalQemuSnp,
  metalQemuSnpRuntimeInfo,
} from './platform.js';
export { METAL_QEMU_SNP_ASSETS, type RuntimeAssets, type RuntimeFile } from './runtime-assets.js';
export { canonicalRuntimeBytes, runtimeHash } from './runtime-hash.js';
export {
  createSnpPlatformVerifier,
  type SnpPlatformVerifierOptions,
  snpReferenceValuesFromManifest,
} from './verifier.js';
