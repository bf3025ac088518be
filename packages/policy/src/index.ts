// The atomic writer lives in @contrast-cc/core/fs; re-exported for the generate pipeline's callers.
export { type FileWrite, writeFilesAtomic } from '@contrast-cc/core/fs';
export {
  assemblePolicyText,
  bindingValue,
  buildInitdataToml,
  decodeInitdataAnnotation,
  encodeInitdataAnnotation,
  INITDATA_ANNOTATION,
  type InitdataAlgorithm,
  initdataDigest,
  LEGACY_POLICY_ANNOTATION,
  legacyPolicyDigest,
  type ParsedInitdata,
  parseInitdataToml,
  policyTextFromAny,
  splitPolicyText,
} from './assemble.js';
export {
  type CaseResult,
  type ConformanceSummary,
  formatConformance,
  loadRecordedImages,
  runKataConformance,
  SKIPPED_CASES,
} from './conformance/run.js';
export {
  type ExplainedFailure,
  type ExplainYaml,
  explainRequest,
  explainRequests,
  type RequestExplanation,
  yamlLineOf,
} from './explain.js';
export { type GeneratePolicyInput, generatePolicy } from './generate.js';
export { type EtcFileChange, LayerCache, type LayerEtcFacts } from './images/layer-cache.js';
export { RecordedImageSource } from './images/recorded.js';
export { type ImageReference, parseImageReference, pinnedReference } from './images/reference.js';
export { type RegistryClientOptions, RegistryImageSource } from './images/registry.js';
export { applyJsonPatch, type JsonPatchOp } from './json-patch.js';
// Kubernetes resource pipeline (issue #6): read YAML, find workloads, inject, rewrite, manifest.
export { ResourceInputError, type ResourceProblem } from './kube/errors.js';
export { collectYamlFiles, loadResourceFiles, parseResourceText, type ResourceFile } from './kube/files.js';
export { ANNOTATIONS as CONTRAST_ANNOTATIONS, type InjectedImages } from './kube/inject.js';
export { type AssembledManifest, type AssembleManifestOptions, assembleManifest } from './kube/manifest.js';
export type { PinnedImage } from './kube/pin.js';
export {
  defaultWorkloadSecretId,
  type PatchedFile,
  type PatchedWorkload,
  type PatchResourcesOptions,
  type PatchResult,
  type PolicyGenerator,
  patchResources,
} from './kube/pipeline.js';
export { extractPolicyDocuments, type WorkloadPolicyDocument } from './kube/policies.js';
export { CONTRAST_RUNTIME_CLASS, resolveRuntimeClass } from './kube/workloads.js';
export { joinResourceFiles } from './kube/write.js';
export { type AgentDecision, AgentPolicy } from './rego/agent.js';
export { RegoError, type RegoErrorKind } from './rego/errors.js';
export { type FailureRecord, type QueryResult, RegoEngine } from './rego/eval.js';
export { explainDenial } from './rego/explain.js';
export { NORMALIZED_KINDS as REQUEST_KINDS, normalizeRequest } from './rego/normalize.js';
export { DEFAULT_SETTINGS } from './rules/default-settings.js';
export { RULES_REGO } from './rules/rules.js';
export { applySettingsDropIns, loadPolicySettings, type PolicySettings } from './settings.js';
export type {
  ConfigInput,
  ContainerPolicy,
  GeneratedPolicy,
  ImageConfig,
  ImageFacts,
  ImageSource,
  PodSpecInput,
  PolicyBinding,
  PolicyData,
} from './types.js';
