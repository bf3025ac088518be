import { createHash, sign, verify } from 'node:crypto';
import { bytesEqual, ContrastError, concatBytes, toHex } from '@contrast-cc/core';
import { decodeSignatureDer, encodeSignatureDer, signDigestP384, verifyDigestP384 } from './ecdsa.js';
import { type PrivateKeyInput, type PublicKeyInput, toPrivateKey, toPublicKey } from './keys.js';

/** Size of every hash in the history (SHA-256). @public */
export const HASH_LENGTH = 32;
/** The previous-transition hash of the first manifest: 32 zero bytes. @public */
export const ZERO_TRANSITION_HASH: Uint8Array = new Uint8Array(HASH_LENGTH);

const sha256 = (data: Uint8Array) => new Uint8Array(createHash('sha256').update(data).digest());

function hash32(value: Uint8Array, field: string): Uint8Array {
  if (!(value instanceof Uint8Array) || value.length !== HASH_LENGTH) {
    throw new ContrastError('invalid-argument', `must be ${HASH_LENGTH} bytes`, { field });
  }
  return value;
}

/** `sha256(manifestBytes)`, the manifest's content address. @public */
export function manifestHash(manifestBytes: Uint8Array): Uint8Array {
  return sha256(manifestBytes);
}

/** A transition from the previous state to a manifest. @public */
export interface Transition {
  manifestHash: Uint8Array;
  previousTransitionHash: Uint8Array;
}

/** The stored form of a transition: `manifestHash(32) || previousTransitionHash(32)`. @public */
export function encodeTransition(t: Transition): Uint8Array {
  return concatBytes(
    hash32(t.manifestHash, 'manifestHash'),
    hash32(t.previousTransitionHash, 'previousTransitionHash'),
  );
}

/** Parses the 64-byte stored form. @public */
export function decodeTransition(bytes: Uint8Array): Transition {
  if (bytes.length !== 2 * HASH_LENGTH) {
    throw new ContrastError(
      'invalid-argument',
      `a transition is ${2 * HASH_LENGTH} bytes, got ${bytes.length}`,
      {
        field: 'transition',
      },
    );
  }
  return { manifestHash: bytes.slice(0, HASH_LENGTH), previousTransitionHash: bytes.slice(HASH_LENGTH) };
}

/** `sha256(manifestHash || previousTransitionHash)`: the link of the hash chain. @public */
export function transitionHash(
  manifestHashValue: Uint8Array,
  previousTransitionHash: Uint8Array,
): Uint8Array {
  return sha256(
    encodeTransition({ manifestHash: manifestHashValue, previousTransitionHash: previousTransitionHash }),
  );
}

/** The latest transition as the Coordinator signs it. @public */
export interface LatestTransition {
  transitionHash: Uint8Array;
  /**
   * ECDSA with the P-384 transaction signing key where the 32-byte transition hash itself is the
   * hash value (no further hashing), ASN.1 DER — upstream's `ecdsa.SignASN1(key, hash)`.
   */
  signature: Uint8Array;
}

/**
 * Signs the latest transition with the transaction signing key (P-384), upstream-compatible. The
 * nonce follows RFC 6979 (HMAC-SHA-384), so the same key and hash give the same signature.
 * @public
 */
export function signLatestTransition(
  hash: Uint8Array,
  transactionSigningKey: PrivateKeyInput,
): LatestTransition {
  const key = toPrivateKey(transactionSigningKey, 'transactionSigningKey');
  if (key.asymmetricKeyDetails?.namedCurve !== 'secp384r1') {
    throw new ContrastError('invalid-argument', 'the transaction signing key must be a P-384 key', {
      field: 'transactionSigningKey',
    });
  }
  const signature = encodeSignatureDer(signDigestP384(key, hash32(hash, 'transitionHash'), true));
  return { transitionHash: hash.slice(), signature };
}

/** True iff the signature over the latest transition is valid for the given public key. @public */
export function verifyLatestTransition(
  latest: LatestTransition,
  transactionSigningPublicKey: PublicKeyInput,
): boolean {
  const key = toPublicKey(transactionSigningPublicKey, 'transactionSigningPublicKey');
  if (latest.transitionHash.length !== HASH_LENGTH) return false;
  const sig = decodeSignatureDer(latest.signature);
  if (!sig) return false;
  return verifyDigestP384(key, latest.transitionHash, sig.r, sig.s);
}

/** Stored form of the latest transition: `transitionHash(32) || signature`. @public */
export function encodeLatestTransition(latest: LatestTransition): Uint8Array {
  return concatBytes(hash32(latest.transitionHash, 'transitionHash'), latest.signature);
}

/** Parses the stored form (without verifying it). @public */
export function decodeLatestTransition(bytes: Uint8Array): LatestTransition {
  if (bytes.length <= HASH_LENGTH) {
    throw new ContrastError('invalid-argument', 'latest transition is too short', {
      field: 'latestTransition',
    });
  }
  return { transitionHash: bytes.slice(0, HASH_LENGTH), signature: bytes.slice(HASH_LENGTH) };
}

/**
 * The bytes a workload owner signs for a transition: the lower-case hex of the transition hash as
 * ASCII (64 bytes, no newline) — the content of the file `contrast sign --prepare` writes.
 * @public
 */
export function ownerSignedMessage(hash: Uint8Array): Uint8Array {
  return new TextEncoder().encode(toHex(hash32(hash, 'transitionHash')));
}

/**
 * A workload-owner signature over a transition: the owner's key signs SHA-256 of
 * {@link ownerSignedMessage} (ECDSA as ASN.1 DER, RSA as PKCS#1 v1.5), exactly what
 * `openssl dgst -sha256 -sign owner.pem -out transition.sig next-transition` produces.
 * @public
 */
export function signTransitionAsOwner(hash: Uint8Array, ownerPrivateKey: PrivateKeyInput): Uint8Array {
  const key = toPrivateKey(ownerPrivateKey, 'ownerPrivateKey');
  return new Uint8Array(sign('sha256', ownerSignedMessage(hash), { key, dsaEncoding: 'der' }));
}

/** True iff `signature` is the owner's signature over the transition hash. @public */
export function verifyOwnerSignature(
  hash: Uint8Array,
  signature: Uint8Array,
  ownerPublicKey: PublicKeyInput,
): boolean {
  const key = toPublicKey(ownerPublicKey, 'ownerPublicKey');
  const message = ownerSignedMessage(hash);
  if (signature.length === 0) return false;
  try {
    return verify('sha256', message, { key, dsaEncoding: 'der' }, signature);
  } catch {
    return false;
  }
}

/** Walks a transition chain back to the zero hash, checking every link. @public */
export function verifyTransitionChain(
  latestHash: Uint8Array,
  lookup: (hash: Uint8Array) => Transition | undefined,
  maxLength = 100_000,
): Transition[] {
  const chain: Transition[] = [];
  let at = latestHash;
  while (!bytesEqual(at, ZERO_TRANSITION_HASH)) {
    if (chain.length >= maxLength) {
      throw new ContrastError('validation-failed', 'transition chain is too long or cyclic', {
        field: 'transitions',
      });
    }
    const t = lookup(at);
    if (!t)
      throw new ContrastError('not-found', `transition ${toHex(at)} is missing`, { field: 'transitions' });
    if (!bytesEqual(transitionHash(t.manifestHash, t.previousTransitionHash), at)) {
      throw new ContrastError('validation-failed', `transition ${toHex(at)} does not hash to its address`, {
        field: 'transitions',
      });
    }
    chain.push(t);
    at = t.previousTransitionHash;
  }
  return chain.reverse();
}
