/**
 * Every error code a Contrast library may throw. Callers branch on `code`, never on messages.
 * @public
 */
export const CONTRAST_ERROR_CODES = [
  /** A caller passed something malformed (a flag, a file, a wire message). */
  'invalid-argument',
  /** A document failed schema or rule validation; `field` names the path. */
  'validation-failed',
  /** A platform descriptor breaks the plugin contract. */
  'invalid-platform',
  /** No platform with that id or alias is registered. */
  'platform-not-found',
  /** Two registered platforms share an id or alias. */
  'duplicate-platform',
  /** A platform was built against a plugin contract version this core does not know. */
  'unsupported-api-version',
  /** Evidence did not verify; `cause` carries the verifier's reason. */
  'attestation-failed',
  /** Something looked up does not exist (a file, a history entry). */
  'not-found',
  /** A compare-and-swap lost, or a state precondition does not hold. */
  'conflict',
  /** The caller is not authorized (missing or wrong signature, unknown key). */
  'permission-denied',
  /** The operation needs a state the system is not in (e.g. not initialized, stale). */
  'precondition-failed',
  /** A remote service or resource is not reachable right now. */
  'unavailable',
  /** Reading or writing a file or socket failed. */
  'io-error',
  /** A bug: an invariant of our own code does not hold. */
  'internal',
] as const;

/** @public */
export type ContrastErrorCode = (typeof CONTRAST_ERROR_CODES)[number];

const BRAND = Symbol.for('@contrast-cc/ContrastError');

/** @public */
export interface ContrastErrorOptions {
  /** The underlying error (ES2022 `cause`). */
  cause?: unknown;
  /** A field path inside the input, e.g. `ReferenceValues.snp[0].MinimumTCB`. */
  field?: string;
  /** The file the input came from, when there is one. */
  file?: string;
}

/**
 * The one error type of Contrast libraries. Identify it with {@link isContrastError}, not
 * `instanceof`, so two copies of `@contrast-cc/core` in one program still agree.
 * @public
 */
export class ContrastError extends Error {
  readonly code: ContrastErrorCode;
  readonly field: string | undefined;
  readonly file: string | undefined;
  readonly [BRAND] = true;

  constructor(code: ContrastErrorCode, message: string, options: ContrastErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ContrastError';
    this.code = code;
    this.field = options.field;
    this.file = options.file;
  }

  /** The message with file and field, as a person should see it. */
  describe(): string {
    const where = [this.file, this.field].filter(Boolean).join(': ');
    return where ? `${where}: ${this.message}` : this.message;
  }
}

/** @public */
export function isContrastError(value: unknown): value is ContrastError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
}

/**
 * Normalizes anything thrown into a ContrastError. Foreign errors become `internal` (or the
 * given fallback code) with the original as `cause`.
 * @public
 */
export function toContrastError(value: unknown, fallback: ContrastErrorCode = 'internal'): ContrastError {
  if (isContrastError(value)) return value;
  const message = value instanceof Error ? value.message : String(value);
  return new ContrastError(fallback, message, { cause: value });
}
