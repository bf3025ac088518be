export {
  AMD_OID,
  type SnpKeyExtensions,
  type SnpTrustAnchor,
  type SnpTrustAnchorInput,
} from './certs.js';
export {
  SNP_CLAIM_FIELDS,
  SNP_CLAIM_OID_ARC,
  snpClaimExtensions,
  snpReportExtraJson,
} from './claim-extensions.js';
export {
  firstSnpCollateral,
  SNP_COLLATERAL_FILES,
  SnpCollateralDirectory,
} from './collateral-source.js';
export {
  AMD_KDS_BASE_URL,
  KdsClient,
  type KdsClientOptions,
  type SnpCollateral,
  type SnpCollateralSource,
} from './kds.js';
export {
  compileSnpReferenceValues,
  refuseApeip,
  type SnpGuestPolicyValues,
  type SnpMinimumTcb,
  type SnpPlatformInfoValues,
  type SnpReferenceValues,
} from './policy.js';
export {
  decodeGuestPolicy,
  decodePlatformInfo,
  decodeTcb,
  encodeTcb,
  type ParseSnpReportOptions,
  parseSnpReport,
  SNP_PRODUCT_LINES,
  SNP_REPORT_SIZE,
  SNP_REPORT_VERSIONS,
  type SnpGuestPolicy,
  type SnpPlatformInfo,
  type SnpProductLine,
  type SnpReport,
  type SnpSigningKey,
  type SnpTcb,
  snpReportToJson,
} from './report.js';
export { AMD_ROOTS, type AmdProductRoots } from './roots.js';
export {
  createSimulatedSnpChain,
  createSimulatedSnpIssuer,
  type SimulatedSnpChain,
  type SimulatedSnpIssuer,
  type SimulatedSnpOptions,
  type SimulatedTcb,
} from './simulator.js';
export {
  createSnpVerifier,
  describeSnpResult,
  SNP_EXTRAS,
  type SnpCliOutcome,
  type SnpEvidenceFiles,
  type SnpVerifierOptions,
  snpClaimsToJson,
  verifySnpEvidenceFiles,
} from './verifier.js';
export {
  SNP_EVIDENCE_KIND,
  type SnpClaimDetails,
  type SnpClaims,
  type SnpVerifyOptions,
} from './verify.js';
export { amdTrustAnchors, createSnpTrustAnchor, verifySnpReport } from './verify-node.js';
