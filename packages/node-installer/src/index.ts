export {
  type LoadedRuntimeAssets,
  loadRuntimeAssets,
  type RuntimeAssetsDescription,
} from './assets-description.js';
export { type DownloadOptions, downloadFile } from './download.js';
export {
  CONTAINERD_TARGETS,
  type ContainerdTarget,
  type InstallOptions,
  type InstallResult,
  installRuntime,
  mergeContainerdConfig,
  parseInstallerConfig,
  removeFromContainerdConfig,
  uninstallRuntime,
} from './install.js';
export {
  SNP_VCPU_TYPES,
  SNP_VMM_TYPES,
  type SnpMeasureInput,
  type SnpVmmType,
  snpFirmwareDigest,
  snpLaunchDigest,
} from './measure/snp.js';
export { type TdvfSection, type TdxPageAddOrder, tdxMrtd } from './measure/tdx.js';
export {
  createQemuRuntime,
  type InstallerConfig,
  QEMU_TEE_PROFILES,
  type QemuRuntime,
  type QemuRuntimeInfo,
  type QemuRuntimeOptions,
  type QemuTee,
  type QemuTeeProfile,
  unconfiguredQemuRuntime,
} from './qemu-runtime.js';
export {
  bundledFile,
  RUNTIME_NAME_PLACEHOLDER,
  type RuntimeAssets,
  type RuntimeFile,
  type SnpLaunchMeasurements,
  type TdxLaunchMeasurements,
} from './runtime-assets.js';
export { canonicalRuntimeBytes, runtimeHash } from './runtime-hash.js';
