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
  clientWorkloadSecretId,
  createTransitHandler,
  TRANSIT_MAX_BODY_BYTES,
  type TransitHandlerOptions,
} from './http.js';
export {
  type RunningTransitServer,
  startTransitServer,
  type TransitServerOptions,
  type TransitTlsCredentials,
} from './server.js';
