export {
  type LoadedRuntimeAssets,
  loadRuntimeAssets,
  RUNTIME_ASSETS_FILE,
  type RuntimeAssetsDescription,
} from './assets-description.js';
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
  cpuSignature,
  SNP_VCPU_TYPES,
  SNP_VMM_TYPES,
  type SnpMeasureInput,
  type SnpVmmType,
  sevHashesTable,
  snpFirmwareDigest,
  snpLaunchDigest,
} from './measure/snp.js';
export { type TdvfSection, type TdxPageAddOrder, tdvfSections, tdxMrtd } from './measure/tdx.js';
export {
  createQemuRuntime,
  GUEST_PULL_SETTINGS_PATCH,
  INSTALLER_CONFIG_KEYS,
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
  RUNTIME_ROOT,
  type RuntimeAssets,
  type RuntimeFile,
  type SnpLaunchMeasurements,
  type TdxLaunchMeasurements,
} from './runtime-assets.js';
export { canonicalRuntimeBytes, runtimeHash } from './runtime-hash.js';
