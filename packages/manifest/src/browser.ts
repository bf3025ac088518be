// The browser entry of @contrast-cc/manifest: the schema (zod), canonical bytes and the manifest
// hash with WebCrypto. No node: imports. (Full validation with key checks, parseManifest, needs
// node:crypto and stays in the main entry.)

export { canonicalManifestBytes, canonicalManifestJson, manifestHashAsync } from './canonical.js';
export { defaultSnpPolicyValues } from './defaults.js';
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
