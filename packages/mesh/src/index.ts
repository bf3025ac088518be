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
  type InterceptionPlan,
  MESH_ENV,
  type MeshConfig,
  meshConfigFromEnv,
  PROXY_PORT_BASE,
  parsePortList,
  planInterception,
  type Redirect,
} from './mesh-config.js';
export {
  type MeshCredentials,
  type MeshProxy,
  type MeshProxyOptions,
  type ProxyStats,
  readMeshCredentials,
  startMeshProxy,
} from './proxy.js';
export {
  applyTrafficRules,
  type CommandRunner,
  listTrafficRules,
  RULES_NAMES,
  renderIptablesRules,
  renderNftRules,
  runCommand,
  type TrafficRulesBackend,
  type TrafficRulesOptions,
  type TrafficRulesResult,
} from './traffic-rules.js';
