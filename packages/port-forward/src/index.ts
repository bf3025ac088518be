export {
  FORWARDER_MANAGED_BY_LABEL,
  FORWARDER_MANAGED_BY_VALUE,
  FORWARDER_NAME_LABEL,
  FORWARDER_NAME_VALUE,
  FORWARDER_SELECTOR,
  FORWARDER_TARGET_ANNOTATION,
  forwarderPod,
  forwarderPodName,
  HEALTH_PORT,
  RELAY_PORT,
  type RelayTarget,
} from './forwarder-pod.js';
export { loadKubeConfig } from './kubeconfig.js';
export { type PortForwardOptions, type PortForwardSession, podSummary, startPortForward } from './session.js';
export {
  describeTarget,
  type ForwardPorts,
  type ForwardTarget,
  parseForwardPorts,
  parseForwardTarget,
} from './target.js';
