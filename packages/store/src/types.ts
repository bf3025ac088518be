/**
 * What the history store holds, content-addressed by sha256: manifests, policies (initdata
 * documents) and transitions.
 * @public
 */
export type BlobKind = 'manifest' | 'policy' | 'transition';

/** @public */
export const BLOB_KINDS: readonly BlobKind[] = ['manifest', 'policy', 'transition'];

/**
 * The signed latest pointer: the hash of the newest transition and a signature over it, made by
 * the Coordinator's transaction signing key (the store neither makes nor checks it).
 * @public
 */
export interface SignedLatest {
  /** Lower-case hex of the 32-byte transition hash. */
  transitionHash: string;
  /** The signature bytes as produced by the injected signer (upstream: ECDSA ASN.1 DER). */
  signature: Uint8Array;
}

/**
 * The latest pointer with the opaque version the backend gave it. Pass `version` back to
 * {@link HistoryStore.setLatest} as the expected version for a compare-and-swap.
 * @public
 */
export interface VersionedLatest {
  value: SignedLatest;
  version: string;
}

/**
 * Called with the latest pointer whenever a watch sees it change (`null` when it was deleted).
 * @public
 */
export type LatestListener = (latest: VersionedLatest | null) => void;

/**
 * The storage contract of the Coordinator history. Several Coordinator processes (replicas) may
 * share one store: blobs are immutable and content-addressed, so concurrent writes of the same
 * blob are harmless; the latest pointer is the only mutable value and changes only by
 * compare-and-swap.
 * @public
 */
export interface HistoryStore {
  /** Stores bytes under their sha256; returns the lower-case hex hash. Idempotent. */
  putBlob(kind: BlobKind, bytes: Uint8Array): Promise<string>;
  /**
   * The bytes stored under `hash`. Re-hashes on read: throws ContrastError `validation-failed`
   * when the stored bytes do not match their name (corruption, tampering), `not-found` when absent.
   */
  getBlob(kind: BlobKind, hash: string): Promise<Uint8Array>;
  /** Whether a blob with that hash exists (without verifying its content). */
  hasBlob(kind: BlobKind, hash: string): Promise<boolean>;
  /** The latest pointer and its version, or `null` when none was ever set (uninitialized). */
  getLatest(): Promise<VersionedLatest | null>;
  /**
   * Compare-and-swap of the latest pointer: succeeds only if the current version is
   * `expectedVersion` (`null`: only if there is no latest pointer yet). Returns the new version.
   * Throws ContrastError `conflict` when another writer changed it first.
   */
  setLatest(value: SignedLatest, expectedVersion: string | null): Promise<string>;
  /**
   * Watches the latest pointer until `signal` aborts. Resolves once the watch is established;
   * `onChange` is then called with the current value and again whenever a new version is seen
   * (changes in quick succession may be coalesced into the newest one: level-triggered).
   */
  watchLatest(onChange: LatestListener, signal: AbortSignal): Promise<void>;
  /** Releases resources (timers, connections) held by the store. */
  close(): Promise<void>;
}
