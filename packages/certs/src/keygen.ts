import { createECDH, createHmac, createPrivateKey, type KeyObject } from 'node:crypto';
import { ContrastError } from '@contrast-cc/core';

/** P-384 group order n (SP 800-186). */
const P384_ORDER = BigInt(
  '0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973',
);
const P384_BYTES = 48;
const PERSONALIZATION = new TextEncoder().encode('det ECDSA key gen P-384');

function hmac(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const h = createHmac('sha256', key);
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

function toBigInt(bytes: Uint8Array): bigint {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}

/**
 * The private scalar of a P-384 key derived from `seed` by the c2sp.org/det-keygen ECDSA process
 * (HMAC_DRBG-SHA256 with personalization `det ECDSA key gen P-384`, bits2int of 48 bytes, fatal
 * error when the candidate is 0 or >= n, which for P-384 has probability < 2^-194). This is what
 * Go's `filippo.io/keygen.ECDSA(elliptic.P384(), seed)` computes, so keys match upstream Contrast.
 */
export function detKeygenP384Scalar(seed: Uint8Array): Uint8Array {
  if (seed.length < 16) {
    throw new ContrastError('invalid-argument', 'key seed must be at least 16 bytes', { field: 'seed' });
  }
  let k: Uint8Array = new Uint8Array(32);
  let v: Uint8Array = new Uint8Array(32).fill(1);
  k = hmac(k, v, Uint8Array.of(0x00), seed, PERSONALIZATION);
  v = hmac(k, v);
  k = hmac(k, v, Uint8Array.of(0x01), seed, PERSONALIZATION);
  v = hmac(k, v);
  const out = new Uint8Array(64);
  for (let at = 0; at < P384_BYTES; at += 32) {
    v = hmac(k, v);
    out.set(v, at);
  }
  const d = out.slice(0, P384_BYTES);
  const value = toBigInt(d);
  if (value === 0n || value >= P384_ORDER) {
    // Cryptographically negligible for P-384; the spec makes it a fatal error, not a retry.
    throw new ContrastError('internal', 'deterministic key generation produced an out-of-range scalar');
  }
  return d;
}

const b64url = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');

/** Builds a P-384 private KeyObject from its 48-byte scalar. */
export function p384PrivateKeyFromScalar(d: Uint8Array): KeyObject {
  const ecdh = createECDH('secp384r1');
  ecdh.setPrivateKey(d);
  const point = ecdh.getPublicKey();
  return createPrivateKey({
    key: {
      kty: 'EC',
      crv: 'P-384',
      d: b64url(d),
      x: b64url(point.subarray(1, 1 + P384_BYTES)),
      y: b64url(point.subarray(1 + P384_BYTES)),
    },
    format: 'jwk',
  });
}

/** A deterministic P-384 key from a seed (c2sp.org/det-keygen). */
export function deriveP384Key(seed: Uint8Array): KeyObject {
  return p384PrivateKeyFromScalar(detKeygenP384Scalar(seed));
}
