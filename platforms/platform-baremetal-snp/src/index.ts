export {
  createMetalQemuSnpPlatform,
  METAL_QEMU_SNP_NODE_SELECTOR,
  METAL_QEMU_SNP_POD_OVERHEAD,
  type MetalQemuSnpOptions,
  metalQemuSnp,
  metalQemuSnpRuntimeInfo,
} from './platform.js';
export type {
  MetalQemuSnpAssets,
  SnpLaunchMeasurements,
} from './runtime-assets.js';
export {
  createSnpPlatformVerifier,
  type SnpPlatformVerifierOptions,
  snpReferenceValuesFromManifest,
} from './verifier.js';
