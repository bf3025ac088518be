// Synchronous forms of the x509.ts signature checks, answered by node:crypto.

import type { PublicKeyInfo } from './crypto.js';
import { runNode } from './crypto-node.js';
import type { DerNode } from './der.js';
import {
  checkRevocationStep,
  type ParsedCertificate,
  type ParsedCrl,
  type RevocationResult,
  signedByStep,
  verifyWithAlgorithmStep,
} from './x509.js';

/** See {@link verifyWithAlgorithmStep}. */
export function verifyWithAlgorithm(
  algorithm: DerNode,
  data: Uint8Array,
  signature: Uint8Array,
  key: PublicKeyInfo,
): boolean {
  return runNode(verifyWithAlgorithmStep(algorithm, data, signature, key));
}

/** See {@link signedByStep}. */
export function verifySignedBy(child: ParsedCertificate, issuer: ParsedCertificate): boolean {
  return runNode(signedByStep(child, issuer));
}

/** See {@link checkRevocationStep}. */
export function checkRevocation(
  cert: ParsedCertificate,
  crl: ParsedCrl,
  crlIssuer: ParsedCertificate,
  now: Date,
): RevocationResult {
  return runNode(checkRevocationStep(cert, crl, crlIssuer, now));
}
