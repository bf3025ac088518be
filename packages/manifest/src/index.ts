// Everything the browser entry has (schema, canonical bytes, async hash), then the node-only parts.
export * from './browser.js';
export { manifestHash } from './hash.js';
export { manifestJsonSchema, manifestJsonSchemaText } from './json-schema.js';
export { seedshareOwnerKeyHex, workloadOwnerKeyDigest, workloadOwnerKeyHex } from './keys.js';
export {
  checkReferenceValues,
  MANIFEST_JSON_BOUNDS,
  type ManifestIssue,
  ManifestValidationError,
  type ParsedManifest,
  type ParseManifestOptions,
  parseManifest,
} from './validate.js';
