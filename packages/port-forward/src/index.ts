export { FORWARDER_SELECTOR, forwarderPod, type RelayTarget } from './forwarder-pod.js';
export { loadKubeConfig } from './kubeconfig.js';
export { type PortForwardOptions, type PortForwardSession, startPortForward } from './session.js';
export { type ForwardPorts, type ForwardTarget, parseForwardPorts, parseForwardTarget } from './target.js';
