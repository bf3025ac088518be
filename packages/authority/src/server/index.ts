export type { PeerRecoveredEvent } from '../peer-recovery.js';
export { type CoordinatorOptions, type RunningCoordinator, startCoordinator } from './coordinator.js';
export { AUTHORITY_ERROR_WIRE } from './errors.js';
export { type ApiHandlerOptions, createApiHandler } from './http.js';
export { type CoordinatorMetrics, createMetrics } from './metrics.js';
export { createTlsIdentity, type TlsIdentity } from './tls.js';
