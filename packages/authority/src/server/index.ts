export type { PeerRecoveredEvent } from '../peer-recovery.js';
export { type CoordinatorOptions, type RunningCoordinator, startCoordinator } from './coordinator.js';
export { createTlsIdentity, type TlsIdentity } from './tls.js';
