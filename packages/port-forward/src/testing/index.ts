export { type ClusterEcho, startClusterEcho } from './cluster-echo.js';
export { closedPort, roundTrip, startEcho } from './echo.js';
export { RELAY_SCRIPT, type RelayKubelet, relayKubelet } from './relay-kubelet.js';
