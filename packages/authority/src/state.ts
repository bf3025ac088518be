// The replica's state and its transitions: uninitialized / active / stale, the secrets of the
// active state, the watch on the store's latest pointer (another replica moved it: stale; it went
// back: rollback, written back), activation after a recovery, and the one queue that serializes
// every writer. The operations (manifest-update.ts, issuance.ts, owner-recovery.ts,
// peer-handover.ts) work on a Replica; authority.ts is the public face. Internal: not exported.
import { createPublicKey } from 'node:crypto';
import {
  type CoordinatorStateBinding,
  type CoordinatorStatus,
  verifiersForReferenceValues,
} from '@contrast-cc/api';
import {
  type CaHierarchy,
  type SeedEngine,
  signLatestTransition,
  verifyLatestTransition,
} from '@contrast-cc/certs';
import {
  bytesEqual,
  ContrastError,
  type Evidence,
  type EvidenceClaims,
  type Logger,
  noopLogger,
  type Verifier,
  type VerifyFailure,
  verifyWithAny,
} from '@contrast-cc/core';
import { type Manifest, type PolicyEntry, parseManifest } from '@contrast-cc/manifest';
import { History, type VersionedLatest } from '@contrast-cc/store';
import { AuthorityError } from './errors.js';
import { NonceStore } from './nonces.js';
import type { AuthorityOptions, AuthorityState } from './types.js';

/** The secrets and derived state of an active replica (only in memory). */
export interface Active {
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
  /**
   * Workload secrets derived for this active state's WorkloadSecretIDs (only IDs of the manifest's
   * policies, so at most one per policy): one HKDF per ID instead of one per certificate. It lives
   * and dies with this object, which a manifest update or a recovery replaces, so it can never
   * answer for another seed or manifest.
   */
  workloadSecrets?: Map<string, Uint8Array>;
}

/**
 * The workload secret of a WorkloadSecretID of the active manifest (a fresh copy: a caller changing
 * it cannot change the next answer).
 */
export function manifestWorkloadSecret(a: Active, workloadSecretId: string): Uint8Array {
  a.workloadSecrets ??= new Map();
  let secret = a.workloadSecrets.get(workloadSecretId);
  if (!secret) {
    secret = a.engine.workloadSecret(workloadSecretId);
    a.workloadSecrets.set(workloadSecretId, secret);
  }
  return secret.slice();
}

export function normalizedPolicies(manifest: Manifest): Map<string, PolicyEntry> {
  return new Map(Object.entries(manifest.Policies).map(([k, v]) => [k.toLowerCase(), v]));
}

/** One replica's state on a shared store (see the module comment). */
export class Replica {
  readonly opts: AuthorityOptions;
  readonly log: Logger;
  readonly nonces: NonceStore;
  readonly channelSpki: Uint8Array;
  readonly watch = new AbortController();
  /** Transitions this replica committed (their watch events are not another writer's). */
  readonly own = new Set<string>();
  /** Latest-pointer changes seen by the watch (a recovery checks none slipped in meanwhile). */
  latestEvents = 0;
  active: Active | undefined;
  /** The latest pointer as last seen in the store (null: none). */
  storeLatest: string | null = null;
  queue: Promise<unknown> = Promise.resolve();

  constructor(options: AuthorityOptions) {
    this.opts = options;
    this.log = (options.logger ?? noopLogger).child({ component: 'authority' });
    this.nonces = new NonceStore({ ttlMs: options.nonceTtlMs ?? 60_000, ...options.nonceLimits });
    const key = options.channelKey;
    if (key?.type !== 'private' || key.asymmetricKeyType !== 'ec') {
      throw new ContrastError('invalid-argument', 'the channel key must be an EC private key', {
        field: 'channelKey',
      });
    }
    this.channelSpki = new Uint8Array(createPublicKey(key).export({ type: 'spki', format: 'der' }));
  }

  /** `uninitialized`, `active` or `stale` (recovery mode). */
  get status(): CoordinatorStatus {
    if (this.active) return 'active';
    return this.storeLatest === null ? 'uninitialized' : 'stale';
  }

  /** The manifest generation (number of transitions; 0 when not active). */
  get generation(): number {
    return this.active?.generation ?? 0;
  }

  /** What the Coordinator's attestation binds. */
  stateBinding(): CoordinatorStateBinding {
    const a = this.active;
    if (!a) {
      return this.storeLatest === null ? { status: 'uninitialized' } : { status: 'stale' };
    }
    return {
      status: 'active',
      transitionHash: a.transitionHash,
      rootCaDer: a.ca.root.der,
      meshCaDer: a.ca.meshCa.der,
    };
  }

  /**
   * The state with its history. Refuses in the stale state (the history cannot be vouched for
   * without the signing key) as upstream's GetManifests.
   */
  async state(): Promise<AuthorityState> {
    const binding = this.stateBinding();
    const a = this.active;
    if (!a) return { ...binding, manifests: [], policies: [] };
    // Read once per active state: an attest or state request used to re-read and re-parse the
    // whole history (13 Kubernetes API reads each with the ConfigMap store).
    a.history ??= this.readHistory(a);
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

  async readHistory(a: Active): Promise<{ manifests: Uint8Array[]; policies: Uint8Array[] }> {
    const history = this.history(a.engine);
    const manifests = await history.manifests(a.transitionHash);
    const hashes = new Set<string>();
    for (const m of manifests) {
      const parsed = parseManifest(m.bytes).manifest;
      for (const h of Object.keys(parsed.Policies)) hashes.add(h.toLowerCase());
    }
    const policies: Uint8Array[] = [];
    for (const h of [...hashes].sort()) {
      if (await this.opts.store.hasBlob('policy', h)) policies.push(await history.getPolicy(h));
    }
    return { manifests: manifests.map((m) => m.bytes), policies };
  }

  /** The active state after a recovery (by a seed-share owner or from a peer). */
  async activate(input: {
    engine: SeedEngine;
    manifest: Manifest;
    manifestBytes: Uint8Array;
    ca: CaHierarchy;
    latest: { transitionHash: string; signature: Uint8Array; version: string };
    /** {@link Replica.latestEvents} when the latest transition was read. */
    events: number;
  }): Promise<void> {
    const { engine, manifest, latest } = input;
    const chain = await this.history(engine).transitions(latest.transitionHash);
    const verifiers = verifiersForReferenceValues(this.opts.platforms, manifest.ReferenceValues, this.log);
    // A watch event while stale is not acted on; if one moved the pointer since we read it, the
    // state we were about to activate is already stale.
    if (this.latestEvents !== input.events && this.storeLatest !== latest.transitionHash) {
      throw new AuthorityError('manifest-conflict', 'the latest transition changed during recovery; retry', {
        field: 'transition_hash',
      });
    }
    this.storeLatest = latest.transitionHash;
    this.active = {
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

  onLatest(latest: VersionedLatest | null): void {
    const seen = latest?.value.transitionHash ?? null;
    this.latestEvents++;
    this.storeLatest = seen;
    const a = this.active;
    if (!a) return;
    if (seen === a.transitionHash) {
      // Our transition with other signature bytes: not a pointer we wrote; put ours back.
      if (latest && !bytesEqual(latest.value.signature, a.signature)) void this.checkRollback(a);
      return;
    }
    if (seen === null) {
      this.log.warn('the history was deleted from the store; going stale');
      this.active = undefined;
      return;
    }
    // Another writer moved the pointer. Forward (a transition after ours): another replica
    // changed the history, drop the secrets and wait for recovery. Back to one of our ancestors:
    // a late event of our own write, or a rollback of the store (checked against the store now).
    const history = this.history(a.engine);
    history
      .isAncestor(seen, a.transitionHash)
      .then((older) => {
        if (this.active !== a) return;
        if (older || this.own.has(seen)) return this.checkRollback(a);
        this.log.warn('another Coordinator changed the history; going stale', { latest: seen });
        this.active = undefined;
      })
      .catch((e: unknown) => {
        this.log.error('checking a new latest transition failed; going stale', {
          error: (e as Error).message,
        });
        if (this.active === a) this.active = undefined;
      });
  }

  /**
   * Whether the store's latest pointer went back (an older transition of our history, or ours
   * with other signature bytes) while we are active. The history only ever grows, so that is a
   * rollback of the store: log it as an error, count it, and write our own signed pointer back
   * (compare-and-swap on what is there now), so that a restart cannot recover into the older
   * generation. Serialized with the other writers.
   */
  checkRollback(a: Active): Promise<void> {
    return this.serialize(async () => {
      if (this.active !== a) return;
      const now = await this.opts.store.getLatest();
      if (!now) return;
      const same = now.value.transitionHash === a.transitionHash;
      if (same && bytesEqual(now.value.signature, a.signature)) return;
      if (!same && !(await this.history(a.engine).isAncestor(now.value.transitionHash, a.transitionHash))) {
        return; // moved forward meanwhile: the watch handles that
      }
      this.log.error('the store went back to an older latest pointer; writing ours back', {
        storeLatest: now.value.transitionHash,
        ours: a.transitionHash,
        generation: a.generation,
      });
      try {
        this.opts.onRollback?.({
          storeLatest: now.value.transitionHash,
          ours: a.transitionHash,
          generation: a.generation,
        });
      } catch {
        // metrics must not break the repair
      }
      a.version = await this.opts.store.setLatest(
        { transitionHash: a.transitionHash, signature: a.signature },
        now.version,
      );
    }).catch((e: unknown) => {
      this.log.error('writing the latest pointer back failed', { error: (e as Error).message });
    });
  }

  /** Consumes a challenge nonce this replica issued; refuses an unknown, used or expired one. */
  consumeNonce(nonce: Uint8Array): void {
    if (!this.nonces.consume(nonce)) {
      throw new AuthorityError('challenge-required', 'the nonce is unknown, used or expired', {
        field: 'nonce',
      });
    }
  }

  requireActive(): Active {
    if (this.active) return this.active;
    if (this.storeLatest === null) throw new AuthorityError('no-manifest', 'no manifest configured');
    throw new AuthorityError('needs-recovery', 'coordinator is in recovery mode');
  }

  refuse(reason: VerifyFailure): never {
    this.opts.onAttestationFailure?.(reason);
    this.log.warn('refused evidence', { code: reason.code, field: reason.field });
    throw new AuthorityError('attestation-failed', `evidence rejected (${reason.code}): ${reason.message}`, {
      ...(reason.field ? { field: `evidence.${reason.field}` } : {}),
    });
  }

  history(engine: SeedEngine): History {
    return new History({
      store: this.opts.store,
      logger: this.log,
      sign: (hash) => signLatestTransition(hash, engine.transactionSigningKey()).signature,
      verify: (hash, signature) =>
        verifyLatestTransition({ transitionHash: hash, signature }, engine.transactionSigningPublicKey()),
    });
  }

  nowOption(): { now?: Date } {
    const now = this.opts.now?.();
    return now ? { now } : {};
  }

  serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Checks evidence with the manifest's verifiers against `reportData` (refusing insecure
   * platforms unless allowed); returns the claims and the clock reading it used.
   */
  async attest(
    verifiers: Verifier[],
    evidence: Evidence,
    reportData: Uint8Array,
  ): Promise<{ claims: EvidenceClaims; now: Date | undefined }> {
    const now = this.opts.now?.();
    const result = await verifyWithAny(verifiers, evidence, { reportData, ...(now ? { now } : {}) });
    if (!result.ok) return this.refuse(result.reason);
    if (result.claims.insecure && !this.opts.allowInsecure) {
      return this.refuse({
        code: 'insecure-platform',
        message: 'evidence from an insecure platform is not allowed',
      });
    }
    return { claims: result.claims, now };
  }
}
