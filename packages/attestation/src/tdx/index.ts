export {
  type CcelEvent,
  type CcelTable,
  checkCcelAgainstQuote,
  parseCcelEventLog,
  parseCcelTable,
  replayCcelRtmrs,
} from './ccel.js';
export { TDX_CLAIM_FIELDS, TDX_CLAIM_OID_ARC, tdxClaimExtensions } from './claim-extensions.js';
export { type TdxQuoteFileOptions, type TdxQuoteFileReport, verifyTdxQuoteFile } from './cli.js';
export {
  COLLATERAL_FILE_NAMES,
  collateralFromExtras,
  collateralToExtras,
  type IsvTcbLevel,
  type QeIdentity,
  TCB_STATUSES,
  type TcbInfo,
  type TcbLevel,
  type TcbStatus,
  type TdxCollateral,
  type TdxModuleIdentity,
} from './collateral.js';
export { loadCollateralDir } from './collateral-dir.js';
export {
  firstTdxCollateral,
  pcsCollateralSource,
  TDX_COLLATERAL_FILES,
  type TdxCollateralSource,
  tdxCollateralDirectory,
} from './collateral-source.js';
export type { PckExtensions, SgxType } from './pck.js';
export { INTEL_PCS_BASE_URL, PcsClient, type PcsClientOptions, type PcsDocument } from './pcs.js';
export {
  parseTdxQuote,
  type SgxReportBody,
  type TdReportBody,
  type TdxQuote,
  type TdxQuoteHeader,
  type TdxQuoteSignatureData,
} from './quote.js';
export {
  DEFAULT_ACCEPTED_TCB_STATUSES,
  type TdxReferenceValues,
} from './reference-values.js';
export { INTEL_SGX_ROOT_CA_PEM, INTEL_SGX_ROOT_CA_SHA256 } from './roots.js';
export {
  createSimulatedTdxIssuer,
  type SimulatedPlatform,
  type SimulatedTdFields,
  type SimulatedTdx,
  type SimulatedTdxOptions,
} from './simulator.js';
export type { TdxTcbEvaluation, TdxTcbStatus } from './tcb.js';
export {
  type CollateralRequest,
  collateralRequestOf,
  createTdxVerifier,
  type TdxVerifierOptions,
} from './verifier.js';
export {
  createTrustAnchors,
  intelTrustAnchors,
  TDX_EVIDENCE_KIND,
  type TdxClaimDetails,
  type TdxClaims,
  type TdxTrustAnchors,
  type TdxVerifyOptions,
  type TdxVerifyResult,
} from './verify.js';
export { verifyTdxQuote } from './verify-node.js';
