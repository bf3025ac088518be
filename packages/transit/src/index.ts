export {
  DEFAULT_KEY_VERSION,
  formatCiphertext,
  MAX_KEY_VERSION,
  parseCiphertext,
  type TransitCiphertext,
  TransitEngine,
  type TransitKeySource,
} from './engine.js';
export {
  createTransitHandler,
  type TransitHandlerOptions,
} from './http.js';
export {
  type RunningTransitServer,
  startTransitServer,
  type TransitServerOptions,
  type TransitTlsCredentials,
} from './server.js';
