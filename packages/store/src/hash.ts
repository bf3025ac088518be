import { createHash } from 'node:crypto';
import { ContrastError, fromHex, toHex } from '@contrast-cc/core';
import type { BlobKind, SignedLatest } from './types.js';

/** Length of a sha256 digest in bytes. */
export const HASH_LENGTH = 32;

const HASH_HEX = /^[0-9a-f]{64}$/;

/** Lower-case hex sha256 of `bytes`. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Throws `invalid-argument` naming `field` unless `hash` is 64 lower-case hex digits. */
export function assertHash(hash: unknown, field: string): asserts hash is string {
  if (typeof hash !== 'string' || !HASH_HEX.test(hash)) {
    throw new ContrastError('invalid-argument', 'expected a sha256 hash as 64 lower-case hex digits', {
      field,
    });
  }
}

/** Throws `invalid-argument` unless `kind` is a blob kind. */
export function assertKind(kind: unknown): asserts kind is BlobKind {
  if (kind !== 'manifest' && kind !== 'policy' && kind !== 'transition') {
    throw new ContrastError('invalid-argument', `unknown blob kind ${JSON.stringify(kind)}`, {
      field: 'kind',
    });
  }
}

/** Throws `invalid-argument` unless `bytes` is a Uint8Array. */
export function assertBytes(bytes: unknown, field: string): asserts bytes is Uint8Array {
  if (!(bytes instanceof Uint8Array)) {
    throw new ContrastError('invalid-argument', 'expected bytes (Uint8Array)', { field });
  }
}

const INTEGRITY = Symbol.for('@contrast-cc/store/integrity');

/**
 * An error about what the store holds (a blob that does not match its hash, a referenced blob
 * that is missing, a malformed stored pointer or transition): the server's problem, never the
 * caller's input. The code stays `validation-failed` / `not-found`; {@link isStoreIntegrityError}
 * tells it apart from an error about input.
 * @public
 */
export function storeIntegrityError(
  code: 'validation-failed' | 'not-found',
  message: string,
  field: string,
): ContrastError {
  const e = new ContrastError(code, message, { field });
  Object.defineProperty(e, INTEGRITY, { value: true });
  return e;
}

/** Whether `e` came from {@link storeIntegrityError}. @public */
export function isStoreIntegrityError(e: unknown): e is ContrastError {
  return typeof e === 'object' && e !== null && (e as Record<symbol, unknown>)[INTEGRITY] === true;
}

/**
 * Re-hashes blob content read from a backend; throws `validation-failed` naming the blob when the
 * content does not match its name.
 */
export function checkBlob(kind: BlobKind, hash: string, bytes: Uint8Array): Uint8Array {
  const actual = sha256Hex(bytes);
  if (actual !== hash) {
    throw storeIntegrityError(
      'validation-failed',
      `stored ${kind} does not match its hash (content hashes to ${actual}): the store is corrupted`,
      `${kind}/${hash}`,
    );
  }
  return bytes;
}

/** Checks a SignedLatest value given by a caller. */
export function assertSignedLatest(value: unknown): asserts value is SignedLatest {
  if (typeof value !== 'object' || value === null) {
    throw new ContrastError('invalid-argument', 'expected { transitionHash, signature }', {
      field: 'latest',
    });
  }
  const v = value as Partial<SignedLatest>;
  assertHash(v.transitionHash, 'latest.transitionHash');
  assertBytes(v.signature, 'latest.signature');
  if (v.signature.length === 0) {
    throw new ContrastError('invalid-argument', 'the latest pointer must be signed', {
      field: 'latest.signature',
    });
  }
}

/**
 * The wire/storage form of the latest pointer, as upstream stores `transitions/latest`:
 * transition hash (32 bytes) || signature.
 */
export function encodeSignedLatest(value: SignedLatest): Uint8Array {
  const hash = fromHex(value.transitionHash, { length: HASH_LENGTH, field: 'latest.transitionHash' });
  const out = new Uint8Array(HASH_LENGTH + value.signature.length);
  out.set(hash, 0);
  out.set(value.signature, HASH_LENGTH);
  return out;
}

/** Parses the stored form of the latest pointer; throws `validation-failed` naming `field`. */
export function decodeSignedLatest(bytes: Uint8Array, field: string): SignedLatest {
  if (bytes.length <= HASH_LENGTH) {
    throw storeIntegrityError(
      'validation-failed',
      `the latest pointer is ${bytes.length} bytes; expected a 32-byte hash and a signature`,
      field,
    );
  }
  return {
    transitionHash: toHex(bytes.subarray(0, HASH_LENGTH)),
    signature: bytes.slice(HASH_LENGTH),
  };
}
