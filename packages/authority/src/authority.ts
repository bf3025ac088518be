import {
  constants,
  createHash,
  createPrivateKey,
  createPublicKey,
  verify as cryptoVerify,
  type KeyObject,
} from 'node:crypto';
import {
  apiFailure,
  type CoordinatorStateBinding,
  type CoordinatorStatus,
  coordinatorStateDigest,
  meshCertReportData,
  openRecoverySecret,
  type PeerSecret,
  peerRecoverReportData,
  recoverSignedMessage,
  type SealedSecret,
  sealPeerSecret,
  verifiersForReferenceValues,
} from '@contrast-cc/api';
import {
  type CaHierarchy,
  transitionHash as computeTransitionHash,
  createCaHierarchy,
  createSeedShareDocument,
  restoreCaHierarchy,
  SeedEngine,
  type SeedShareDocument,
  seedShareOwnerKey,
  signLatestTransition,
  verifyLatestTransition,
  verifyOwnerSignature,
} from '@contrast-cc/certs';
import {
  bytesEqual,
  ContrastError,
  type Evidence,
  type EvidenceClaims,
  fromHex,
  isContrastError,
  type Logger,
  noopLogger,
  type PlatformRegistry,
  type Verifier,
  type VerifyFailure,
  verifyWithAny,
} from '@contrast-cc/core';
import { type Manifest, type PolicyEntry, parseManifest } from '@contrast-cc/manifest';
import { History, type HistoryStore, type VersionedLatest, ZERO_HASH } from '@contrast-cc/store';
import { NonceStore } from './nonces.js';

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

/** Input of {@link Authority.issueMeshCertificate}. @public */
export interface MeshCertificateParams {
  nonce: Uint8Array;
  /** SPKI DER of the key to certify. */
  publicKey: Uint8Array;
  evidence: Evidence;
}

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

interface Active {
  engine: SeedEngine;
  manifest: Manifest;
  manifestBytes: Uint8Array;
  policies: Map<string, PolicyEntry>;
  verifiers: Verifier[];
  ca: CaHierarchy;
  transitionHash: string;
  /** A signature over the transition hash with the transaction signing key. */
  signature: Uint8Array;
  version: string;
  generation: number;
  /** The history served by `state()`, read once per active state (it never changes for one). */
  history?: Promise<{ manifests: Uint8Array[]; policies: Uint8Array[] }>;
}

/** `restoreCaHierarchy`'s field names -> the peer-recover wire fields. */
const PEER_CA_FIELDS: Record<string, string> = {
  root: 'root_ca',
  intermediate: 'intermediate_ca',
  meshCa: 'mesh_ca',
  meshCaKey: 'mesh_ca_key',
};

const sha256Hex = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** DER of a P-256 SubjectPublicKeyInfo up to its uncompressed point (RFC 5480): 26 bytes, then 04 x y. */
const P256_SPKI_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex');

/**
 * The key a mesh certificate is asked for, from its SPKI DER; throws when it is not a valid public
 * key. A P-256 key with an uncompressed point (what initializers send) is imported from its
 * coordinates, which node checks on the curve at about half the CPU of its DER decoder (on the
 * Coordinator's per-certificate path); every other key goes through the DER decoder.
 */
function importCertificateKey(spki: Uint8Array): KeyObject {
  const der = Buffer.from(spki.buffer, spki.byteOffset, spki.byteLength);
  if (der.length === 91 && der[26] === 0x04 && der.subarray(0, 26).equals(P256_SPKI_PREFIX)) {
    const x = der.subarray(27, 59).toString('base64url');
    const y = der.subarray(59, 91).toString('base64url');
    return createPublicKey({ key: { kty: 'EC', crv: 'P-256', x, y }, format: 'jwk' });
  }
  return createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' });
}

function normalizedPolicies(manifest: Manifest): Map<string, PolicyEntry> {
  return new Map(Object.entries(manifest.Policies).map(([k, v]) => [k.toLowerCase(), v]));
}

function sameKeySet(
  a: readonly string[] | null | undefined,
  b: readonly string[] | null | undefined,
): boolean {
  const sa = new Set((a ?? []).map((x) => x.toLowerCase()));
  const sb = new Set((b ?? []).map((x) => x.toLowerCase()));
  return sa.size === sb.size && [...sa].every((x) => sb.has(x));
}

/**
 * The Coordinator's logic independent of HTTP: the state machine (uninitialized / active /
 * stale), manifest updates with owner signatures and compare-and-swap, mesh-certificate
 * issuance against attested evidence, and recovery from the seed. State lives in a
 * {@link HistoryStore} shared by all replicas; secrets live only in memory.
 * @public
 */
export class Authority {
  readonly #opts: AuthorityOptions;
  readonly #log: Logger;
  readonly #nonces: NonceStore;
  readonly #channelSpki: Uint8Array;
  readonly #watch = new AbortController();
  readonly #own = new Set<string>();
  /** Latest-pointer changes seen by the watch (a recovery checks none slipped in meanwhile). */
  #latestEvents = 0;
  #active: Active | undefined;
  /** The latest pointer as last seen in the store (null: none). */
  #storeLatest: string | null = null;
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(options: AuthorityOptions) {
    this.#opts = options;
    this.#log = (options.logger ?? noopLogger).child({ component: 'authority' });
    this.#nonces = new NonceStore({ ttlMs: options.nonceTtlMs ?? 60_000, ...options.nonceLimits });
    const key = options.channelKey;
    if (key?.type !== 'private' || key.asymmetricKeyType !== 'ec') {
      throw new ContrastError('invalid-argument', 'the channel key must be an EC private key', {
        field: 'channelKey',
      });
    }
    this.#channelSpki = new Uint8Array(createPublicKey(key).export({ type: 'spki', format: 'der' }));
  }

  /**
   * Opens the authority on a store: `uninitialized` when the store has no history, `stale` when
   * it has one (the secrets are gone with the previous process; recovery brings them back).
   * Starts watching the store's latest pointer.
   */
  static async open(options: AuthorityOptions): Promise<Authority> {
    const a = new Authority(options);
    const latest = await options.store.getLatest();
    a.#storeLatest = latest?.value.transitionHash ?? null;
    a.#log.info('opened', { status: a.status, latest: a.#storeLatest ?? undefined });
    await options.store.watchLatest((v) => a.#onLatest(v), a.#watch.signal);
    return a;
  }

  /** `uninitialized`, `active` or `stale` (recovery mode). */
  get status(): CoordinatorStatus {
    if (this.#active) return 'active';
    return this.#storeLatest === null ? 'uninitialized' : 'stale';
  }

  /** The manifest generation (number of transitions; 0 when not active). */
  get generation(): number {
    return this.#active?.generation ?? 0;
  }

  /** DER SPKI of the channel key. */
  get channelSpki(): Uint8Array {
    return this.#channelSpki;
  }

  /** The active manifest, if any. */
  get manifest(): Manifest | undefined {
    return this.#active?.manifest;
  }

  /** What the Coordinator's attestation binds. */
  stateBinding(): CoordinatorStateBinding {
    const a = this.#active;
    if (!a) {
      return this.#storeLatest === null ? { status: 'uninitialized' } : { status: 'stale' };
    }
    return {
      status: 'active',
      transitionHash: a.transitionHash,
      rootCaDer: a.ca.root.der,
      meshCaDer: a.ca.meshCa.der,
    };
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
    return this.#nonces.create(client);
  }

  /**
   * The state with its history. Refuses in the stale state (the history cannot be vouched for
   * without the signing key) as upstream's GetManifests.
   */
  async state(): Promise<AuthorityState> {
    const binding = this.stateBinding();
    const a = this.#active;
    if (!a) return { ...binding, manifests: [], policies: [] };
    // Read once per active state: an attest or state request used to re-read and re-parse the
    // whole history (13 Kubernetes API reads each with the ConfigMap store).
    a.history ??= this.#readHistory(a);
    let history: { manifests: Uint8Array[]; policies: Uint8Array[] };
    try {
      history = await a.history;
    } catch (e) {
      a.history = undefined;
      throw e;
    }
    return {
      ...binding,
      // The signature verified when this state became active, not whatever the store holds now
      // (a flipped byte there used to be served until the next recovery).
      signature: a.signature,
      rootCaPem: a.ca.root.pem,
      meshCaPem: a.ca.meshCa.pem,
      manifests: history.manifests,
      policies: history.policies,
    };
  }

  async #readHistory(a: Active): Promise<{ manifests: Uint8Array[]; policies: Uint8Array[] }> {
    const history = this.#history(a.engine);
    const manifests = await history.manifests(a.transitionHash);
    const hashes = new Set<string>();
    for (const m of manifests) {
      const parsed = parseManifest(m.bytes).manifest;
      for (const h of Object.keys(parsed.Policies)) hashes.add(h.toLowerCase());
    }
    const policies: Uint8Array[] = [];
    for (const h of [...hashes].sort()) {
      if (await this.#opts.store.hasBlob('policy', h)) policies.push(await history.getPolicy(h));
    }
    return { manifests: manifests.map((m) => m.bytes), policies };
  }

  /** Sets the first manifest (trust on first use) or updates it (owner signature required). */
  setManifest(params: SetManifestParams): Promise<SetManifestResult> {
    return this.#serialize(() => this.#setManifest(params));
  }

  async #setManifest(params: SetManifestParams): Promise<SetManifestResult> {
    const { manifest } = parseManifest(params.manifest);
    const byHash = new Map<string, Uint8Array>();
    params.policies.forEach((p) => {
      byHash.set(sha256Hex(p), p);
    });
    const needed: Uint8Array[] = [];
    for (const hash of Object.keys(manifest.Policies)) {
      const doc = byHash.get(hash.toLowerCase());
      if (!doc) {
        throw apiFailure('invalid_argument', `no policy document in the request hashes to ${hash}`, {
          field: `Policies[${JSON.stringify(hash)}]`,
        });
      }
      needed.push(doc);
    }
    const verifiers = verifiersForReferenceValues(this.#opts.platforms, manifest.ReferenceValues, this.#log);
    const manifestHash = sha256Hex(params.manifest);
    const latest = await this.#opts.store.getLatest();
    this.#storeLatest = latest?.value.transitionHash ?? null;

    let engine: SeedEngine;
    let seedShareDocument: SeedShareDocument | undefined;
    let generation: number;
    if (latest === null) {
      if (params.previousTransitionHash !== undefined && params.previousTransitionHash !== ZERO_HASH) {
        throw apiFailure(
          'manifest_conflict',
          'there is no previous transition: the Coordinator has no manifest',
          {
            field: 'previous_transition_hash',
          },
        );
      }
      engine = SeedEngine.generate();
      const owners = manifest.SeedshareOwnerPubKeys ?? [];
      if (owners.length > 0) {
        seedShareDocument = createSeedShareDocument({
          seed: engine.seed(),
          salt: engine.salt(),
          ownerPublicKeys: owners.map((hex) => seedShareOwnerKey(hex)),
          logger: this.#log,
        });
      } else {
        this.#log.warn('the manifest names no seed-share owners: the Coordinator cannot be recovered');
      }
      generation = 1;
    } else {
      const a = this.#active;
      if (!a || a.transitionHash !== latest.value.transitionHash) {
        throw apiFailure('needs_recovery', 'coordinator is in recovery mode');
      }
      if (params.previousTransitionHash !== undefined && params.previousTransitionHash !== a.transitionHash) {
        throw apiFailure(
          'manifest_conflict',
          'the latest transition is not the expected previous transition',
          {
            field: 'previous_transition_hash',
          },
        );
      }
      const owners = a.manifest.WorkloadOwnerPubKeys ?? [];
      if (owners.length === 0) {
        throw apiFailure(
          'permission_denied',
          'setting the manifest is disabled: the manifest has no workload owners',
        );
      }
      const next = computeTransitionHash(fromHex(manifestHash), fromHex(a.transitionHash));
      if (!params.signature) {
        throw apiFailure('invalid_signature', 'updating the manifest needs a workload owner signature', {
          field: 'signature',
        });
      }
      const signature = params.signature;
      const ok = owners.some((hex) => {
        try {
          return verifyOwnerSignature(next, signature, fromHex(hex));
        } catch {
          return false;
        }
      });
      if (!ok) {
        throw apiFailure(
          'invalid_signature',
          'the signature is not a workload owner signature over the new transition',
          {
            field: 'signature',
          },
        );
      }
      if (!sameKeySet(a.manifest.SeedshareOwnerPubKeys, manifest.SeedshareOwnerPubKeys)) {
        throw apiFailure('permission_denied', 'changes to seedshare owners are not allowed', {
          field: 'SeedshareOwnerPubKeys',
        });
      }
      engine = a.engine;
      generation = a.generation + 1;
    }

    const history = this.#history(engine);
    let committed: Awaited<ReturnType<History['commitManifest']>>;
    try {
      committed = await history.commitManifest(params.manifest, needed, latest as VersionedLatest | null);
    } catch (e) {
      if (isContrastError(e) && e.code === 'conflict') {
        throw apiFailure(
          'manifest_conflict',
          'another update was committed concurrently; read the state and retry',
          {
            cause: e,
          },
        );
      }
      throw e;
    }
    this.#own.add(committed.transitionHash);
    this.#storeLatest = committed.transitionHash;
    const ca = await createCaHierarchy(engine, { logger: this.#log, ...this.#nowOption() });
    this.#active = {
      engine,
      manifest,
      manifestBytes: params.manifest,
      policies: normalizedPolicies(manifest),
      verifiers,
      ca,
      transitionHash: committed.transitionHash,
      signature: signLatestTransition(fromHex(committed.transitionHash), engine.transactionSigningKey())
        .signature,
      version: committed.version,
      generation,
    };
    this.#log.info('manifest set', {
      transitionHash: committed.transitionHash,
      manifestHash,
      generation,
      initial: latest === null,
    });
    return {
      rootCaPem: ca.root.pem,
      meshCaPem: ca.meshCa.pem,
      transitionHash: committed.transitionHash,
      ...(seedShareDocument ? { seedShareDocument } : {}),
    };
  }

  /**
   * Checks an initializer's evidence (nonce, certificate key and this Coordinator's channel key
   * bound; reference values of the manifest; policy hash in the manifest) and issues its mesh
   * certificate with the workload secret.
   */
  async issueMeshCertificate(params: MeshCertificateParams): Promise<MeshCertificateResult> {
    if (!this.#nonces.consume(params.nonce)) {
      throw apiFailure('challenge_required', 'the nonce is unknown, used or expired', { field: 'nonce' });
    }
    const a = this.#requireActive();
    let publicKey: KeyObject;
    try {
      publicKey = importCertificateKey(params.publicKey);
    } catch {
      throw apiFailure('invalid_argument', 'not a DER SubjectPublicKeyInfo', { field: 'public_key' });
    }
    const reportData = await meshCertReportData(params.nonce, params.publicKey, this.#channelSpki);
    const now = this.#opts.now?.();
    const result = await verifyWithAny(a.verifiers, params.evidence, { reportData, ...(now ? { now } : {}) });
    if (!result.ok) return this.#refuse(result.reason);
    const claims = result.claims;
    if (claims.insecure && !this.#opts.allowInsecure) {
      return this.#refuse({
        code: 'insecure-platform',
        message: 'evidence from an insecure platform is not allowed',
      });
    }
    const policyHash = claims.policyDigest?.toLowerCase();
    const entry = policyHash ? a.policies.get(policyHash) : undefined;
    if (!policyHash || !entry) {
      this.#opts.onAttestationFailure?.({
        code: 'policy-mismatch',
        message: 'policy hash not in manifest',
        field: 'policyDigest',
      });
      throw apiFailure('permission_denied', `policy hash ${policyHash ?? '(none)'} not found in manifest`, {
        field: 'policyDigest',
      });
    }
    const cert = await a.ca.issueMeshCertificate({
      publicKey,
      sans: entry.SANs,
      ...(entry.WorkloadSecretID ? { workloadSecretId: entry.WorkloadSecretID } : {}),
      claims,
      ...(now ? { now } : {}),
    });
    return {
      certChainPem: cert.chainPem,
      meshCaPem: a.ca.meshCa.pem,
      rootCaPem: a.ca.root.pem,
      ...(entry.WorkloadSecretID ? { workloadSecret: a.engine.workloadSecret(entry.WorkloadSecretID) } : {}),
      policyHash,
      claims,
    };
  }

  /** Recovers a stale Coordinator with the seed and salt, authorized by a seed-share owner. */
  async recover(params: RecoverParams): Promise<{ rootCaPem: string; meshCaPem: string }> {
    // The request's checks and the peer lookup run outside the serialized section: a hung peer
    // must not hold up `recover --force` or anything else queued behind it.
    const authorized = await this.#authorizeRecover(params);
    // Only after the owner's signature: an unauthenticated request never makes us dial peers.
    if (!params.force && this.#opts.hasActivePeer && (await this.#opts.hasActivePeer())) {
      throw apiFailure(
        'permission_denied',
        'an active peer Coordinator exists and recovers this one automatically; use force to recover anyway',
        { field: 'force' },
      );
    }
    return this.#serialize(() => this.#recover(params, authorized));
  }

  /** The checks of a recover request that need no secret: nonce, state, owner and signature. */
  async #authorizeRecover(params: RecoverParams): Promise<AuthorizedRecover> {
    if (!this.#nonces.consume(params.nonce)) {
      throw apiFailure('challenge_required', 'the nonce is unknown, used or expired', { field: 'nonce' });
    }
    if (this.#active) throw apiFailure('already_recovered', 'the Coordinator is not in recovery mode');
    const events = this.#latestEvents;
    const unverified = new History({ store: this.#opts.store, logger: this.#log });
    const latest = await unverified.getLatest({ verify: false });
    if (!latest) throw apiFailure('no_manifest', 'no state to recover from');
    const manifestBytes = await unverified.getManifest(latest.manifestHash);
    const { manifest } = parseManifest(manifestBytes);
    const owner = params.ownerPublicKey.toLowerCase();
    if (!(manifest.SeedshareOwnerPubKeys ?? []).some((k) => k.toLowerCase() === owner)) {
      throw apiFailure('permission_denied', 'the key is not a seed-share owner of the latest manifest', {
        field: 'owner_public_key',
      });
    }
    const sealed = { ephemeralPublicKey: params.ephemeralPublicKey, ciphertext: params.ciphertext };
    const message = recoverSignedMessage({
      nonce: params.nonce,
      coordinatorSpki: this.#channelSpki,
      force: params.force ?? false,
      sealed,
    });
    let signed = false;
    try {
      signed = cryptoVerify(
        'sha256',
        message,
        { key: seedShareOwnerKey(owner), padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
        params.signature,
      );
    } catch {
      signed = false;
    }
    if (!signed) {
      throw apiFailure('invalid_signature', 'the recover request is not signed by that seed-share owner', {
        field: 'signature',
      });
    }
    return { events, latest, manifest, manifestBytes, sealed };
  }

  async #recover(
    params: RecoverParams,
    authorized: AuthorizedRecover,
  ): Promise<{ rootCaPem: string; meshCaPem: string }> {
    const { events, latest, manifest, manifestBytes, sealed } = authorized;
    // Another recovery may have finished while this one waited its turn.
    if (this.#active) throw apiFailure('already_recovered', 'the Coordinator is not in recovery mode');
    const { seed, salt } = openRecoverySecret(this.#opts.channelKey, params.nonce, sealed);
    let engine: SeedEngine;
    try {
      engine = new SeedEngine(seed, salt);
    } finally {
      seed.fill(0);
    }
    const ok = verifyLatestTransition(
      { transitionHash: fromHex(latest.transitionHash), signature: latest.signature },
      engine.transactionSigningPublicKey(),
    );
    if (!ok) {
      throw apiFailure(
        'permission_denied',
        'the seed does not match the history (the latest transition signature does not verify)',
        {
          field: 'seed',
        },
      );
    }
    const ca = await createCaHierarchy(engine, { logger: this.#log, ...this.#nowOption() });
    await this.#activate({ engine, manifest, manifestBytes, ca, latest, events });
    this.#log.info('recovered', { transitionHash: latest.transitionHash, generation: this.generation });
    return { rootCaPem: ca.root.pem, meshCaPem: ca.meshCa.pem };
  }

  /** The active state after a recovery (by a seed-share owner or from a peer). */
  async #activate(input: {
    engine: SeedEngine;
    manifest: Manifest;
    manifestBytes: Uint8Array;
    ca: CaHierarchy;
    latest: { transitionHash: string; signature: Uint8Array; version: string };
    /** {@link Authority.#latestEvents} when the latest transition was read. */
    events: number;
  }): Promise<void> {
    const { engine, manifest, latest } = input;
    const chain = await this.#history(engine).transitions(latest.transitionHash);
    const verifiers = verifiersForReferenceValues(this.#opts.platforms, manifest.ReferenceValues, this.#log);
    // A watch event while stale is not acted on; if one moved the pointer since we read it, the
    // state we were about to activate is already stale.
    if (this.#latestEvents !== input.events && this.#storeLatest !== latest.transitionHash) {
      throw apiFailure('manifest_conflict', 'the latest transition changed during recovery; retry', {
        field: 'transition_hash',
      });
    }
    this.#storeLatest = latest.transitionHash;
    this.#active = {
      engine,
      manifest,
      manifestBytes: input.manifestBytes,
      policies: normalizedPolicies(manifest),
      verifiers,
      ca: input.ca,
      transitionHash: latest.transitionHash,
      signature: latest.signature,
      version: latest.version,
      generation: chain.length,
    };
  }

  /**
   * Peer recovery, active side: checks a stale replica's evidence (our nonce, its ephemeral key
   * and our channel key bound; the manifest's reference values; its policy hash must have
   * `Role: coordinator` in the active manifest) and seals seed, salt and mesh CA key to its
   * ephemeral key. Refusals: `attestation_failed` / `permission_denied` (403).
   */
  async handOverToPeer(params: PeerHandOverParams): Promise<PeerHandOverResult> {
    if (!this.#nonces.consume(params.nonce)) {
      throw apiFailure('challenge_required', 'the nonce is unknown, used or expired', { field: 'nonce' });
    }
    const a = this.#requireActive();
    let ephemeral: KeyObject;
    try {
      ephemeral = createPublicKey({
        key: Buffer.from(params.ephemeralPublicKey),
        format: 'der',
        type: 'spki',
      });
    } catch {
      throw apiFailure('invalid_argument', 'not a DER SubjectPublicKeyInfo', {
        field: 'ephemeral_public_key',
      });
    }
    const curve = ephemeral.asymmetricKeyDetails?.namedCurve;
    if (ephemeral.asymmetricKeyType !== 'ec' || (curve !== 'prime256v1' && curve !== 'secp384r1')) {
      throw apiFailure('invalid_argument', 'the ephemeral key must be a P-256 or P-384 key', {
        field: 'ephemeral_public_key',
      });
    }
    const reportData = await peerRecoverReportData(
      params.nonce,
      params.ephemeralPublicKey,
      this.#channelSpki,
    );
    const now = this.#opts.now?.();
    const result = await verifyWithAny(a.verifiers, params.evidence, { reportData, ...(now ? { now } : {}) });
    if (!result.ok) return this.#refuse(result.reason);
    if (result.claims.insecure && !this.#opts.allowInsecure) {
      return this.#refuse({
        code: 'insecure-platform',
        message: 'evidence from an insecure platform is not allowed',
      });
    }
    const policyHash = result.claims.policyDigest?.toLowerCase();
    if (!policyHash || a.policies.get(policyHash)?.Role !== 'coordinator') {
      this.#opts.onAttestationFailure?.({
        code: 'policy-mismatch',
        message: 'policy hash is not a coordinator of the manifest',
        field: 'policyDigest',
      });
      this.#log.warn('refused a peer: not a coordinator policy', { policyHash });
      throw apiFailure(
        'permission_denied',
        `policy hash ${policyHash ?? '(none)'} is not a coordinator policy of the manifest`,
        { field: 'policyDigest' },
      );
    }
    if (this.#active !== a) throw apiFailure('needs_recovery', 'coordinator is in recovery mode');
    const seed = a.engine.seed();
    const meshCaKey = new Uint8Array(a.ca.meshCaKey().export({ type: 'pkcs8', format: 'der' }));
    let sealed: SealedSecret;
    try {
      sealed = sealPeerSecret(params.ephemeralPublicKey, params.nonce, {
        seed,
        salt: a.engine.salt(),
        meshCaKey,
      });
    } finally {
      seed.fill(0);
      meshCaKey.fill(0);
    }
    this.#log.info('handed the secrets to a peer Coordinator', {
      policyHash,
      transitionHash: a.transitionHash,
    });
    return {
      transitionHash: a.transitionHash,
      rootCaPem: a.ca.root.pem,
      meshCaPem: a.ca.meshCa.pem,
      intermediateCaPem: a.ca.intermediate.pem,
      sealed,
      policyHash,
    };
  }

  /**
   * Peer recovery, stale side: becomes active with what an attested peer handed over, after
   * checking it against the store: the peer's transition is the store's latest, the seed's
   * transaction key verifies the latest-pointer signature, the seed reproduces the peer's root CA
   * certificate and the mesh CA key is the key of the peer's mesh CA (all replicas share it).
   * Refusals: `already_recovered`, `no_manifest`, `manifest_conflict` (the store moved; retry),
   * `permission_denied` (the secrets do not match the history).
   */
  recoverFromPeer(input: PeerRecoveryInput): Promise<{ rootCaPem: string; meshCaPem: string }> {
    return this.#serialize(() => this.#recoverFromPeer(input));
  }

  async #recoverFromPeer(input: PeerRecoveryInput): Promise<{ rootCaPem: string; meshCaPem: string }> {
    if (this.#active) throw apiFailure('already_recovered', 'the Coordinator is not in recovery mode');
    const events = this.#latestEvents;
    const unverified = new History({ store: this.#opts.store, logger: this.#log });
    const latest = await unverified.getLatest({ verify: false });
    if (!latest) throw apiFailure('no_manifest', 'no state to recover from');
    if (latest.transitionHash !== input.transitionHash.toLowerCase()) {
      throw apiFailure('manifest_conflict', 'the peer is not at the latest transition of the store', {
        field: 'transition_hash',
      });
    }
    const mismatch = (what: string, field: string) =>
      apiFailure('permission_denied', `the peer's secrets do not match the history: ${what}`, { field });
    let engine: SeedEngine;
    try {
      engine = new SeedEngine(input.secret.seed, input.secret.salt);
    } catch {
      throw mismatch('not a valid seed and salt', 'seed');
    }
    const signed = verifyLatestTransition(
      { transitionHash: fromHex(latest.transitionHash), signature: latest.signature },
      engine.transactionSigningPublicKey(),
    );
    if (!signed) throw mismatch('the latest transition signature does not verify with the seed', 'seed');
    let meshCaKey: KeyObject;
    try {
      meshCaKey = createPrivateKey({
        key: Buffer.from(input.secret.meshCaKey),
        format: 'der',
        type: 'pkcs8',
      });
    } catch {
      throw mismatch('the mesh CA key does not parse', 'mesh_ca_key');
    }
    // Adopt the peer's CA certificates, never rebuild them: restoreCaHierarchy checks that the
    // seed reproduces the root byte for byte, that intermediate and mesh CA are for the mesh CA
    // key, signed by the root / self-signed, exactly our profile, and valid now.
    let ca: CaHierarchy;
    try {
      ca = await restoreCaHierarchy(engine, {
        root: input.rootCaDer,
        meshCa: input.meshCaDer,
        ...(input.intermediateCaDer ? { intermediate: input.intermediateCaDer } : {}),
        meshCaKey,
        logger: this.#log,
        ...this.#nowOption(),
      });
    } catch (e) {
      if (!isContrastError(e)) throw e;
      const field = PEER_CA_FIELDS[e.field ?? ''] ?? 'mesh_ca';
      if (field === 'mesh_ca_key') throw mismatch(e.message, field);
      throw apiFailure('permission_denied', `the peer's ${field} certificate is refused: ${e.message}`, {
        field,
      });
    }
    if (!input.intermediateCaDer) {
      this.#log.warn(
        'the peer sent no intermediate CA certificate (an older version): adopted its root and mesh CA certificates, issued a new intermediate',
      );
    }
    if (this.#active) throw apiFailure('already_recovered', 'the Coordinator is not in recovery mode');
    const manifestBytes = await unverified.getManifest(latest.manifestHash);
    const { manifest } = parseManifest(manifestBytes);
    await this.#activate({ engine, manifest, manifestBytes, ca, latest, events });
    this.#log.info('recovered from a peer', {
      transitionHash: latest.transitionHash,
      generation: this.generation,
    });
    return { rootCaPem: ca.root.pem, meshCaPem: ca.meshCa.pem };
  }

  /** Stops watching the store. Does not close the store. */
  /**
   * The workload secret for `workloadSecretId` from the current seed: the transit engine's key
   * source. Throws the same refusal as the API (`no_manifest`, `needs_recovery`) unless active.
   */
  workloadSecret(workloadSecretId: string): Uint8Array {
    return this.#requireActive().engine.workloadSecret(workloadSecretId);
  }

  /**
   * A certificate for one of the Coordinator's own TLS services (the transit API), issued by the
   * current mesh CA so that workloads trust it with their mesh-ca.pem; with that mesh CA (the CA
   * client certificates must chain to) and the generation it belongs to (a manifest update or a
   * recovery rotates the mesh CA: issue again when `generation` moved).
   */
  async issueServiceCertificate(
    publicKey: Uint8Array,
    sans: string[],
  ): Promise<{ certChainPem: string; meshCaPem: string; generation: number }> {
    const a = this.#requireActive();
    const cert = await a.ca.issueMeshCertificate({ publicKey, sans, ...this.#nowOption() });
    return { certChainPem: cert.chainPem, meshCaPem: a.ca.meshCa.pem, generation: a.generation };
  }

  close(): void {
    this.#watch.abort();
  }

  #onLatest(latest: VersionedLatest | null): void {
    const seen = latest?.value.transitionHash ?? null;
    this.#latestEvents++;
    this.#storeLatest = seen;
    const a = this.#active;
    if (!a) return;
    if (seen === a.transitionHash) {
      // Our transition with other signature bytes: not a pointer we wrote; put ours back.
      if (latest && !bytesEqual(latest.value.signature, a.signature)) void this.#checkRollback(a);
      return;
    }
    if (seen === null) {
      this.#log.warn('the history was deleted from the store; going stale');
      this.#active = undefined;
      return;
    }
    // Another writer moved the pointer. Forward (a transition after ours): another replica
    // changed the history, drop the secrets and wait for recovery. Back to one of our ancestors:
    // a late event of our own write, or a rollback of the store (checked against the store now).
    const history = this.#history(a.engine);
    history
      .isAncestor(seen, a.transitionHash)
      .then((older) => {
        if (this.#active !== a) return;
        if (older || this.#own.has(seen)) return this.#checkRollback(a);
        this.#log.warn('another Coordinator changed the history; going stale', { latest: seen });
        this.#active = undefined;
      })
      .catch((e: unknown) => {
        this.#log.error('checking a new latest transition failed; going stale', {
          error: (e as Error).message,
        });
        if (this.#active === a) this.#active = undefined;
      });
  }

  /**
   * Whether the store's latest pointer went back (an older transition of our history, or ours
   * with other signature bytes) while we are active. The history only ever grows, so that is a
   * rollback of the store: log it as an error, count it, and write our own signed pointer back
   * (compare-and-swap on what is there now), so that a restart cannot recover into the older
   * generation. Serialized with the other writers.
   */
  #checkRollback(a: Active): Promise<void> {
    return this.#serialize(async () => {
      if (this.#active !== a) return;
      const now = await this.#opts.store.getLatest();
      if (!now) return;
      const same = now.value.transitionHash === a.transitionHash;
      if (same && bytesEqual(now.value.signature, a.signature)) return;
      if (!same && !(await this.#history(a.engine).isAncestor(now.value.transitionHash, a.transitionHash))) {
        return; // moved forward meanwhile: the watch handles that
      }
      this.#log.error('the store went back to an older latest pointer; writing ours back', {
        storeLatest: now.value.transitionHash,
        ours: a.transitionHash,
        generation: a.generation,
      });
      try {
        this.#opts.onRollback?.({
          storeLatest: now.value.transitionHash,
          ours: a.transitionHash,
          generation: a.generation,
        });
      } catch {
        // metrics must not break the repair
      }
      a.version = await this.#opts.store.setLatest(
        { transitionHash: a.transitionHash, signature: a.signature },
        now.version,
      );
    }).catch((e: unknown) => {
      this.#log.error('writing the latest pointer back failed', { error: (e as Error).message });
    });
  }

  #requireActive(): Active {
    if (this.#active) return this.#active;
    if (this.#storeLatest === null) throw apiFailure('no_manifest', 'no manifest configured');
    throw apiFailure('needs_recovery', 'coordinator is in recovery mode');
  }

  #refuse(reason: VerifyFailure): never {
    this.#opts.onAttestationFailure?.(reason);
    this.#log.warn('refused evidence', { code: reason.code, field: reason.field });
    throw apiFailure('attestation_failed', `evidence rejected (${reason.code}): ${reason.message}`, {
      ...(reason.field ? { field: `evidence.${reason.field}` } : {}),
    });
  }

  #history(engine: SeedEngine): History {
    return new History({
      store: this.#opts.store,
      logger: this.#log,
      sign: (hash) => signLatestTransition(hash, engine.transactionSigningKey()).signature,
      verify: (hash, signature) =>
        verifyLatestTransition({ transitionHash: hash, signature }, engine.transactionSigningPublicKey()),
    });
  }

  #nowOption(): { now?: Date } {
    const now = this.#opts.now?.();
    return now ? { now } : {};
  }

  #serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }
}

/** What the checks of a recover request found (see `Authority.recover`). */
interface AuthorizedRecover {
  /** Latest-pointer changes seen before the checks (a change meanwhile refuses the recovery). */
  events: number;
  latest: NonNullable<Awaited<ReturnType<History['getLatest']>>>;
  manifest: Manifest;
  manifestBytes: Uint8Array;
  sealed: { ephemeralPublicKey: Uint8Array; ciphertext: Uint8Array };
}
