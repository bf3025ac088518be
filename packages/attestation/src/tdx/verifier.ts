import type { Verifier } from '@contrast-cc/core';
import { runNode } from '../common/crypto-node.js';
import { type TdxVerifierOptions, tdxVerifierWith } from './verifier-core.js';
import type { TdxClaims } from './verify.js';

export { type CollateralRequest, collateralRequestOf, type TdxVerifierOptions } from './verifier-core.js';

/** The core Verifier for evidence kind `tdx-quote`. Reference values are validated here (throws). */
export function createTdxVerifier(options: TdxVerifierOptions = {}): Verifier<TdxClaims> {
  return tdxVerifierWith(runNode, options);
}
