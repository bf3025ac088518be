import { ContrastError, fromHex, isContrastError, type Logger, noopLogger } from '@contrast-cc/core';
import { assertBytes, assertHash } from './hash.js';
import { decodeTransition, encodeTransition, type Transition, ZERO_HASH } from './transition.js';
import type { HistoryStore, SignedLatest, VersionedLatest } from './types.js';

/**
 * Signs the raw 32-byte transition hash (upstream: ECDSA-P384 ASN.1 with the seed-derived
 * transaction signing key). Must not throw for valid input.
 * @public
 */
export type LatestSigner = (transitionHash: Uint8Array) => Uint8Array | Promise<Uint8Array>;

/** Checks a signature over the raw 32-byte transition hash. @public */
export type LatestSignatureVerifier = (
  transitionHash: Uint8Array,
  signature: Uint8Array,
) => boolean | Promise<boolean>;

/** @public */
export interface HistoryOptions {
  store: HistoryStore;
  /** Needed by {@link History.commitManifest}; recovery can build a History without it first. */
  sign?: LatestSigner;
  /** Needed by verified reads of the latest pointer. */
  verify?: LatestSignatureVerifier;
  logger?: Logger;
  /** Upper bound on the chain length when walking (guards against a corrupt, cyclic store). */
  maxChainLength?: number;
}

/** A transition with its hash, as the chain walk yields it. @public */
export interface TransitionEntry extends Transition {
  transitionHash: string;
}

/** The latest transition with the signed pointer it came from. @public */
export interface LatestTransition extends TransitionEntry {
  signature: Uint8Array;
  /** The store version of the pointer: the expected version for the next commit. */
  version: string;
  /** Whether the signature was checked with the injected verifier. */
  verified: boolean;
}

/** What {@link History.commitManifest} wrote. @public */
export interface CommitResult {
  manifestHash: string;
  policyHashes: string[];
  transitionHash: string;
  previousTransitionHash: string;
  /** The new version of the latest pointer. */
  version: string;
}

/**
 * The Coordinator's history on top of a {@link HistoryStore}: policies and manifests by hash,
 * the chain of transitions, and the signed latest pointer (signing and verification injected).
 * @public
 */
export class History {
  readonly store: HistoryStore;
  readonly #sign: LatestSigner | undefined;
  readonly #verify: LatestSignatureVerifier | undefined;
  readonly #logger: Logger;
  readonly #maxChain: number;

  constructor(options: HistoryOptions) {
    this.store = options.store;
    this.#sign = options.sign;
    this.#verify = options.verify;
    this.#logger = (options.logger ?? noopLogger).child({ component: 'history' });
    this.#maxChain = options.maxChainLength ?? 1_000_000;
  }

  /**
   * Stores the policies, the manifest and a new transition after `expected` (null for the first
   * manifest), signs it, and moves the latest pointer by compare-and-swap. Blobs are written
   * before the pointer, so a crash at any point leaves a pointer whose blobs all exist.
   * Throws `conflict` when `expected` is no longer the latest (another writer won).
   */
  async commitManifest(
    manifest: Uint8Array,
    policies: readonly Uint8Array[],
    expected: VersionedLatest | null,
  ): Promise<CommitResult> {
    if (!this.#sign) {
      throw new ContrastError('precondition-failed', 'this History has no signer: cannot commit');
    }
    assertBytes(manifest, 'manifest');
    if (!Array.isArray(policies)) {
      throw new ContrastError('invalid-argument', 'expected a list of policy documents', {
        field: 'policies',
      });
    }
    policies.forEach((p, i) => {
      assertBytes(p, `policies[${i}]`);
    });
    if (expected !== null) assertHash(expected.value?.transitionHash, 'expected.value.transitionHash');

    const policyHashes: string[] = [];
    for (const p of policies) policyHashes.push(await this.store.putBlob('policy', p));
    const manifestHash = await this.store.putBlob('manifest', manifest);
    const previousTransitionHash = expected?.value.transitionHash ?? ZERO_HASH;
    const transitionHash = await this.store.putBlob(
      'transition',
      encodeTransition({ manifestHash, previousTransitionHash }),
    );
    const signature = await this.#sign(fromHex(transitionHash));
    const version = await this.store.setLatest({ transitionHash, signature }, expected?.version ?? null);
    this.#logger.info('committed manifest', {
      manifestHash,
      transitionHash,
      previousTransitionHash,
      version,
    });
    return { manifestHash, policyHashes, transitionHash, previousTransitionHash, version };
  }

  /**
   * The latest transition, or null when uninitialized. With `verify: true` (the default) the
   * pointer's signature is checked with the injected verifier: `permission-denied` if it does not
   * hold. Recovery reads with `verify: false` before it has the signing key.
   */
  async getLatest(options: { verify?: boolean } = {}): Promise<LatestTransition | null> {
    const latest = await this.store.getLatest();
    if (latest === null) return null;
    const verified = await this.#checkSignature(latest.value, options.verify ?? true);
    const t = await this.getTransition(latest.value.transitionHash);
    return {
      ...t,
      transitionHash: latest.value.transitionHash,
      signature: latest.value.signature,
      version: latest.version,
      verified,
    };
  }

  /** Checks a latest pointer seen elsewhere (e.g. by a watch) with the injected verifier. */
  async verifyLatest(value: SignedLatest): Promise<void> {
    await this.#checkSignature(value, true);
  }

  async #checkSignature(value: SignedLatest, wanted: boolean): Promise<boolean> {
    if (!wanted) return false;
    if (!this.#verify) {
      throw new ContrastError('precondition-failed', 'this History has no signature verifier');
    }
    let ok = false;
    try {
      ok = await this.#verify(fromHex(value.transitionHash), value.signature);
    } catch (cause) {
      throw new ContrastError('permission-denied', 'the latest pointer signature could not be checked', {
        cause,
        field: 'latest.signature',
      });
    }
    if (!ok) {
      throw new ContrastError('permission-denied', 'the latest pointer signature does not verify', {
        field: 'latest.signature',
      });
    }
    return true;
  }

  /** One transition by hash (verified against its hash). */
  async getTransition(hash: string): Promise<Transition> {
    assertHash(hash, 'transitionHash');
    const bytes = await this.store.getBlob('transition', hash);
    return decodeTransition(bytes, `transition/${hash}`);
  }

  /**
   * Walks the chain from `from` (default: the latest transition, unverified) back to the first.
   * Yields newest first. Throws `not-found` if a transition is missing.
   */
  async *walk(from?: string): AsyncGenerator<TransitionEntry> {
    let hash = from;
    if (hash === undefined) {
      const latest = await this.store.getLatest();
      if (latest === null) return;
      hash = latest.value.transitionHash;
    }
    assertHash(hash, 'from');
    for (let n = 0; hash !== ZERO_HASH; n++) {
      if (n >= this.#maxChain) {
        throw new ContrastError('internal', `the transition chain is longer than ${this.#maxChain}`, {
          field: `transition/${hash}`,
        });
      }
      const t = await this.getTransition(hash);
      yield { ...t, transitionHash: hash };
      hash = t.previousTransitionHash;
    }
  }

  /** The whole chain, oldest first. */
  async transitions(from?: string): Promise<TransitionEntry[]> {
    const out: TransitionEntry[] = [];
    for await (const t of this.walk(from)) out.push(t);
    return out.reverse();
  }

  /** The manifests of the chain, oldest first, each verified against its hash. */
  async manifests(from?: string): Promise<{ manifestHash: string; bytes: Uint8Array }[]> {
    const out: { manifestHash: string; bytes: Uint8Array }[] = [];
    for (const t of await this.transitions(from)) {
      out.push({ manifestHash: t.manifestHash, bytes: await this.store.getBlob('manifest', t.manifestHash) });
    }
    return out;
  }

  /**
   * Whether `ancestor` is `descendant` or lies on its chain (a watcher uses this to tell "someone
   * extended my history" from "my state is stale").
   */
  async isAncestor(ancestor: string, descendant: string): Promise<boolean> {
    assertHash(ancestor, 'ancestor');
    if (ancestor === ZERO_HASH) return true;
    try {
      for await (const t of this.walk(descendant)) if (t.transitionHash === ancestor) return true;
    } catch (error) {
      if (isContrastError(error) && error.code === 'not-found') return false;
      throw error;
    }
    return false;
  }

  /** Policies by hash (verified). */
  async getPolicy(hash: string): Promise<Uint8Array> {
    assertHash(hash, 'policyHash');
    return this.store.getBlob('policy', hash);
  }

  /** A manifest by hash (verified). */
  async getManifest(hash: string): Promise<Uint8Array> {
    assertHash(hash, 'manifestHash');
    return this.store.getBlob('manifest', hash);
  }
}
