export { type CoordinatorConfig, CoordinatorConfigSchema, parseConfig } from './config.js';
export { type CoordinatorOptions, type RunningCoordinator, startCoordinator } from './coordinator.js';
export { type CoordinatorResourceOptions, coordinatorResources } from './resources.js';
export { createTlsIdentity, type TlsIdentity } from './tls.js';
