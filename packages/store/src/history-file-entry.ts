// `@contrast-cc/store/history-file`: the history file alone, without the Kubernetes client the
// ConfigMap backend needs (the CLI's verify writes it; it must stay light).
export {
  DEFAULT_STORE_PREFIX,
  type HistorySnapshot,
  historyConfigMaps,
  restoreHistory,
  type StoreConfigMap,
} from './history-file.js';
export type { BlobKind, HistoryStore, SignedLatest } from './types.js';
