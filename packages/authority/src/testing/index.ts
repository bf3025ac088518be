// @contrast-cc/authority/testing: test fixtures for the Coordinator's logic and server. Not part
// of the main entry; for tests of this package and of the apps built on it.
export {
  channelKey,
  type Deployment,
  deployment,
  fakePlatform,
  type Keys,
  keys,
  MEASUREMENT,
  ownerSignature,
  podIssuer,
  recoverRequest,
  recoverSharesRequest,
  registry,
  type SeedShareOwner,
  seedShareOwners,
  tempStore,
  waitFor,
} from './fixtures.js';
export { freeLoopbackPort } from './free-port.js';
