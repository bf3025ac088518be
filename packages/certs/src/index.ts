export {
  CA_NAMES,
  type CaHierarchy,
  type CaValidity,
  type CreateCaOptions,
  createCaHierarchy,
  type IssuedCertificate,
  type MeshCertificate,
  type MeshCertificateRequest,
  type RestoreCaInput,
  restoreCaHierarchy,
} from './ca.js';
export { certificateKeySpki } from './certificate.js';
export {
  decodeMeshCertificateExtensions,
  MESH_CERT_OIDS,
  type MeshCertificateClaims,
  meshCertificateExtensions,
  type RawExtension,
  UPSTREAM_CLAIM_ARC,
} from './extensions.js';
export type { PrivateKeyInput, PublicKeyInput } from './keys.js';
export { readMeshCertificate } from './read.js';
export {
  generateMeshCaKey,
  generateSalt,
  generateSeed,
  MIN_SEED_LENGTH,
  SALT_LENGTH,
  SEED_LENGTH,
  SeedEngine,
} from './seed-engine.js';
export {
  type CheckedShares,
  checkReleasedShares,
  type ReleasedSeedShare,
  type ReleasedShareExpectations,
  releasedShareSignedMessage,
  releaseSeedShare,
  type SeedShareProblem,
  SeedShareSetError,
  seedShareOwnerFingerprint,
} from './seed-share-release.js';
export {
  type CreateSeedSharesOptions,
  createSeedShareDocument,
  decryptSeedShare,
  encryptSeedShare,
  openSeedShare,
  recoverSeed,
  type SeedShare,
  type SeedShareDocument,
  seedShareOwnerId,
  seedShareOwnerKey,
} from './seed-shares.js';
export { combineShares, type ShamirShare, splitSecret } from './shamir.js';
export {
  decodeLatestTransition,
  decodeTransition,
  encodeLatestTransition,
  encodeTransition,
  HASH_LENGTH,
  type LatestTransition,
  manifestHash,
  ownerSignedMessage,
  signLatestTransition,
  signTransitionAsOwner,
  type Transition,
  transitionHash,
  verifyLatestTransition,
  verifyOwnerSignature,
  verifyTransitionChain,
  ZERO_TRANSITION_HASH,
} from './transitions.js';
export { deriveVolumeKey, VOLUME_KEY_LENGTH } from './volume-key.js';
