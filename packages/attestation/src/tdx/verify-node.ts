// The Node entry point of TDX verification: the crypto steps of verify.ts answered synchronously
// by node:crypto.

import type { PublicKeyInfo } from '../common/crypto.js';
import { runNode } from '../common/crypto-node.js';
import type { TdxQuote } from './quote.js';
import { ecdsaP256Step, type TdxVerifyOptions, type TdxVerifyResult, verifyTdxQuoteStep } from './verify.js';

export { rsToDer } from '../common/crypto-node.js';

/**
 * Verifies a TDX quote: PCK chain to a trust anchor, QE report signature, attestation-key binding,
 * quote signature; with collateral the CRLs, TCB info and QE identity (signatures over the exact
 * received bytes, issuer chains, validity) and Intel's TCB status; then the reference values and
 * REPORT_DATA. Never throws for bad evidence; throws `invalid-argument` for malformed options.
 * Synchronous (node:crypto); `verifyTdxQuoteAsync` runs the same checks with WebCrypto.
 */
export function verifyTdxQuote(
  input: Uint8Array | TdxQuote,
  options: TdxVerifyOptions = {},
): TdxVerifyResult {
  return runNode(verifyTdxQuoteStep(input, options));
}

/** ECDSA P-256 / SHA-256 check of an r||s signature (as in quotes and PCS JSON). */
export function ecdsaP256Ok(key: PublicKeyInfo, data: Uint8Array, rs: Uint8Array): boolean {
  return runNode(ecdsaP256Step(key, data, rs));
}
