export { canonicalManifestBytes, canonicalManifestJson, manifestHashAsync } from './canonical.js';
export { defaultSnpPolicyValues, SNP_GUEST_POLICY_FIXED_OFF } from './defaults.js';
export { manifestHash } from './hash.js';
export { manifestJsonSchema, manifestJsonSchemaText } from './json-schema.js';
export { seedshareOwnerKeyHex, workloadOwnerKeyDigest, workloadOwnerKeyHex } from './keys.js';
export {
  HexStringSchema,
  type Manifest,
  ManifestSchema,
  type PolicyEntry,
  PolicyEntrySchema,
  type ReferenceValues,
  ReferenceValuesSchema,
  SnpGuestPolicySchema,
  SnpPlatformInfoSchema,
  type SnpReferenceValues,
  SnpReferenceValuesSchema,
  SnpTcbSchema,
  type TdxReferenceValues,
  TdxReferenceValuesSchema,
} from './schema.js';
export {
  checkReferenceValues,
  formatPath,
  MANIFEST_JSON_BOUNDS,
  type ManifestIssue,
  ManifestValidationError,
  type ParsedManifest,
  type ParseManifestOptions,
  parseManifest,
} from './validate.js';
