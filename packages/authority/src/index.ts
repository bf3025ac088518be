export {
  Authority,
  type AuthorityOptions,
  type AuthorityState,
  type MeshCertificateParams,
  type MeshCertificateResult,
  type PeerHandOverParams,
  type PeerHandOverResult,
  type PeerRecoveryInput,
  type RecoverParams,
  type SetManifestParams,
  type SetManifestResult,
} from './authority.js';
export {
  findActivePeer,
  PEER_RECOVERY_RESULTS,
  type PeerAttempt,
  type PeerRecoveredEvent,
  type PeerRecoveryLoop,
  type PeerRecoveryLoopOptions,
  type PeerRecoveryResult,
  peerRetryDelay,
  type RecoverFromPeerOptions,
  recoverFromPeer,
  startPeerRecovery,
} from './peer-recovery.js';
export { type KubernetesPeerOptions, kubernetesPeers } from './peer-source.js';
export { type PeerAddress, type PeerSource, parsePeerList, staticPeers } from './peers/peer-list.js';
