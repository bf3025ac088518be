// The server lives in @contrast-cc/authority/server; re-exported for existing consumers (the demo).
export {
  type CoordinatorOptions,
  createTlsIdentity,
  type RunningCoordinator,
  startCoordinator,
  type TlsIdentity,
} from '@contrast-cc/authority/server';
export { type CoordinatorConfig, CoordinatorConfigSchema, parseConfig } from './config.js';
export {
  COORDINATOR_NODE_OPTIONS,
  type CoordinatorResourceOptions,
  coordinatorResources,
} from './resources.js';
