// The browser entry of @contrast-cc/attestation: the same SNP and TDX verification code as the
// Node entries (./snp, ./tdx), its signature checks and digests answered by WebCrypto
// (globalThis.crypto.subtle) instead of node:crypto. No node: imports, no Buffer: it bundles for
// browsers as is (proven by browser.test.ts) and runs in Node >= 20 too.

import type { Verifier, VerifyResult } from '@contrast-cc/core';
import { runWeb } from './common/crypto-web.js';
import {
  amdTrustAnchorsStep,
  createSnpTrustAnchorStep,
  type SnpTrustAnchor,
  type SnpTrustAnchorInput,
} from './snp/certs.js';
import type { SnpReport } from './snp/report.js';
import { type SnpVerifierOptions, snpVerifierWith } from './snp/verifier-core.js';
import { type SnpClaims, type SnpVerifyOptions, verifySnpReportStep } from './snp/verify.js';
import type { TdxQuote } from './tdx/quote.js';
import { type TdxVerifierOptions, tdxVerifierWith } from './tdx/verifier-core.js';
import {
  type TdxClaims,
  type TdxVerifyOptions,
  type TdxVerifyResult,
  verifyTdxQuoteStep,
} from './tdx/verify.js';

export type { SnpTrustAnchor, SnpTrustAnchorInput } from './snp/certs.js';
export type { SnpReferenceValues } from './snp/policy.js';
export {
  parseSnpReport,
  SNP_PRODUCT_LINES,
  type SnpProductLine,
  type SnpReport,
  snpReportToJson,
} from './snp/report.js';
export { AMD_ROOTS } from './snp/roots.js';
export { SNP_EXTRAS, type SnpVerifierOptions } from './snp/verifier-core.js';
export {
  SNP_EVIDENCE_KIND,
  type SnpClaimDetails,
  type SnpClaims,
  type SnpVerifyOptions,
} from './snp/verify.js';
export {
  COLLATERAL_FILE_NAMES,
  collateralFromExtras,
  collateralToExtras,
  type TdxCollateral,
} from './tdx/collateral.js';
export { parseTdxQuote, type TdxQuote } from './tdx/quote.js';
export type { TdxReferenceValues } from './tdx/reference-values.js';
export { INTEL_SGX_ROOT_CA_PEM } from './tdx/roots.js';
export type { TdxTcbEvaluation, TdxTcbStatus } from './tdx/tcb.js';
export type { CollateralRequest, TdxVerifierOptions } from './tdx/verifier-core.js';
export {
  createTrustAnchors,
  intelTrustAnchors,
  TDX_EVIDENCE_KIND,
  type TdxClaimDetails,
  type TdxClaims,
  type TdxTrustAnchors,
  type TdxVerifyOptions,
  type TdxVerifyResult,
} from './tdx/verify.js';

/**
 * `verifySnpReport` of `@contrast-cc/attestation/snp` with WebCrypto: the same checks, order,
 * failure codes and claims.
 * @public
 */
export function verifySnpReportAsync(
  input: Uint8Array | SnpReport,
  options: SnpVerifyOptions = {},
): Promise<VerifyResult<SnpClaims>> {
  return runWeb(verifySnpReportStep(input, options));
}

/**
 * `verifyTdxQuote` of `@contrast-cc/attestation/tdx` with WebCrypto: the same checks, order,
 * failure codes and claims.
 * @public
 */
export function verifyTdxQuoteAsync(
  input: Uint8Array | TdxQuote,
  options: TdxVerifyOptions = {},
): Promise<TdxVerifyResult> {
  return runWeb(verifyTdxQuoteStep(input, options));
}

/** `createSnpTrustAnchor` with WebCrypto (checks the ARK self-signature and the ASK/ASVK). @public */
export function createSnpTrustAnchorAsync(input: SnpTrustAnchorInput): Promise<SnpTrustAnchor> {
  return runWeb(createSnpTrustAnchorStep(input));
}

/** AMD's embedded roots (Milan, Genoa, Turin) as trust anchors, checked with WebCrypto. @public */
export function amdTrustAnchorsAsync(): Promise<SnpTrustAnchor[]> {
  return runWeb(amdTrustAnchorsStep());
}

/**
 * A `Verifier` for `snp-report` evidence with WebCrypto (as `createSnpVerifier` of `./snp`;
 * `kds` is for Node programs: a browser page gets the VCEK with the evidence).
 * @public
 */
export function createSnpVerifier(options: SnpVerifierOptions = {}): Verifier<SnpClaims> {
  return snpVerifierWith(runWeb, options);
}

/** A `Verifier` for `tdx-quote` evidence with WebCrypto (as `createTdxVerifier` of `./tdx`). @public */
export function createTdxVerifier(options: TdxVerifierOptions = {}): Verifier<TdxClaims> {
  return tdxVerifierWith(runWeb, options);
}
