export { HAS_REGISTRY, LocalRegistry, REGISTRY_BIN, sha256 } from './registry.js';
