import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { ContrastError, spkiProblem } from '@contrast-cc/core';

/** A public key as PEM (SPKI or PKCS#1), SPKI DER bytes, or a node KeyObject. @public */
export type PublicKeyInput = string | Uint8Array | KeyObject;
/** A private key as PEM (PKCS#8, SEC1 or PKCS#1) or a node KeyObject. @public */
export type PrivateKeyInput = string | KeyObject;

/** Parses a public key; a private key is accepted and reduced to its public half. */
export function toPublicKey(input: PublicKeyInput, field: string): KeyObject {
  try {
    if (typeof input === 'string') return createPublicKey(input);
    if (input instanceof Uint8Array) {
      // Checked first: an EC point at infinity imports, and node aborts on it later.
      const problem = spkiProblem(input);
      if (problem) throw new Error(problem);
      return createPublicKey({ key: Buffer.from(input), format: 'der', type: 'spki' });
    }
    return input.type === 'public' ? input : createPublicKey(input);
  } catch (cause) {
    throw new ContrastError('invalid-argument', 'not a valid public key (PEM, SPKI DER or KeyObject)', {
      field,
      cause: scrubCause(cause),
    });
  }
}

/** Parses a private key. The error never echoes the input. */
export function toPrivateKey(input: PrivateKeyInput, field: string): KeyObject {
  try {
    if (typeof input === 'string') return createPrivateKey(input);
    if (input.type !== 'private') throw new Error('not a private key');
    return input;
  } catch (cause) {
    throw new ContrastError('invalid-argument', 'not a valid private key (PEM or KeyObject)', {
      field,
      cause: scrubCause(cause),
    });
  }
}

/** SPKI DER of a public key. @public */
export function spkiDer(key: PublicKeyInput): Uint8Array {
  return new Uint8Array(toPublicKey(key, 'publicKey').export({ type: 'spki', format: 'der' }));
}

/**
 * Keeps only the message of a foreign error (OpenSSL errors never include key material, but a
 * cause object could carry the input along in custom properties).
 */
export function scrubCause(cause: unknown): Error {
  return new Error(cause instanceof Error ? cause.message : 'unknown error');
}
