export { createPlatformCatalog, type PlatformCatalog, type PlatformCatalogOptions } from './catalog.js';
