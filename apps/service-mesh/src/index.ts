export {
  type EgressRule,
  type IngressMode,
  type IngressRule,
  parseEgressConfig,
  parseIngressConfig,
} from './config.js';
export {
  type MeshCredentials,
  type MeshProxy,
  type MeshProxyOptions,
  readMeshCredentials,
  startMeshProxy,
} from './proxy.js';
