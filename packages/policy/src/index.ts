export { type AgentDecision, AgentPolicy } from './agent/agent.js';
export { explainDenial } from './agent/denial.js';
export { NORMALIZED_KINDS as REQUEST_KINDS, normalizeRequest } from './agent/normalize.js';
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
} from './conformance/run.js';
export { isPodInputError, PodInputError, type PodInputProblem } from './data/pod.js';
export {
  type ExplainedFailure,
  type ExplainYaml,
  explainRequest,
  explainRequests,
  type RequestExplanation,
  yamlLineOf,
} from './explain.js';
export { type GeneratePolicyInput, generatePolicy } from './generate.js';
export { RecordedImageSource } from './images/recorded.js';
export { applyJsonPatch, type JsonPatchOp } from './json-patch.js';
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
