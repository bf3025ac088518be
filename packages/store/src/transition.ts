import { fromHex, toHex } from '@contrast-cc/core';
import { HASH_LENGTH, sha256Hex, storeIntegrityError } from './hash.js';

/**
 * One step of the history: the manifest it sets and the transition it follows.
 * The first transition follows {@link ZERO_HASH}.
 * @public
 */
export interface Transition {
  /** Lower-case hex sha256 of the manifest bytes. */
  manifestHash: string;
  /** Lower-case hex hash of the previous transition, or ZERO_HASH for the first. */
  previousTransitionHash: string;
}

/** 32 zero bytes in hex: the "previous transition" of the first transition. @public */
export const ZERO_HASH = '0'.repeat(2 * HASH_LENGTH);

/** A transition's stored form: manifestHash (32 bytes) || previousTransitionHash (32 bytes). */
export function encodeTransition(t: Transition): Uint8Array {
  const out = new Uint8Array(2 * HASH_LENGTH);
  out.set(fromHex(t.manifestHash, { length: HASH_LENGTH, field: 'transition.manifestHash' }), 0);
  out.set(
    fromHex(t.previousTransitionHash, { length: HASH_LENGTH, field: 'transition.previousTransitionHash' }),
    HASH_LENGTH,
  );
  return out;
}

/** Parses the 64-byte stored form; throws `validation-failed` naming `field`. */
export function decodeTransition(bytes: Uint8Array, field: string): Transition {
  if (bytes.length !== 2 * HASH_LENGTH) {
    throw storeIntegrityError('validation-failed', `a transition is 64 bytes, got ${bytes.length}`, field);
  }
  return {
    manifestHash: toHex(bytes.subarray(0, HASH_LENGTH)),
    previousTransitionHash: toHex(bytes.subarray(HASH_LENGTH)),
  };
}

/**
 * The transition hash: sha256(manifestHash || previousTransitionHash) over the raw 32-byte values,
 * which is also the content address of the stored transition. packages/certs implements the
 * same function for the attestation binding; both must agree (tested against a fixed vector).
 */
export function transitionHash(t: Transition): string {
  return sha256Hex(encodeTransition(t));
}
