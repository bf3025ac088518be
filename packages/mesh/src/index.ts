export { parseHostPort, parsePort } from './address.js';
export {
  type EgressRule,
  type IngressMode,
  type IngressRule,
  parseEgressConfig,
  parseIngressConfig,
} from './annotations.js';
export {
  type InitializerOptions,
  type InitializerResult,
  OUTPUT_FILES,
  runInitializer,
} from './initializer.js';
export {
  type MeshCredentials,
  type MeshProxy,
  type MeshProxyOptions,
  readMeshCredentials,
  startMeshProxy,
} from './proxy.js';
