// The history as one file that rebuilds a store after a disaster (upstream's verify/history.yml):
// every manifest, policy and transition of the chain plus the signed latest pointer, as the
// ConfigMaps the ConfigMap backend reads (`kubectl apply -f history.yml`), or written into any
// HistoryStore with restoreHistory. Nothing here talks to Kubernetes.
import { ContrastError } from '@contrast-cc/core';
import { assertSignedLatest, encodeSignedLatest, sha256Hex } from './hash.js';
import { encodeTransition, transitionHash, ZERO_HASH } from './transition.js';
import type { BlobKind, HistoryStore, SignedLatest } from './types.js';

/** The label every store ConfigMap carries (as upstream). @public */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
/** @public */
export const MANAGED_BY_VALUE = 'contrast.edgeless.systems';
/** The label telling which store (name prefix) a ConfigMap belongs to. @public */
export const STORE_LABEL = 'contrast.edgeless.systems/store';
/** The label telling what a ConfigMap holds: manifests, policies, transitions or latest. @public */
export const KEY_KIND_LABEL = 'contrast.edgeless.systems/history-kind';
/** The default ConfigMap name prefix (as upstream). @public */
export const DEFAULT_STORE_PREFIX = 'contrast-store';

export const KIND_SEGMENT: Record<BlobKind, string> = {
  manifest: 'manifests',
  policy: 'policies',
  transition: 'transitions',
};
export const LATEST_SEGMENT = 'transitions';
export const LATEST_KEY = 'latest';

/** A ConfigMap as the store writes it (the subset of V1ConfigMap it uses). @public */
export interface StoreConfigMap {
  apiVersion: 'v1';
  kind: 'ConfigMap';
  metadata: {
    name: string;
    namespace?: string;
    labels: Record<string, string>;
    ownerReferences?: unknown[];
    resourceVersion?: string;
  };
  binaryData: Record<string, string>;
}

/** The one place a store ConfigMap is built: the backend's writes and the history file. */
export function storeConfigMap(input: {
  name: string;
  prefix: string;
  segment: string;
  key: string;
  bytes: Uint8Array;
  namespace?: string;
  ownerReference?: unknown;
  resourceVersion?: string;
}): StoreConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: input.name,
      ...(input.namespace !== undefined ? { namespace: input.namespace } : {}),
      labels: {
        [MANAGED_BY_LABEL]: MANAGED_BY_VALUE,
        [STORE_LABEL]: input.prefix,
        [KEY_KIND_LABEL]: input.segment,
      },
      ...(input.ownerReference ? { ownerReferences: [input.ownerReference] } : {}),
      ...(input.resourceVersion !== undefined ? { resourceVersion: input.resourceVersion } : {}),
    },
    binaryData: { [input.key]: Buffer.from(input.bytes).toString('base64') },
  };
}

/** What a history file holds: the manifests in order, the policies, the signed latest pointer. @public */
export interface HistorySnapshot {
  /** Every manifest of the chain, oldest first, byte-exact. */
  manifests: readonly Uint8Array[];
  /** The policy (initdata) documents the manifests name. */
  policies: readonly Uint8Array[];
  /** The signed latest pointer; its hash must be the chain's last transition. */
  latest: SignedLatest;
}

/** Every blob of a snapshot, with the transitions rebuilt from the manifests and checked. */
export function historyBlobs(
  snapshot: HistorySnapshot,
): { kind: BlobKind; hash: string; bytes: Uint8Array }[] {
  assertSignedLatest(snapshot.latest);
  if (snapshot.manifests.length === 0) {
    throw new ContrastError('invalid-argument', 'a history has at least one manifest', {
      field: 'manifests',
    });
  }
  const out: { kind: BlobKind; hash: string; bytes: Uint8Array }[] = [];
  let previous = ZERO_HASH;
  for (const m of snapshot.manifests) {
    const manifestHash = sha256Hex(m);
    out.push({ kind: 'manifest', hash: manifestHash, bytes: m });
    const t = { manifestHash, previousTransitionHash: previous };
    previous = transitionHash(t);
    out.push({ kind: 'transition', hash: previous, bytes: encodeTransition(t) });
  }
  if (previous !== snapshot.latest.transitionHash.toLowerCase()) {
    throw new ContrastError(
      'validation-failed',
      `the manifests chain to transition ${previous}, but the latest pointer names ${snapshot.latest.transitionHash}`,
      { field: 'latest.transitionHash' },
    );
  }
  const seen = new Set<string>();
  for (const p of snapshot.policies) {
    const hash = sha256Hex(p);
    if (seen.has(hash)) continue;
    seen.add(hash);
    out.push({ kind: 'policy', hash, bytes: p });
  }
  return out;
}

/**
 * The ConfigMaps that rebuild a ConfigMap store holding `snapshot` (names and labels exactly as
 * the backend writes them; no namespace unless given, so `kubectl apply -n <ns>` places them).
 * @public
 */
export function historyConfigMaps(
  snapshot: HistorySnapshot,
  options: { prefix?: string; namespace?: string } = {},
): StoreConfigMap[] {
  const prefix = options.prefix ?? DEFAULT_STORE_PREFIX;
  const ns = options.namespace !== undefined ? { namespace: options.namespace } : {};
  const maps = historyBlobs(snapshot).map((b) =>
    storeConfigMap({
      name: `${prefix}-${KIND_SEGMENT[b.kind]}-${b.hash}`,
      prefix,
      segment: KIND_SEGMENT[b.kind],
      key: b.hash,
      bytes: b.bytes,
      ...ns,
    }),
  );
  maps.push(
    storeConfigMap({
      name: `${prefix}-${LATEST_SEGMENT}-${LATEST_KEY}`,
      prefix,
      segment: LATEST_SEGMENT,
      key: LATEST_KEY,
      bytes: encodeSignedLatest(snapshot.latest),
      ...ns,
    }),
  );
  return maps;
}

/**
 * Writes a snapshot into an empty store (any backend): every blob, then the latest pointer by
 * compare-and-swap from "none". A store that already has a latest pointer is refused
 * (`conflict`): restoring never overwrites a live history. The Coordinator on the restored store
 * starts stale and is brought back by a seed-share owner (`contrast recover`), as after a restart.
 * @public
 */
export async function restoreHistory(store: HistoryStore, snapshot: HistorySnapshot): Promise<void> {
  const blobs = historyBlobs(snapshot);
  if ((await store.getLatest()) !== null) {
    throw new ContrastError('conflict', 'the store already has a history; restore only into an empty store');
  }
  for (const b of blobs) {
    const hash = await store.putBlob(b.kind, b.bytes);
    if (hash !== b.hash) throw new ContrastError('internal', `stored ${b.kind} under ${hash}, not ${b.hash}`);
  }
  await store.setLatest(snapshot.latest, null);
}
