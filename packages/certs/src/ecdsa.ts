// ECDSA P-384 over a caller-supplied digest (what Go's ecdsa.SignASN1/VerifyASN1 do), which Node's
// crypto cannot do: it always hashes the message itself. Used for upstream-compatible latest-
// transition signatures and for deterministic (RFC 6979) root certificate signatures.
//
// The scalar multiplication with the secret nonce k runs natively (node's ECDH, constant time);
// the BigInt arithmetic that touches secrets is blinded so its timing does not depend on them:
// k is inverted as (k*b)^-1 * b for a random b, and d is used as d + m*n for a random m.
// Verification only handles public values and uses plain BigInt point arithmetic.
import { createECDH, createHmac, type KeyObject, randomBytes } from 'node:crypto';
import { ContrastError, readDerTlv } from '@contrast-cc/core';
import { derTlv } from '@contrast-cc/core/x509';

const P = BigInt(
  '0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffff',
);
const N = BigInt(
  '0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973',
);
const BYTES = 48;

const toBig = (b: Uint8Array) => {
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return v;
};
const toBytes = (v: bigint, len = BYTES) => {
  const out = new Uint8Array(len);
  for (let i = len - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
};
const mod = (a: bigint, m: bigint) => {
  const r = a % m;
  return r < 0n ? r + m : r;
};
/** a^e mod m by square-and-multiply; e is always public here (m - 2). */
function powMod(a: bigint, e: bigint, m: bigint): bigint {
  let result = 1n;
  let base = mod(a, m);
  while (e > 0n) {
    if (e & 1n) result = (result * base) % m;
    base = (base * base) % m;
    e >>= 1n;
  }
  return result;
}
const inv = (a: bigint, m: bigint) => powMod(a, m - 2n, m);

function randomScalar(): bigint {
  for (;;) {
    const v = toBig(randomBytes(BYTES)) % N;
    if (v !== 0n) return v;
  }
}

/** The generator, read from node's own curve implementation (the public key of scalar 1). */
const G = (() => {
  const ecdh = createECDH('secp384r1');
  ecdh.setPrivateKey(toBytes(1n));
  const pt = ecdh.getPublicKey();
  return { x: toBig(pt.subarray(1, 1 + BYTES)), y: toBig(pt.subarray(1 + BYTES)) };
})();

/** bits2int of RFC 6979 for qlen = 384: the leftmost 384 bits of the digest. */
function bits2int(digest: Uint8Array): bigint {
  const v = toBig(digest);
  const excess = digest.length * 8 - 384;
  return excess > 0 ? v >> BigInt(excess) : v;
}

/** RFC 6979 section 3.2 nonce with HMAC-SHA-384. */
function rfc6979Nonce(d: bigint, digest: Uint8Array): bigint {
  const x = toBytes(d);
  const h1 = toBytes(mod(bits2int(digest), N));
  const hmac = (key: Uint8Array, ...parts: Uint8Array[]) => {
    const h = createHmac('sha384', key);
    for (const p of parts) h.update(p);
    return new Uint8Array(h.digest());
  };
  let v: Uint8Array = new Uint8Array(48).fill(1);
  let k: Uint8Array = new Uint8Array(48);
  k = hmac(k, v, Uint8Array.of(0), x, h1);
  v = hmac(k, v);
  k = hmac(k, v, Uint8Array.of(1), x, h1);
  v = hmac(k, v);
  for (;;) {
    v = hmac(k, v); // 48 bytes = qlen
    const candidate = toBig(v);
    if (candidate >= 1n && candidate < N) return candidate;
    k = hmac(k, v, Uint8Array.of(0));
    v = hmac(k, v);
  }
}

function privateScalar(key: KeyObject): bigint {
  if (key.type !== 'private' || key.asymmetricKeyDetails?.namedCurve !== 'secp384r1') {
    throw new ContrastError('invalid-argument', 'expected a P-384 private key', { field: 'key' });
  }
  const jwk = key.export({ format: 'jwk' });
  return toBig(new Uint8Array(Buffer.from(jwk.d ?? '', 'base64url')));
}

/**
 * Signs `digest` (used as the ECDSA hash value, no further hashing) with a P-384 key. Returns
 * r and s as 48-byte big-endian values. `deterministic` takes k from RFC 6979 (HMAC-SHA-384).
 */
export function signDigestP384(
  key: KeyObject,
  digest: Uint8Array,
  deterministic = false,
): { r: bigint; s: bigint } {
  const d = privateScalar(key);
  const e = mod(bits2int(digest), N);
  let k = deterministic ? rfc6979Nonce(d, digest) : randomScalar();
  for (;;) {
    const ecdh = createECDH('secp384r1');
    ecdh.setPrivateKey(toBytes(k));
    const r = mod(toBig(ecdh.getPublicKey().subarray(1, 1 + BYTES)), N);
    if (r !== 0n) {
      const b = randomScalar();
      const blindedD = d + toBig(randomBytes(16)) * N;
      const kInv = (inv((k * b) % N, N) * b) % N;
      const s = (kInv * mod(e + r * blindedD, N)) % N;
      if (s !== 0n) return { r, s };
    }
    k = randomScalar(); // negligible: only reached when r or s is zero
  }
}

// --- verification (public values only) ---

type Jacobian = { x: bigint; y: bigint; z: bigint };
const INF: Jacobian = { x: 1n, y: 1n, z: 0n };

function double(p: Jacobian): Jacobian {
  if (p.z === 0n || p.y === 0n) return INF;
  const delta = (p.z * p.z) % P;
  const gamma = (p.y * p.y) % P;
  const beta = (p.x * gamma) % P;
  const alpha = (3n * mod(p.x - delta, P) * ((p.x + delta) % P)) % P;
  const x = mod(alpha * alpha - 8n * beta, P);
  const z = mod((p.y + p.z) ** 2n - gamma - delta, P);
  const y = mod(alpha * (4n * beta - x) - 8n * gamma * gamma, P);
  return { x, y, z };
}

function add(p: Jacobian, q: Jacobian): Jacobian {
  if (p.z === 0n) return q;
  if (q.z === 0n) return p;
  const z1z1 = (p.z * p.z) % P;
  const z2z2 = (q.z * q.z) % P;
  const u1 = (p.x * z2z2) % P;
  const u2 = (q.x * z1z1) % P;
  const s1 = (p.y * q.z * z2z2) % P;
  const s2 = (q.y * p.z * z1z1) % P;
  if (u1 === u2) return s1 === s2 ? double(p) : INF;
  const h = mod(u2 - u1, P);
  const r = mod(s2 - s1, P);
  const h2 = (h * h) % P;
  const h3 = (h2 * h) % P;
  const x = mod(r * r - h3 - 2n * u1 * h2, P);
  const y = mod(r * (u1 * h2 - x) - s1 * h3, P);
  const z = (h * p.z * q.z) % P;
  return { x, y, z };
}

function multiply(k: bigint, p: Jacobian): Jacobian {
  let result = INF;
  let addend = p;
  while (k > 0n) {
    if (k & 1n) result = add(result, addend);
    addend = double(addend);
    k >>= 1n;
  }
  return result;
}

/** u*G: natively (node's ECDH) for u in [1, n-1], else by the BigInt ladder. Public values only. */
function baseMultiply(u: bigint): Jacobian {
  if (u <= 0n || u >= N) return multiply(u, { ...G, z: 1n });
  const ecdh = createECDH('secp384r1');
  ecdh.setPrivateKey(toBytes(u));
  const pt = ecdh.getPublicKey();
  return { x: toBig(pt.subarray(1, 1 + BYTES)), y: toBig(pt.subarray(1 + BYTES)), z: 1n };
}

function affineX(p: Jacobian): bigint | undefined {
  if (p.z === 0n) return undefined;
  const zi = inv(p.z, P);
  return (p.x * zi * zi) % P;
}

/** Scalar multiplication for tests: k*G in affine coordinates (public values only). */
export function multiplyGeneratorForTest(k: bigint): { x: bigint; y: bigint } {
  const r = multiply(k, { ...G, z: 1n });
  const zi = inv(r.z, P);
  return { x: (r.x * zi * zi) % P, y: (r.y * zi * zi * zi) % P };
}

/** Verifies r, s over `digest` (used as the hash value) with a P-384 public key. */
export function verifyDigestP384(publicKey: KeyObject, digest: Uint8Array, r: bigint, s: bigint): boolean {
  if (publicKey.asymmetricKeyDetails?.namedCurve !== 'secp384r1') return false;
  if (r <= 0n || r >= N || s <= 0n || s >= N) return false;
  const jwk = publicKey.export({ format: 'jwk' });
  const q: Jacobian = {
    x: toBig(new Uint8Array(Buffer.from(jwk.x ?? '', 'base64url'))),
    y: toBig(new Uint8Array(Buffer.from(jwk.y ?? '', 'base64url'))),
    z: 1n,
  };
  const w = inv(s, N);
  const u1 = (mod(bits2int(digest), N) * w) % N;
  const u2 = (r * w) % N;
  const x = affineX(add(baseMultiply(u1), multiply(u2, q)));
  return x !== undefined && x % N === r;
}

// --- encodings ---

function derInteger(v: bigint): Uint8Array {
  let bytes = toBytes(v);
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  bytes = bytes.subarray(i);
  if (bytes[0]! & 0x80) {
    const padded = new Uint8Array(bytes.length + 1);
    padded.set(bytes, 1);
    bytes = padded;
  }
  return derTlv(0x02, bytes);
}

/** ECDSA-Sig-Value: SEQUENCE { r INTEGER, s INTEGER } (what Go's SignASN1 produces). */
export function encodeSignatureDer(sig: { r: bigint; s: bigint }): Uint8Array {
  const r = derInteger(sig.r);
  const s = derInteger(sig.s);
  const body = new Uint8Array(r.length + s.length);
  body.set(r);
  body.set(s, r.length);
  return derTlv(0x30, body);
}

/** Parses a DER ECDSA-Sig-Value strictly; undefined when it is not one. */
export function decodeSignatureDer(der: Uint8Array): { r: bigint; s: bigint } | undefined {
  try {
    const seq = readDerTlv(der, 0, 'signature');
    if (seq.tag !== 0x30 || seq.end !== der.length) return undefined;
    const r = readDerTlv(der, seq.contentStart, 'signature', seq.end);
    const s = readDerTlv(der, r.end, 'signature', seq.end);
    if (r.tag !== 0x02 || s.tag !== 0x02 || s.end !== seq.end) return undefined;
    const rb = der.subarray(r.contentStart, r.end);
    const sb = der.subarray(s.contentStart, s.end);
    const minimal = (b: Uint8Array) =>
      b.length > 0 && !(b[0]! & 0x80) && !(b.length > 1 && b[0] === 0 && !(b[1]! & 0x80));
    if (!minimal(rb) || !minimal(sb)) return undefined;
    return { r: toBig(rb), s: toBig(sb) };
  } catch {
    return undefined;
  }
}

/** r || s, 48 bytes each (the WebCrypto / IEEE P1363 form). */
export function encodeSignatureP1363(sig: { r: bigint; s: bigint }): Uint8Array {
  const out = new Uint8Array(2 * BYTES);
  out.set(toBytes(sig.r));
  out.set(toBytes(sig.s), BYTES);
  return out;
}

export const P384 = { P, N, G } as const;
