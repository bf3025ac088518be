export { type CommandResult, type CommandRunner, runCommand } from './command.js';
export * from './config-index.js';
export {
  type InitializerOptions,
  type InitializerResult,
  OUTPUT_FILES,
  runInitializer,
} from './initializer.js';
export {
  type MeshCredentials,
  type MeshProxy,
  type MeshProxyOptions,
  type ProxyStats,
  readMeshCredentials,
  startMeshProxy,
} from './proxy.js';
export {
  type DeviceContent,
  inspectDevice,
  type OpenedSecurePv,
  type OpenSecurePvOptions,
  openSecurePv,
  type PreparedSecurePv,
  prepareSecurePv,
  type SecurePvOptions,
} from './secure-pv.js';
export {
  applyTrafficRules,
  listTrafficRules,
  renderIptablesRules,
  renderNftRules,
  type TrafficRulesBackend,
  type TrafficRulesOptions,
  type TrafficRulesResult,
} from './traffic-rules.js';
export {
  checkVolumes,
  DEFAULT_VOLUME_FILE_MODE,
  describeVolumeProblem,
  formatVolumeIntegritySpec,
  type KubeDataObject,
  type ProjectedSource,
  parseVolumeIntegritySpec,
  projectVolumeFiles,
  VOLUME_INTEGRITY_ENV,
  type VolumeCheckResult,
  type VolumeFile,
  VolumeFileSchema,
  type VolumeIntegrity,
  VolumeIntegritySchema,
  type VolumeIntegritySpec,
  VolumeIntegritySpecSchema,
  type VolumeProblem,
  verifyAndCopyVolumes,
  volumeError,
  type WatchVolumesOptions,
  watchVolumes,
} from './volume-integrity.js';
export { needsVolumeSidecar, runVolumeSidecar, type VolumeSidecarOptions } from './volume-sidecar.js';
