export { createPlatformCatalog, type PlatformCatalog, type PlatformCatalogOptions } from './catalog.js';
export { type IssuerEnv, issuerEnvShape, parseGuestEnv } from './guest-env.js';
export { type GuestIssuerOptions, openGuestIssuer } from './guest-issuer.js';
