// The cryptographic operations of the verifiers, as requests a driver answers. Verification code
// is written once as generator functions that `yield` these requests (`yield* verifyStep(...)`);
// `runSync` answers them with a synchronous backend (node:crypto, the Node entry points) and
// `runAsync` with an asynchronous one (WebCrypto, the browser entry points). The control flow,
// the checks and the error reasons are the same code in both.
//
// Browser-safe: no node: imports here.

import { ContrastError } from '@contrast-cc/core';
import { DER_TAG, decodeOid, derChildren, derContent, derEncoded, expectTag, readDerExact } from './der.js';

/** Hash functions the verifiers use. */
export type HashName = 'SHA-1' | 'SHA-256' | 'SHA-384' | 'SHA-512';

/** Named curves the verifiers accept for ECDSA keys. */
export type CurveName = 'P-256' | 'P-384' | 'P-521';

/** A public key as its DER SubjectPublicKeyInfo and the algorithm it declares. */
export interface PublicKeyInfo {
  /** DER SubjectPublicKeyInfo. */
  readonly spki: Uint8Array;
  /** `ec` (id-ecPublicKey), `rsa` (rsaEncryption or id-RSASSA-PSS) or another algorithm. */
  readonly type: 'ec' | 'rsa' | 'other';
  /** The named curve of an EC key. */
  readonly curve?: CurveName | undefined;
}

/** A signature scheme with its parameters. */
export type SignatureScheme =
  | { name: 'ecdsa'; hash: HashName; encoding: 'der' | 'p1363' }
  | { name: 'rsa-pkcs1'; hash: HashName }
  | { name: 'rsa-pss'; hash: HashName; saltLength: number };

/** One request of a verification. */
export type CryptoRequest =
  | {
      op: 'verify';
      scheme: SignatureScheme;
      key: PublicKeyInfo;
      data: Uint8Array;
      signature: Uint8Array;
    }
  | { op: 'digest'; hash: HashName; data: Uint8Array };

/** A computation that asks for cryptographic operations and returns a T. */
export type CryptoSteps<T> = Generator<CryptoRequest, T, boolean | Uint8Array>;

/** Answers requests synchronously. `verify` returns false (never throws) for any failure. */
export interface SyncCryptoBackend {
  verify(request: Extract<CryptoRequest, { op: 'verify' }>): boolean;
  digest(request: Extract<CryptoRequest, { op: 'digest' }>): Uint8Array;
}

/** Answers requests asynchronously. `verify` resolves false (never rejects) for any failure. */
export interface AsyncCryptoBackend {
  verify(request: Extract<CryptoRequest, { op: 'verify' }>): Promise<boolean>;
  digest(request: Extract<CryptoRequest, { op: 'digest' }>): Promise<Uint8Array>;
}

/** Runs crypto steps: synchronously (node:crypto) or asynchronously (WebCrypto). */
export type CryptoRunner = <T>(steps: CryptoSteps<T>) => T | Promise<T>;

/** `signature` over `data` checks out under `key` with `scheme`. */
export function* verifyStep(
  scheme: SignatureScheme,
  key: PublicKeyInfo,
  data: Uint8Array,
  signature: Uint8Array,
): CryptoSteps<boolean> {
  return (yield { op: 'verify', scheme, key, data, signature }) === true;
}

/** The digest of `data`. */
export function* digestStep(hash: HashName, data: Uint8Array): CryptoSteps<Uint8Array> {
  const out = yield { op: 'digest', hash, data };
  if (!(out instanceof Uint8Array)) throw new ContrastError('internal', 'digest backend returned no bytes');
  return out;
}

/** Runs `steps` with a synchronous backend. */
export function runSync<T>(steps: CryptoSteps<T>, backend: SyncCryptoBackend): T {
  let next = steps.next();
  while (!next.done) {
    const request = next.value;
    next = steps.next(request.op === 'verify' ? backend.verify(request) : backend.digest(request));
  }
  return next.value;
}

/** Runs `steps` with an asynchronous backend. */
export async function runAsync<T>(steps: CryptoSteps<T>, backend: AsyncCryptoBackend): Promise<T> {
  let next = steps.next();
  while (!next.done) {
    const request = next.value;
    next = steps.next(
      request.op === 'verify' ? await backend.verify(request) : await backend.digest(request),
    );
  }
  return next.value;
}

/** `some` over items whose predicate needs crypto (sequential, stops at the first true). */
export function* someStep<I>(
  items: readonly I[],
  predicate: (item: I) => CryptoSteps<boolean>,
): CryptoSteps<boolean> {
  for (const item of items) if (yield* predicate(item)) return true;
  return false;
}

/** `find` over items whose predicate needs crypto. */
export function* findStep<I>(
  items: readonly I[],
  predicate: (item: I) => CryptoSteps<boolean>,
): CryptoSteps<I | undefined> {
  for (const item of items) if (yield* predicate(item)) return item;
  return undefined;
}

const OID_EC_PUBLIC_KEY = '1.2.840.10045.2.1';
const OID_RSA = '1.2.840.113549.1.1.1';
const OID_RSA_PSS = '1.2.840.113549.1.1.10';
const CURVES: Record<string, CurveName> = {
  '1.2.840.10045.3.1.7': 'P-256',
  '1.3.132.0.34': 'P-384',
  '1.3.132.0.35': 'P-521',
};

/**
 * Reads the algorithm of a DER SubjectPublicKeyInfo. Throws `invalid-argument` naming `field`
 * when it is not an SPKI (the key itself is checked by the backend when it is used).
 */
export function publicKeyInfo(spki: Uint8Array, field = 'subjectPublicKeyInfo'): PublicKeyInfo {
  try {
    const node = expectTag(readDerExact(spki, field), DER_TAG.sequence, field);
    const [alg, bits] = derChildren(node, field);
    expectTag(bits, DER_TAG.bitString, `${field}.subjectPublicKey`);
    const [oidNode, params] = derChildren(expectTag(alg, DER_TAG.sequence, `${field}.algorithm`), field);
    const oid = decodeOid(derContent(expectTag(oidNode, DER_TAG.oid, `${field}.algorithm`)));
    const bytes = derEncoded(node);
    if (oid === OID_EC_PUBLIC_KEY) {
      const curve = params?.tag === DER_TAG.oid ? CURVES[decodeOid(derContent(params))] : undefined;
      return { spki: bytes, type: 'ec', curve };
    }
    if (oid === OID_RSA || oid === OID_RSA_PSS) return { spki: bytes, type: 'rsa' };
    return { spki: bytes, type: 'other' };
  } catch (e) {
    throw new ContrastError('invalid-argument', 'unreadable subject public key', { field, cause: e });
  }
}

const P256_SPKI_PREFIX = Uint8Array.of(
  0x30,
  0x59,
  0x30,
  0x13,
  0x06,
  0x07,
  0x2a,
  0x86,
  0x48,
  0xce,
  0x3d,
  0x02,
  0x01,
  0x06,
  0x08,
  0x2a,
  0x86,
  0x48,
  0xce,
  0x3d,
  0x03,
  0x01,
  0x07,
  0x03,
  0x42,
  0x00,
  0x04,
);

/** The P-256 public key whose raw point is x||y (64 bytes), as in TDX quotes. */
export function p256KeyFromRaw(raw: Uint8Array): PublicKeyInfo {
  if (raw.length !== 64) throw new ContrastError('invalid-argument', 'a raw P-256 key is 64 bytes');
  const spki = new Uint8Array(P256_SPKI_PREFIX.length + 64);
  spki.set(P256_SPKI_PREFIX);
  spki.set(raw, P256_SPKI_PREFIX.length);
  return { spki, type: 'ec', curve: 'P-256' };
}

/** Size in bytes of a curve's scalars (r and s of a P1363 signature). */
export const CURVE_BYTES: Record<CurveName, number> = { 'P-256': 32, 'P-384': 48, 'P-521': 66 };
