import type { CoordinatorStateBinding, CoordinatorStatus } from '@contrast-cc/api';
import { coordinatorStateDigest } from '@contrast-cc/api';
import type { Manifest } from '@contrast-cc/manifest';
import { AuthorityError } from './errors.js';
import { issueMeshCertificate, issueServiceCertificate } from './issuance.js';
import { updateManifest } from './manifest-update.js';
import { authorizeRecover, authorizeShares, recoverWithSeed, recoverWithShares } from './owner-recovery.js';
import { handOverToPeer, recoverFromPeer } from './peer-handover.js';
import { Replica } from './state.js';
import type {
  AuthorityOptions,
  AuthorityState,
  MeshCertificateParams,
  MeshCertificateResult,
  PeerHandOverParams,
  PeerHandOverResult,
  PeerRecoveryInput,
  RecoverParams,
  RecoverSharesParams,
  SetManifestParams,
  SetManifestResult,
} from './types.js';

/**
 * The Coordinator's logic independent of HTTP: the state machine (uninitialized / active /
 * stale), manifest updates with owner signatures and compare-and-swap, mesh-certificate
 * issuance against attested evidence, and recovery from the seed. State lives in a
 * {@link HistoryStore} shared by all replicas; secrets live only in memory.
 * @public
 *
 * The work is in modules named by what they do: state.ts (states, transitions, the store watch,
 * the serialized queue), manifest-update.ts, issuance.ts, owner-recovery.ts, peer-handover.ts.
 * Refusals are {@link AuthorityError}s. Serialization and invariants: README ("Invariants").
 * @public
 */
export class Authority {
  readonly #r: Replica;

  private constructor(options: AuthorityOptions) {
    this.#r = new Replica(options);
  }

  /**
   * Opens the authority on a store: `uninitialized` when the store has no history, `stale` when
   * it has one (the secrets are gone with the previous process; recovery brings them back).
   * Starts watching the store's latest pointer.
   */
  static async open(options: AuthorityOptions): Promise<Authority> {
    const a = new Authority(options);
    const r = a.#r;
    const latest = await options.store.getLatest();
    r.storeLatest = latest?.value.transitionHash ?? null;
    r.log.info('opened', { status: r.status, latest: r.storeLatest ?? undefined });
    await options.store.watchLatest((v) => r.onLatest(v), r.watch.signal);
    return a;
  }

  /** `uninitialized`, `active` or `stale` (recovery mode). */
  get status(): CoordinatorStatus {
    return this.#r.status;
  }

  /** The manifest generation (number of transitions; 0 when not active). */
  get generation(): number {
    return this.#r.generation;
  }

  /** DER SPKI of the channel key. */
  get channelSpki(): Uint8Array {
    return this.#r.channelSpki;
  }

  /** The active manifest, if any. */
  get manifest(): Manifest | undefined {
    return this.#r.active?.manifest;
  }

  /** What the Coordinator's attestation binds. */
  stateBinding(): CoordinatorStateBinding {
    return this.#r.stateBinding();
  }

  /** {@link coordinatorStateDigest} of {@link Authority.stateBinding}. */
  stateDigest(): Uint8Array {
    return coordinatorStateDigest(this.stateBinding());
  }

  /**
   * A single-use challenge nonce, counted against `client` (the requester's address): a flood
   * from one client only displaces its own nonces (see `NonceStore`).
   */
  createNonce(client?: string): Uint8Array {
    return this.#r.nonces.create(client);
  }

  /**
   * The state with its history. Refuses in the stale state (the history cannot be vouched for
   * without the signing key) as upstream's GetManifests.
   */
  state(): Promise<AuthorityState> {
    return this.#r.state();
  }

  /** Sets the first manifest (trust on first use) or updates it (owner signature required). */
  setManifest(params: SetManifestParams): Promise<SetManifestResult> {
    return this.#r.serialize(() => updateManifest(this.#r, params));
  }

  /**
   * Checks an initializer's evidence (a nonce of this replica or the request's TLS channel
   * binding, certificate key and this Coordinator's channel key bound; reference values of the
   * manifest; policy hash in the manifest) and issues its mesh certificate with the workload secret.
   */
  issueMeshCertificate(params: MeshCertificateParams): Promise<MeshCertificateResult> {
    return issueMeshCertificate(this.#r, params);
  }

  /** Recovers a stale Coordinator with the seed and salt, authorized by a seed-share owner. */
  async recover(params: RecoverParams): Promise<{ rootCaPem: string; meshCaPem: string }> {
    // The request's checks and the peer lookup run outside the serialized section: a hung peer
    // must not hold up `recover --force` or anything else queued behind it.
    const authorized = await authorizeRecover(this.#r, params);
    // Only after the owner's signature: an unauthenticated request never makes us dial peers.
    await this.#refuseWithActivePeer(params.force);
    return this.#r.serialize(() => recoverWithSeed(this.#r, params, authorized));
  }

  /**
   * k-of-n recovery (the manifest's `SeedshareThreshold` k > 1): opens k owners' released shares
   * sealed to the channel key, checks them against the manifest (owners, owner signatures, one
   * seed, no duplicates, at least k: each refusal names the share) and only then combines them
   * into the seed — the one place it is assembled — checked against the history like
   * {@link Authority.recover}. Refusals: `invalid-request` (too few, duplicate, seed not split),
   * `invalid-signature` (a tampered share), `permission-denied` (a foreign share, shares of
   * another seed, an active peer without `force`), `already-recovered`, `no-manifest`.
   */
  async recoverWithShares(params: RecoverSharesParams): Promise<{ rootCaPem: string; meshCaPem: string }> {
    const authorized = await authorizeShares(this.#r, params);
    try {
      await this.#refuseWithActivePeer(params.force);
    } catch (e) {
      for (const s of authorized.checked.shares) s.fill(0);
      throw e;
    }
    return this.#r.serialize(() => recoverWithShares(this.#r, authorized));
  }

  /** Refuses a manual recovery while an attested active peer would recover this replica (unless forced). */
  async #refuseWithActivePeer(force: boolean | undefined): Promise<void> {
    if (!force && this.#r.opts.hasActivePeer && (await this.#r.opts.hasActivePeer())) {
      throw new AuthorityError(
        'permission-denied',
        'an active peer Coordinator exists and recovers this one automatically; use force to recover anyway',
        { field: 'force' },
      );
    }
  }

  /**
   * Peer recovery, active side: checks a stale replica's evidence (our nonce, its ephemeral key
   * and our channel key bound; the manifest's reference values; its policy hash must have
   * `Role: coordinator` in the active manifest) and seals seed, salt and mesh CA key to its
   * ephemeral key. Refusals: `attestation-failed` / `permission-denied`.
   */
  handOverToPeer(params: PeerHandOverParams): Promise<PeerHandOverResult> {
    return handOverToPeer(this.#r, params);
  }

  /**
   * Peer recovery, stale side: becomes active with what an attested peer handed over, after
   * checking it against the store: the peer's transition is the store's latest, the seed's
   * transaction key verifies the latest-pointer signature, the seed reproduces the peer's root CA
   * certificate and the mesh CA key is the key of the peer's mesh CA (all replicas share it).
   * Refusals: `already-recovered`, `no-manifest`, `manifest-conflict` (the store moved; retry),
   * `permission-denied` (the secrets do not match the history).
   */
  recoverFromPeer(input: PeerRecoveryInput): Promise<{ rootCaPem: string; meshCaPem: string }> {
    return this.#r.serialize(() => recoverFromPeer(this.#r, input));
  }

  /**
   * The workload secret for `workloadSecretId` from the current seed: the transit engine's key
   * source. Throws the same refusal as the API (`no-manifest`, `needs-recovery`) unless active.
   */
  workloadSecret(workloadSecretId: string): Uint8Array {
    return this.#r.requireActive().engine.workloadSecret(workloadSecretId);
  }

  /**
   * A certificate for one of the Coordinator's own TLS services (the transit API), issued by the
   * current mesh CA so that workloads trust it with their mesh-ca.pem; with that mesh CA (the CA
   * client certificates must chain to) and the generation it belongs to (a manifest update or a
   * recovery rotates the mesh CA: issue again when `generation` moved).
   */
  issueServiceCertificate(
    publicKey: Uint8Array,
    sans: string[],
  ): Promise<{ certChainPem: string; meshCaPem: string; generation: number }> {
    return issueServiceCertificate(this.#r, publicKey, sans);
  }

  /** Stops watching the store. Does not close the store. */
  close(): void {
    this.#r.watch.abort();
  }
}
