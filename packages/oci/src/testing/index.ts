export { HAS_REGISTRY, LocalRegistry, makeTar, REGISTRY_BIN, sha256, tarEntry } from './registry.js';
