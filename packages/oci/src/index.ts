export { type ImageReference, parseImageReference, pinnedReference } from './reference.js';
export { type RegistryClientOptions, RegistryImageSource, type ResolveOptions } from './registry.js';
export { type TarEntry, TarStreamReader } from './tar.js';
