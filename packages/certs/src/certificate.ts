// X.509 v3 certificates for the CA hierarchy and the mesh certificates, built with core's X.509
// builder (`@contrast-cc/core/x509`, the one way the monorepo builds certificates); here are what
// only certs needs: SPKI from a KeyObject, key identifiers, SANs, ecdsa-with-SHA384. Everything is
// exact and minimal: the to-be-signed bytes equal what an @peculiar/x509-based issuer produces for
// the same inputs (src/certificate.test.ts).
import { hash, type KeyObject } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { ContrastError, spkiProblem } from '@contrast-cc/core';
import {
  derAscii,
  derBitString,
  derBitStringOf,
  derNull,
  derOidOf,
  derSequence,
  derTlv,
  derUnsignedInteger,
  extensionDer,
  SIGNATURE_ALGORITHMS,
  signedDer,
  type TbsParts,
  tbsCertificate as tbsCertificateOf,
} from '@contrast-cc/core/x509';
import { spkiPublicKeyBits } from './der-read.js';
import { type PublicKeyInput, toPublicKey } from './keys.js';

const oid = derOidOf;

const OID = {
  extKeyUsage: oid('2.5.29.37'),
  subjectAltName: oid('2.5.29.17'),
  serverAuth: oid('1.3.6.1.5.5.7.3.1'),
  clientAuth: oid('1.3.6.1.5.5.7.3.2'),
};

/** AlgorithmIdentifier of ecdsa-with-SHA384 (parameters absent, RFC 5758 3.2): every certificate we issue. */
export const ECDSA_WITH_SHA384 = SIGNATURE_ALGORITHMS.ecdsaWithSha384;

/** ExtendedKeyUsage clientAuth, serverAuth (in that order), not critical. */
export const TLS_EXT_KEY_USAGE = extensionDer(
  OID.extKeyUsage,
  false,
  derSequence(OID.clientAuth, OID.serverAuth),
);

const ID_EC_PUBLIC_KEY = oid('1.2.840.10045.2.1');
const RSA_ENCRYPTION = derSequence(oid('1.2.840.113549.1.1.1'), derNull);
const EC_CURVES = new Map([
  ['P-256', oid('1.2.840.10045.3.1.7')],
  ['P-384', oid('1.3.132.0.34')],
  ['P-521', oid('1.3.132.0.35')],
  ['secp256k1', oid('1.3.132.0.10')],
]);
const OKP_ALGORITHMS = new Map([
  ['Ed25519', derSequence(oid('1.3.101.112'))],
  ['Ed448', derSequence(oid('1.3.101.113'))],
  ['X25519', derSequence(oid('1.3.101.110'))],
  ['X448', derSequence(oid('1.3.101.111'))],
]);
const JWK_KEY_TYPES = new Set(['ec', 'rsa', 'ed25519', 'ed448', 'x25519', 'x448']);
const b64url = (text: string | undefined) => Buffer.from(text ?? '', 'base64url') as Uint8Array;

/**
 * The SubjectPublicKeyInfo DER of a public key, for the certificate. EC (named curves, uncompressed
 * point as RFC 5480 2.2 recommends), EdDSA/XDH and RSA keys are encoded from their JWK form, which
 * node exports some 30 times faster than DER; other key types use node's DER export. The bytes equal
 * `key.export({ type: 'spki', format: 'der' })` except for an EC key that was given with a
 * compressed point: OpenSSL re-encodes that compressed, we write it uncompressed (Go's crypto/x509
 * parses only uncompressed points).
 */
export function certificateSpki(key: KeyObject): Uint8Array {
  if (key.asymmetricKeyType === 'ec') {
    // A key at the point at infinity aborts node in the JWK export below (and throws in the DER
    // export): refused here with an exception. Keys from SPKI bytes are checked before import.
    let der: Uint8Array;
    try {
      der = new Uint8Array(key.export({ type: 'spki', format: 'der' }));
    } catch {
      der = new Uint8Array(0);
    }
    if (spkiProblem(der)) throw new RangeError('the EC public key is not a valid point');
  }
  try {
    if (JWK_KEY_TYPES.has(key.asymmetricKeyType ?? '')) {
      const jwk = key.export({ format: 'jwk' });
      const curve = jwk.kty === 'EC' ? EC_CURVES.get(jwk.crv ?? '') : undefined;
      if (curve) {
        const point = derBitStringOf(Uint8Array.of(0x04), b64url(jwk.x), b64url(jwk.y));
        return derSequence(derSequence(ID_EC_PUBLIC_KEY, curve), point);
      }
      const okp = jwk.kty === 'OKP' ? OKP_ALGORITHMS.get(jwk.crv ?? '') : undefined;
      if (okp) return derSequence(okp, derBitString(b64url(jwk.x)));
      if (jwk.kty === 'RSA') {
        const rsaKey = derSequence(derUnsignedInteger(b64url(jwk.n)), derUnsignedInteger(b64url(jwk.e)));
        return derSequence(RSA_ENCRYPTION, derBitString(rsaKey));
      }
    }
  } catch {
    // a curve JWK cannot express: fall through to the DER export
  }
  return new Uint8Array(key.export({ type: 'spki', format: 'der' }));
}

/** DER of a P-256 SubjectPublicKeyInfo up to its uncompressed point (RFC 5480): 26 bytes, then 04 x y. */
const P256_SPKI_PREFIX = Uint8Array.from(
  Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex'),
);
/** P-256 (FIPS 186-4 D.1.2.3): the field prime p and the curve coefficient b (a = -3). */
const P256_P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const P256_B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;

const bigOf = (bytes: Uint8Array) =>
  BigInt(`0x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')}`);

/**
 * Full public-key validation of an uncompressed P-256 point (NIST SP 800-56A rev. 3, 5.6.2.3.3):
 * both coordinates in [0, p-1] and y² = x³ - 3x + b (mod p). The point at infinity has no
 * uncompressed encoding, and P-256 has cofactor 1, so a point on the curve is in the group of
 * prime order n (the nQ = O check holds for every curve point).
 */
export function isP256Point(x: Uint8Array, y: Uint8Array): boolean {
  if (x.length !== 32 || y.length !== 32) return false;
  const X = bigOf(x);
  const Y = bigOf(y);
  if (X >= P256_P || Y >= P256_P) return false;
  return (Y * Y - (X * X * X - 3n * X + P256_B)) % P256_P === 0n;
}

/** Whether `spki` starts like an uncompressed P-256 SubjectPublicKeyInfo and has its length. */
function isUncompressedP256Spki(spki: Uint8Array): boolean {
  if (spki.length !== 91) return false;
  for (let i = 0; i < P256_SPKI_PREFIX.length; i++) if (spki[i] !== P256_SPKI_PREFIX[i]) return false;
  return spki[26] === 0x04;
}

/**
 * The SubjectPublicKeyInfo DER a certificate for `input` carries ({@link certificateSpki}), after
 * checking it is a valid public key. An uncompressed P-256 SPKI (what initializers send) is checked
 * in place (full point validation, {@link isP256Point}) and certified byte for byte, which is what
 * node's import and re-export give for it, at a tenth of the CPU; every other key goes through
 * node's import. Throws `ContrastError('invalid-argument')` naming `field` for anything else.
 * The input is copied: a caller changing its buffer later cannot change the certificate.
 * @public
 */
export function certificateKeySpki(input: PublicKeyInput, field = 'publicKey'): Uint8Array {
  if (input instanceof Uint8Array && isUncompressedP256Spki(input)) {
    if (isP256Point(input.subarray(27, 59), input.subarray(59, 91))) return Uint8Array.from(input);
    throw new ContrastError('invalid-argument', 'not a valid public key (PEM, SPKI DER or KeyObject)', {
      field,
      cause: new Error('the P-256 point is not on the curve'),
    });
  }
  const key = toPublicKey(input, field);
  try {
    return certificateSpki(key);
  } catch (cause) {
    throw new ContrastError('invalid-argument', 'not a valid public key (PEM, SPKI DER or KeyObject)', {
      field,
      cause: new Error(cause instanceof Error ? cause.message : 'unknown error'),
    });
  }
}

/** RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
export function keyIdentifier(spki: Uint8Array): Uint8Array {
  return new Uint8Array(hash('sha1', spkiPublicKeyBits(spki), 'buffer'));
}

/** A classified SAN: DNS name, IP address (text) or URI. */
export interface SanEntry {
  type: 'dns' | 'ip' | 'url';
  value: string;
}

/**
 * The 4 or 16 octets of an IP address (RFC 5280 4.2.1.6), or undefined for anything else,
 * including an IPv6 zone index, which a certificate cannot carry.
 */
export function ipAddressBytes(text: string): Uint8Array | undefined {
  if (isIPv4(text)) return Uint8Array.from(text.split('.').map(Number));
  if (!isIPv6(text) || text.includes('%')) return undefined;
  let groups = text;
  const tail: number[] = [];
  const lastColon = groups.lastIndexOf(':');
  if (groups.includes('.', lastColon)) {
    // an embedded IPv4 address (::ffff:10.0.0.1) stands for the last two groups
    tail.push(
      ...groups
        .slice(lastColon + 1)
        .split('.')
        .map(Number),
    );
    groups = `${groups.slice(0, lastColon + 1)}0:0`;
  }
  const [left = '', right] = groups.split('::');
  const leftParts = left === '' ? [] : left.split(':');
  const rightParts = right === undefined || right === '' ? [] : right.split(':');
  const fill = right === undefined ? 0 : 8 - leftParts.length - rightParts.length;
  if (fill < 0) return undefined;
  const all = [...leftParts, ...Array<string>(fill).fill('0'), ...rightParts];
  if (all.length !== 8) return undefined;
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    const v = Number.parseInt(g, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  });
  if (tail.length === 4) out.set(tail, 12);
  return out;
}

/** SubjectAltName: dNSName [2], iPAddress [7], uniformResourceIdentifier [6], in the given order. */
export function subjectAltNameExtension(names: readonly SanEntry[]): Uint8Array {
  const entries = names.map((n) => {
    if (n.type === 'dns') return derAscii(0x80 | 2, n.value);
    if (n.type === 'url') return derAscii(0x80 | 6, n.value);
    const bytes = ipAddressBytes(n.value);
    if (!bytes) throw new RangeError('not an IP address');
    return derTlv(0x80 | 7, bytes);
  });
  return extensionDer(OID.subjectAltName, false, derSequence(...entries));
}

/** TBSCertificate v3, signature algorithm ecdsa-with-SHA384 (core's builder). */
export function tbsCertificate(p: Omit<TbsParts, 'signatureAlgorithm'>): Uint8Array {
  return tbsCertificateOf({ ...p, signatureAlgorithm: ECDSA_WITH_SHA384 });
}

/** Certificate: the TBS, ecdsa-with-SHA384 and the DER ECDSA-Sig-Value as BIT STRING. */
export function certificateDer(tbs: Uint8Array, signature: Uint8Array): Uint8Array {
  return signedDer(tbs, ECDSA_WITH_SHA384, signature);
}
