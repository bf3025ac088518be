export {
  ConfigMapHistoryStore,
  type ConfigMapStoreOptions,
  KEY_KIND_LABEL,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  STORE_LABEL,
} from './configmap-store.js';
export { DirectoryHistoryStore, type DirectoryStoreOptions } from './dir-store.js';
export { isStoreIntegrityError, storeIntegrityError } from './hash.js';
export {
  type CommitResult,
  History,
  type HistoryOptions,
  type LatestSignatureVerifier,
  type LatestSigner,
  type LatestTransition,
  type TransitionEntry,
} from './history.js';
export {
  DEFAULT_STORE_PREFIX,
  type HistorySnapshot,
  historyConfigMaps,
  restoreHistory,
  type StoreConfigMap,
} from './history-file.js';
export {
  createKubeApi,
  inCluster,
  inClusterConnection,
  type KubeApi,
  KubeApiError,
  type KubeApiErrorReason,
  type KubeConnection,
  type KubeRequestOptions,
  kubeApiFromConfig,
  kubeConfigConnection,
} from './kube-api.js';
export { type Transition, ZERO_HASH } from './transition.js';
export {
  BLOB_KINDS,
  type BlobKind,
  type HistoryStore,
  type LatestListener,
  type SignedLatest,
  type VersionedLatest,
} from './types.js';
