// @contrast-cc/mesh/config: the mesh configuration alone (annotation grammar, the variables
// generate writes, the interception plan), without the proxy, the initializer or any network
// client; for `contrast generate`'s resource pipeline.
export { parseHostPort, parsePort } from './address.js';
export {
  type EgressRule,
  type IngressMode,
  type IngressRule,
  parseEgressConfig,
  parseIngressConfig,
} from './annotations.js';
export {
  type InterceptionPlan,
  MESH_ENV,
  type MeshConfig,
  meshConfigFromEnv,
  PROXY_PORT_BASE,
  parsePortList,
  planInterception,
  type Redirect,
} from './mesh-config.js';
