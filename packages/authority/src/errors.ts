import { ContrastError, type ContrastErrorCode } from '@contrast-cc/core';

/**
 * Why the Authority refused a request. The Authority speaks only these; the HTTP server maps each
 * to a status and wire code in one table (`server/errors.ts`), other callers branch on `kind`.
 * @public
 */
export const AUTHORITY_ERROR_KINDS = [
  /** A request field is malformed (e.g. not a DER SubjectPublicKeyInfo, a missing policy document). */
  'invalid-request',
  /** The nonce is unknown, used or expired: ask for a new challenge. */
  'challenge-required',
  /** No manifest has been set: nothing to serve or recover. */
  'no-manifest',
  /** The store has a history but this replica holds no secrets (stale): recover first. */
  'needs-recovery',
  /** Recovery asked of a replica that is active. */
  'already-recovered',
  /** The store moved under the request (concurrent update, `--atomic` mismatch): read and retry. */
  'manifest-conflict',
  /** A workload owner's or seed-share owner's signature is missing or does not verify. */
  'invalid-signature',
  /** Authenticated, but not allowed (no owners, changed seed-share owners, foreign policy, secrets that do not match the history, an active peer without `force`). */
  'permission-denied',
  /** The evidence was refused by the manifest's verifiers (or is from an insecure platform). */
  'attestation-failed',
] as const;

/** @public */
export type AuthorityErrorKind = (typeof AUTHORITY_ERROR_KINDS)[number];

/** The library code of each kind (for callers that only look at `ContrastError.code`). */
const CONTRAST_CODE: Readonly<Record<AuthorityErrorKind, ContrastErrorCode>> = {
  'invalid-request': 'invalid-argument',
  'challenge-required': 'permission-denied',
  'no-manifest': 'precondition-failed',
  'needs-recovery': 'precondition-failed',
  'already-recovered': 'precondition-failed',
  'manifest-conflict': 'conflict',
  'invalid-signature': 'permission-denied',
  'permission-denied': 'permission-denied',
  'attestation-failed': 'attestation-failed',
};

/**
 * A refusal by the Authority: a `ContrastError` (code from the table above, `field` naming the
 * request field) with the Authority's own `kind`.
 * @public
 */
export class AuthorityError extends ContrastError {
  readonly kind: AuthorityErrorKind;

  constructor(kind: AuthorityErrorKind, message: string, options: { field?: string; cause?: unknown } = {}) {
    super(CONTRAST_CODE[kind], message, options);
    this.name = 'AuthorityError';
    this.kind = kind;
  }
}

/** Whether `e` is an {@link AuthorityError}, optionally of one of `kinds`. @public */
export function isAuthorityError(e: unknown, ...kinds: AuthorityErrorKind[]): e is AuthorityError {
  return e instanceof AuthorityError && (kinds.length === 0 || kinds.includes(e.kind));
}
