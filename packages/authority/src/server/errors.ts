import { type ApiErrorBody, type ApiErrorCode, toApiError } from '@contrast-cc/api';
import { AuthorityError, type AuthorityErrorKind } from '../errors.js';

/**
 * How each refusal of the Authority goes on the wire: the HTTP status and the API error code. The
 * one place where domain errors meet HTTP (the statuses are those of `API_ERROR_STATUS` for the
 * code; a test keeps them equal).
 * @public
 */
export const AUTHORITY_ERROR_WIRE: Readonly<
  Record<AuthorityErrorKind, { status: number; code: ApiErrorCode }>
> = Object.freeze({
  'invalid-request': { status: 400, code: 'invalid_argument' },
  'challenge-required': { status: 401, code: 'challenge_required' },
  'invalid-signature': { status: 403, code: 'invalid_signature' },
  'permission-denied': { status: 403, code: 'permission_denied' },
  'attestation-failed': { status: 403, code: 'attestation_failed' },
  'no-manifest': { status: 412, code: 'no_manifest' },
  'needs-recovery': { status: 412, code: 'needs_recovery' },
  'already-recovered': { status: 412, code: 'already_recovered' },
  'manifest-conflict': { status: 412, code: 'manifest_conflict' },
});

/**
 * The answer to anything a handler threw: an {@link AuthorityError} by the table above; anything
 * else as `toApiError` maps it (wire-coded HTTP-level errors, library codes; internal errors keep
 * their message out of the answer).
 */
export function toWireError(error: unknown): { status: number; body: ApiErrorBody } {
  if (!(error instanceof AuthorityError)) return toApiError(error);
  const { status, code } = AUTHORITY_ERROR_WIRE[error.kind];
  const body: ApiErrorBody = { version: 'v1', code, error: error.message };
  if (error.field !== undefined) body.field = error.field;
  return { status, body };
}
