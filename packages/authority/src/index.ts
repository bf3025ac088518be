export { Authority } from './authority.js';
export {
  AUTHORITY_ERROR_KINDS,
  AuthorityError,
  type AuthorityErrorKind,
  isAuthorityError,
} from './errors.js';
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
export type * from './types.js';
