import {
  bytesEqual,
  ContrastError,
  type Evidence,
  type EvidenceClaims,
  type Verifier,
  type VerifyFailure,
  verifyWithAny,
} from '@contrast-cc/core';
import { ATLS_LABELS, reportDataFor } from './binding.js';

/** Input of {@link verifyBoundEvidence}. @public */
export interface VerifyBoundEvidenceInput {
  evidence: Evidence;
  verifiers: Verifier | readonly Verifier[];
  /** The nonce the verifier chose for this exchange. */
  nonce: Uint8Array;
  /** DER SPKI of the key the evidence must bind (the peer's TLS key, a CSR key, ...). */
  publicKey: Uint8Array;
  /** The state digest the evidence binds, if any. */
  stateDigest?: Uint8Array;
  /** Must be equal to this state digest when given. */
  expectedStateDigest?: Uint8Array;
  /** Defaults to {@link ATLS_LABELS}.channel. */
  label?: string;
  /** Accept insecure (simulated) platforms. Default false. */
  allowInsecure?: boolean;
  /** Extra checks on the claims: a message rejects, undefined accepts. */
  checkClaims?: (claims: EvidenceClaims) => string | undefined;
  now?: Date;
}

/** The failure of a binding check, as a ContrastError carrying the verifier-style reason. */
export function attestationFailed(message: string, reason?: VerifyFailure): ContrastError {
  return new ContrastError('attestation-failed', message, {
    ...(reason ? { cause: reason } : {}),
    ...(reason?.field ? { field: reason.field } : {}),
  });
}

/**
 * Verifies that evidence binds (label, nonce, public key, state digest) and meets the verifiers,
 * then applies the insecure-platform, state and claim checks. Returns the claims or throws
 * `attestation-failed` whose `cause` is the reason (`{code, message, field?}`). Used by
 * {@link connectAttested}; servers use it for evidence that clients post (e.g. mesh-cert requests).
 * @public
 */
export async function verifyBoundEvidence(input: VerifyBoundEvidenceInput): Promise<EvidenceClaims> {
  const verifiers = Array.isArray(input.verifiers)
    ? (input.verifiers as readonly Verifier[])
    : [input.verifiers as Verifier];
  const reportData = await reportDataFor({
    label: input.label ?? ATLS_LABELS.channel,
    nonce: input.nonce,
    publicKey: input.publicKey,
    ...(input.stateDigest ? { stateDigest: input.stateDigest } : {}),
  });
  const result = await verifyWithAny(verifiers, input.evidence, {
    reportData,
    ...(input.now ? { now: input.now } : {}),
  });
  if (!result.ok) throw attestationFailed(`evidence rejected: ${result.reason.message}`, result.reason);
  const claims = result.claims;
  if (claims.insecure && !input.allowInsecure) {
    throw attestationFailed('the peer runs on an insecure (simulated) platform', {
      code: 'insecure-platform',
      message: 'insecure platform not allowed',
    });
  }
  if (
    input.expectedStateDigest &&
    !(input.stateDigest && bytesEqual(input.stateDigest, input.expectedStateDigest))
  ) {
    throw attestationFailed('the peer bound another state than expected', {
      code: 'field-mismatch',
      message: 'state digest mismatch',
      field: 'stateDigest',
    });
  }
  const problem = input.checkClaims?.(claims);
  if (problem !== undefined) {
    throw attestationFailed(`claims rejected: ${problem}`, { code: 'field-mismatch', message: problem });
  }
  return claims;
}
