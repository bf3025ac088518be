export {
  Authority,
  type AuthorityOptions,
  type AuthorityState,
  type MeshCertificateParams,
  type MeshCertificateResult,
  type RecoverParams,
  type SetManifestParams,
  type SetManifestResult,
} from './authority.js';
