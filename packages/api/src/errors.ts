import { ContrastError, type ContrastErrorCode, isContrastError } from '@contrast-cc/core';
import { z } from 'zod';

/**
 * The error codes of the Coordinator API (upstream `apitypes.APIError` codes plus the ones this
 * implementation needs for its challenge flow). Clients branch on `code`, never on messages.
 * @public
 */
export const API_ERROR_CODES = [
  'invalid_argument',
  'unsupported_media_type',
  'payload_too_large',
  'not_found',
  'method_not_allowed',
  /** A nonce challenge is required (or the nonce is unknown, used or expired): retry with the new one. */
  'challenge_required',
  'invalid_signature',
  'permission_denied',
  'attestation_failed',
  'api_version_too_old',
  'no_manifest',
  'needs_recovery',
  'already_recovered',
  'manifest_conflict',
  'unavailable',
  'internal',
] as const;

/** @public */
export type ApiErrorCode = (typeof API_ERROR_CODES)[number];

/** The HTTP status of each code (upstream: InvalidArgument 400, PermissionDenied 403, FailedPrecondition 412). @public */
export const API_ERROR_STATUS: Readonly<Record<ApiErrorCode, number>> = Object.freeze({
  invalid_argument: 400,
  unsupported_media_type: 415,
  payload_too_large: 413,
  not_found: 404,
  method_not_allowed: 405,
  challenge_required: 401,
  invalid_signature: 403,
  permission_denied: 403,
  attestation_failed: 403,
  api_version_too_old: 403,
  no_manifest: 412,
  needs_recovery: 412,
  already_recovered: 412,
  manifest_conflict: 412,
  unavailable: 503,
  internal: 500,
});

/** The error body of every non-2xx answer. @public */
export const ApiErrorBodySchema = z.object({
  version: z.literal('v1'),
  code: z.enum(API_ERROR_CODES),
  error: z.string(),
  field: z.string().optional(),
  /** base64 of a fresh nonce, with `challenge_required`. */
  nonce: z.string().optional(),
});

/** @public */
export type ApiErrorBody = z.infer<typeof ApiErrorBodySchema>;

const TO_CONTRAST: Record<ApiErrorCode, ContrastErrorCode> = {
  invalid_argument: 'invalid-argument',
  unsupported_media_type: 'invalid-argument',
  payload_too_large: 'invalid-argument',
  not_found: 'not-found',
  method_not_allowed: 'invalid-argument',
  challenge_required: 'permission-denied',
  invalid_signature: 'permission-denied',
  permission_denied: 'permission-denied',
  attestation_failed: 'attestation-failed',
  api_version_too_old: 'permission-denied',
  no_manifest: 'precondition-failed',
  needs_recovery: 'precondition-failed',
  already_recovered: 'precondition-failed',
  manifest_conflict: 'conflict',
  unavailable: 'unavailable',
  internal: 'internal',
};

/**
 * An error a Coordinator answered with, on the client side: a ContrastError whose `code` is the
 * closest library code, with the wire code and HTTP status kept.
 * @public
 */
export class ApiError extends ContrastError {
  readonly apiCode: ApiErrorCode;
  readonly status: number;
  readonly nonce: string | undefined;

  constructor(body: ApiErrorBody, status: number) {
    super(TO_CONTRAST[body.code], body.error, body.field === undefined ? {} : { field: body.field });
    this.name = 'ApiError';
    this.apiCode = body.code;
    this.status = status;
    this.nonce = body.nonce;
  }
}

/**
 * A ContrastError the server side raises with an explicit API code (when the library code alone
 * is ambiguous, e.g. `precondition-failed` is both `no_manifest` and `needs_recovery`).
 * @public
 */
export function apiFailure(
  apiCode: ApiErrorCode,
  message: string,
  options: { field?: string; cause?: unknown } = {},
): ContrastError {
  const err = new ContrastError(TO_CONTRAST[apiCode], message, options);
  (err as ContrastError & { apiCode?: ApiErrorCode }).apiCode = apiCode;
  return err;
}

const FROM_CONTRAST: Record<ContrastErrorCode, ApiErrorCode> = {
  'invalid-argument': 'invalid_argument',
  'validation-failed': 'invalid_argument',
  'invalid-platform': 'invalid_argument',
  'platform-not-found': 'invalid_argument',
  'duplicate-platform': 'internal',
  'unsupported-api-version': 'internal',
  'attestation-failed': 'attestation_failed',
  'not-found': 'not_found',
  conflict: 'manifest_conflict',
  'permission-denied': 'permission_denied',
  'precondition-failed': 'no_manifest',
  unavailable: 'unavailable',
  'io-error': 'internal',
  internal: 'internal',
};

/**
 * Maps anything thrown by a handler to the wire error and status. Internal errors keep their
 * message out of the answer (it may name files or carry details); the caller logs them.
 * @public
 */
export function toApiError(error: unknown): { status: number; body: ApiErrorBody } {
  if (!isContrastError(error)) {
    return { status: 500, body: { version: 'v1', code: 'internal', error: 'internal error' } };
  }
  const explicit = (error as ContrastError & { apiCode?: ApiErrorCode }).apiCode;
  const code = explicit ?? FROM_CONTRAST[error.code];
  const body: ApiErrorBody = {
    version: 'v1',
    code,
    error: code === 'internal' ? 'internal error' : error.message,
  };
  if (error.field !== undefined && code !== 'internal') body.field = error.field;
  return { status: API_ERROR_STATUS[code], body };
}

/**
 * Server side: parses a request body with its schema; throws `invalid_argument` naming the first
 * invalid field.
 * @public
 */
export function parseRequest<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue?.path.map(String).join('.') ?? '';
  throw apiFailure('invalid_argument', `${field || 'body'}: ${issue?.message ?? 'invalid'}`, { field });
}
