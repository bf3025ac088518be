// The Authority's public input and output types (see authority.ts for the methods that take them).
import type { KeyObject } from 'node:crypto';
import type { CoordinatorStateBinding, PeerSecret, SealedSecret } from '@contrast-cc/api';
import type { SeedShareDocument } from '@contrast-cc/certs';
import type { Evidence, EvidenceClaims, Logger, PlatformRegistry, VerifyFailure } from '@contrast-cc/core';
import type { HistoryStore } from '@contrast-cc/store';

/** Options of {@link Authority.open}. @public */
export interface AuthorityOptions {
  store: HistoryStore;
  /** The platforms whose verifiers check evidence against the manifest's reference values. */
  platforms: PlatformRegistry;
  /**
   * The Coordinator's attested channel key (its TLS private key, EC). Mesh-certificate evidence
   * must bind its public key; recovery secrets are sealed to it.
   */
  channelKey: KeyObject;
  /** Accept evidence from insecure (simulated) platforms. Default false. */
  allowInsecure?: boolean;
  /** Lifetime of a challenge nonce (ms). Default 60 s. */
  nonceTtlMs?: number;
  /** Outstanding nonces in all (default 100,000) and per client address (default 1,000). */
  nonceLimits?: { max?: number; maxPerClient?: number };
  /** Clock for certificate issuance and evidence validity. */
  now?: () => Date;
  logger?: Logger;
  /** Called for every refused evidence (metrics). */
  onAttestationFailure?: (reason: VerifyFailure) => void;
  /**
   * Called when the store's latest pointer went back to an older transition of this replica's
   * history (or kept the transition with another signature) while it is active: the authority
   * writes its own pointer back and logs an error; this hook counts it (metrics).
   */
  onRollback?: (event: { storeLatest: string; ours: string; generation: number }) => void;
  /**
   * Whether an attested active peer replica exists (peer recovery configured). A seed-share
   * owner's recovery without `force` is then refused: the peer recovers this replica with the
   * shared mesh CA, a manual recovery would make a replica with another mesh CA (as upstream).
   */
  hasActivePeer?: () => Promise<boolean>;
}

/** Input of {@link Authority.setManifest}. @public */
export interface SetManifestParams {
  manifest: Uint8Array;
  policies: readonly Uint8Array[];
  /** `--atomic`: the transition this update must follow (ZERO_HASH for the first manifest). */
  previousTransitionHash?: string;
  /** A workload owner's signature over the new transition hash. */
  signature?: Uint8Array;
}

/** What {@link Authority.setManifest} returns. @public */
export interface SetManifestResult {
  rootCaPem: string;
  meshCaPem: string;
  transitionHash: string;
  /** Only for the first manifest (trust on first use), when it names seed-share owners. */
  seedShareDocument?: SeedShareDocument;
}

/**
 * Input of {@link Authority.issueMeshCertificate}: the evidence is bound either to a `nonce` this
 * replica handed out (consumed here) or to `channelBinding`, the RFC 9266 tls-exporter value of
 * the TLS connection the request came on (see `tlsExporterBinding` of `@contrast-cc/api`; no
 * nonce is involved). The Authority cannot see the connection: the caller must have computed
 * `channelBinding` from the request's own TLS 1.3 connection, never taken it from the request,
 * and should issue one certificate per connection binding (the API server does both).
 * @public
 */
export type MeshCertificateParams = {
  /** SPKI DER of the key to certify. */
  publicKey: Uint8Array;
  evidence: Evidence;
} & ({ nonce: Uint8Array; channelBinding?: undefined } | { channelBinding: Uint8Array; nonce?: undefined });

/** What {@link Authority.issueMeshCertificate} returns. @public */
export interface MeshCertificateResult {
  certChainPem: string;
  meshCaPem: string;
  rootCaPem: string;
  /** The 64-byte workload secret; absent when the policy has no WorkloadSecretID. */
  workloadSecret?: Uint8Array;
  /** The policy hash the evidence bound. */
  policyHash: string;
  claims: EvidenceClaims;
}

/** Input of {@link Authority.recover}. @public */
export interface RecoverParams {
  nonce: Uint8Array;
  ephemeralPublicKey: Uint8Array;
  ciphertext: Uint8Array;
  /** Hex PKCS#1 RSA public key of the seed-share owner. */
  ownerPublicKey: string;
  /** RSA-PSS-SHA256 (salt length 32) over `recoverSignedMessage`. */
  signature: Uint8Array;
  force?: boolean;
}

/**
 * Input of {@link Authority.recoverWithShares} (`POST /v1/recover/shares`): k owners' released
 * shares sealed to the channel key with a nonce this replica issued (`sealRecoveryShares`).
 * @public
 */
export interface RecoverSharesParams {
  nonce: Uint8Array;
  ephemeralPublicKey: Uint8Array;
  ciphertext: Uint8Array;
  force?: boolean;
}

/** Input of {@link Authority.handOverToPeer}: a stale replica's request (`POST /v1/peer/recover`). @public */
export interface PeerHandOverParams {
  /** A nonce this replica issued. */
  nonce: Uint8Array;
  /** SPKI DER of the requester's fresh ephemeral EC key (P-256 or P-384). */
  ephemeralPublicKey: Uint8Array;
  /** The requester's evidence over `peerRecoverReportData(nonce, ephemeralPublicKey, our channel SPKI)`. */
  evidence: Evidence;
}

/** What {@link Authority.handOverToPeer} returns. @public */
export interface PeerHandOverResult {
  transitionHash: string;
  rootCaPem: string;
  meshCaPem: string;
  /** The intermediate (mesh CA key, signed by the root): the requester adopts it with the mesh CA. */
  intermediateCaPem: string;
  /** Seed, salt and mesh CA key sealed to the requester's ephemeral key (`sealPeerSecret`). */
  sealed: SealedSecret;
  /** The requester's policy hash (a coordinator policy of the manifest). */
  policyHash: string;
}

/** Input of {@link Authority.recoverFromPeer}: what an attested active replica handed over. @public */
export interface PeerRecoveryInput {
  /** Seed, salt and the mesh CA key (PKCS#8 DER), as opened with `openPeerSecret`. */
  secret: PeerSecret;
  /** The peer's latest transition (it must be the store's latest). */
  transitionHash: string;
  /** DER of the peer's root CA certificate: the seed must reproduce it byte for byte. */
  rootCaDer: Uint8Array;
  /**
   * DER of the peer's mesh CA certificate: the handed-over key must be its key, and it is adopted
   * as this replica's mesh CA certificate (byte-identical across replicas) after the checks of
   * `restoreCaHierarchy`.
   */
  meshCaDer: Uint8Array;
  /**
   * DER of the peer's intermediate CA certificate, adopted likewise (signed by the root CA the seed
   * reproduces). Absent (a peer of an older version): a new intermediate is issued, with a warning.
   */
  intermediateCaDer?: Uint8Array;
}

/** The history as the state endpoint serves it. @public */
export interface AuthorityState extends CoordinatorStateBinding {
  signature?: Uint8Array;
  rootCaPem?: string;
  meshCaPem?: string;
  /** Manifests, oldest first. */
  manifests: Uint8Array[];
  /** Every policy document referenced by any manifest of the history. */
  policies: Uint8Array[];
}
