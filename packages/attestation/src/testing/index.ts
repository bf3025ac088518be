// Test helpers: loopback stand-ins of AMD KDS and Intel PCS with the vendors' exact paths and
// headers, serving what a test gives them (real vectors' certificates and collateral, or a
// simulator's). Loopback only; nothing here is for production.

export {
  type FakeCollateralServer,
  type FakeKdsProduct,
  type FakePcsPlatform,
  startFakeKds,
  startFakePcs,
} from './fake-services.js';
// The shared real-hardware vectors (../shared/testvectors or CONTRAST_SHARED_DIR), read in place.
export { hasSnpVectors, type SnpVector, snpVectors } from './snp-vectors.js';
export {
  haveVectors as hasTdxVectors,
  TDX_VECTORS,
  tdxVectorsDir,
  vectorCollateral as tdxVectorCollateral,
  vectorQuote as tdxVectorQuote,
} from './tdx-vectors.js';
