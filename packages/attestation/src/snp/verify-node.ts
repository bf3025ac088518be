// The Node entry points of SNP verification: the crypto steps of verify.ts and certs.ts answered
// synchronously by node:crypto.

import type { VerifyResult } from '@contrast-cc/core';
import { runNode } from '../common/crypto-node.js';
import type { ParsedCertificate } from '../common/x509.js';
import {
  amdTrustAnchorsStep,
  buildSnpChainStep,
  type ChainFailure,
  createSnpTrustAnchorStep,
  type SnpTrustAnchor,
  type SnpTrustAnchorInput,
  type VerifiedChain,
} from './certs.js';
import type { SnpProductLine, SnpReport } from './report.js';
import { type SnpClaims, type SnpVerifyOptions, verifySnpReportStep } from './verify.js';

/**
 * Verifies a raw SNP report (or one parsed before: only its `raw` bytes are used) completely:
 * chain, signature, validity at `now`, optional CRL, VCEK binding, REPORT_DATA and reference
 * values. Never throws for bad evidence (returns a failure with a code and field); throws
 * `invalid-argument` for malformed reference values or trust anchors (misuse). Synchronous
 * (node:crypto); `verifySnpReportAsync` runs the same checks with WebCrypto.
 * @public
 */
export function verifySnpReport(
  input: Uint8Array | SnpReport,
  options: SnpVerifyOptions = {},
): VerifyResult<SnpClaims> {
  return runNode(verifySnpReportStep(input, options));
}

/**
 * Builds a trust anchor; the ARK must be self-signed and the ASK/ASVK signed by it. Anchors whose
 * ARK is not one of AMD's embedded roots are marked insecure.
 * @public
 */
export function createSnpTrustAnchor(input: SnpTrustAnchorInput): SnpTrustAnchor {
  return runNode(createSnpTrustAnchorStep(input));
}

/** AMD's embedded roots (Milan, Genoa, Turin) as trust anchors: the verifier's default. @public */
export function amdTrustAnchors(): SnpTrustAnchor[] {
  return runNode(amdTrustAnchorsStep());
}

/** See `buildSnpChainStep`. */
export function buildSnpChain(
  leaf: ParsedCertificate,
  supplied: ParsedCertificate[],
  anchors: SnpTrustAnchor[],
  signingKey: 'vcek' | 'vlek',
  product: SnpProductLine | undefined,
): VerifiedChain | ChainFailure {
  return runNode(buildSnpChainStep(leaf, supplied, anchors, signingKey, product));
}
