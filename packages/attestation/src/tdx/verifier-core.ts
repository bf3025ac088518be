// Browser-safe: no node: imports (the Node entry, verifier.ts, runs it with node:crypto).

import {
  type Evidence,
  isContrastError,
  type Logger,
  noopLogger,
  toHex,
  type Verifier,
  type VerifyExpectations,
  verifyFail,
} from '@contrast-cc/core';
import type { CryptoRunner } from '../common/crypto.js';
import { loadCertificates } from '../common/x509.js';
import { collateralFromExtras, type TdxCollateral } from './collateral.js';
import { parsePckExtensions, SGX_EXTENSIONS_OID } from './pck.js';
import { parseTdxQuote, type TdxQuote, trailingBytesFailure } from './quote.js';
import { compileReferenceValues, type TdxReferenceValues } from './reference-values.js';
import type { TdxTcbStatus } from './tcb.js';
import {
  intelTrustAnchors,
  TDX_EVIDENCE_KIND,
  type TdxClaims,
  type TdxTrustAnchors,
  type TdxVerifyResult,
  verifyTdxQuoteStep,
} from './verify.js';

/** What a collateral source is asked for: the platform's FMSPC and which PCK CA issued it. */
export interface CollateralRequest {
  fmspc: string;
  ca: 'platform' | 'processor';
  /** Ask PCS for TCB info at this evaluation data number (reference value MinTCBEvaluationDataNumber). */
  tcbEvaluationDataNumber?: number;
}

export interface TdxVerifierOptions {
  referenceValues?: TdxReferenceValues;
  trustAnchors?: TdxTrustAnchors;
  /**
   * Collateral used when the evidence carries none in `extras` (by PCS file names): fixed
   * collateral, or a source such as `PcsClient.getCollateral`.
   */
  collateral?: TdxCollateral | ((request: CollateralRequest) => Promise<TdxCollateral | undefined>);
  acceptedTcbStatuses?: readonly TdxTcbStatus[];
  requireCollateral?: boolean;
  /** Allowed MRCONFIGID[0:32] digests (hex); absent = any (the caller checks `policyDigest`). */
  policyDigests?: readonly string[];
  /**
   * Accept (and ignore) bytes after the quote's declared signature data. Default false: the
   * evidence blob is the quote exactly, so no unsigned byte can ride along unnoticed.
   */
  allowTrailingBytes?: boolean;
  logger?: Logger;
  now?: () => Date;
}

/** FMSPC and PCK CA kind of a quote (from its PCK certificate), to fetch collateral. */
export function collateralRequestOf(quote: TdxQuote): CollateralRequest {
  const [leaf, intermediate] = loadCertificates(quote.signatureData.pckChainPem, 'pck_cert_chain');
  const ext = leaf?.extensions.get(SGX_EXTENSIONS_OID)?.value;
  if (!ext) throw new Error('PCK certificate has no SGX extensions');
  const pck = parsePckExtensions(ext);
  // "Intel SGX PCK Platform CA" or "Intel SGX PCK Processor CA".
  const ca = intermediate?.subjectCommonName.includes('Processor') ? 'processor' : 'platform';
  return { fmspc: toHex(pck.fmspc), ca };
}

/**
 * The core Verifier for evidence kind `tdx-quote`, its crypto answered by `run` (node:crypto in
 * the Node entry, WebCrypto in the browser entry). Reference values are validated here (throws).
 */
export function tdxVerifierWith(run: CryptoRunner, options: TdxVerifierOptions = {}): Verifier<TdxClaims> {
  if (options.referenceValues) compileReferenceValues(options.referenceValues);
  const logger = (options.logger ?? noopLogger).child({ component: 'tdx-verifier' });
  const anchors = options.trustAnchors ?? intelTrustAnchors();
  return {
    kinds: [TDX_EVIDENCE_KIND],
    async verify(evidence: Evidence, expected: VerifyExpectations): Promise<TdxVerifyResult> {
      if (evidence.kind !== TDX_EVIDENCE_KIND) {
        return verifyFail('unsupported-evidence-kind', `not a TDX quote: "${evidence.kind}"`, 'kind');
      }
      let quote: TdxQuote;
      try {
        quote = parseTdxQuote(evidence.data);
      } catch (e) {
        if (isContrastError(e)) return verifyFail('malformed', e.message, e.field ?? 'quote');
        throw e;
      }
      const trailing = trailingBytesFailure(quote, options.allowTrailingBytes);
      if (trailing) return { ok: false, reason: trailing };
      let collateral = collateralFromExtras(evidence.extras);
      if (!collateral && typeof options.collateral === 'function') {
        let request: CollateralRequest;
        try {
          request = collateralRequestOf(quote);
          const min = options.referenceValues?.MinTCBEvaluationDataNumber;
          if (min !== undefined && min > 0) request.tcbEvaluationDataNumber = min;
        } catch (e) {
          return verifyFail('malformed', e instanceof Error ? e.message : String(e), 'pck_certificate');
        }
        try {
          collateral = await options.collateral(request);
        } catch (e) {
          // A configured source that fails refuses the evidence: it is never verified without
          // the TCB checks the operator asked for. Transient; the caller may retry.
          const message = e instanceof Error ? e.message : String(e);
          logger.warn('cannot fetch TDX collateral', { fmspc: request.fmspc, error: message });
          return verifyFail(
            'collateral-unavailable',
            `could not get TDX collateral (FMSPC ${request.fmspc}, ${request.ca} CA): ${message}`,
            'collateral',
          );
        }
      } else if (!collateral && options.collateral) {
        collateral = options.collateral as TdxCollateral;
      }
      return run(
        verifyTdxQuoteStep(quote, {
          ...(collateral ? { collateral } : {}),
          ...(options.referenceValues ? { referenceValues: options.referenceValues } : {}),
          ...(options.acceptedTcbStatuses ? { acceptedTcbStatuses: options.acceptedTcbStatuses } : {}),
          ...(options.policyDigests ? { policyDigests: options.policyDigests } : {}),
          requireCollateral: options.requireCollateral === true,
          ...(options.allowTrailingBytes ? { allowTrailingBytes: true } : {}),
          reportData: expected.reportData,
          now: expected.now ?? options.now?.() ?? new Date(),
          trustAnchors: anchors,
          logger,
        }),
      );
    },
  };
}
