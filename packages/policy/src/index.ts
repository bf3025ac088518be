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
} from './assemble.js';
export { type GeneratePolicyInput, generatePolicy } from './generate.js';
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
