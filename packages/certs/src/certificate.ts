// X.509 v3 certificates encoded directly as DER (RFC 5280), for the CA hierarchy and the mesh
// certificates. Everything here is exact and minimal: the to-be-signed bytes equal what the
// previous @peculiar/x509-based issuer produced for the same inputs (src/certificate.test.ts).
import { createHash, type KeyObject } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import {
  DER_PRINTABLE_STRING,
  derAscii,
  derBitString,
  derBitStringOf,
  derExplicit,
  derNull,
  derOctetString,
  derOid,
  derSequence,
  derSet,
  derTime,
  derTlv,
  derUnsignedInteger,
  derUtf8String,
  spkiPublicKeyBits,
} from './der.js';

function oid(text: string): Uint8Array {
  const der = derOid(text);
  if (!der) throw new RangeError(`not an OID: ${text}`);
  return der;
}

const OID = {
  commonName: oid('2.5.4.3'),
  ecdsaWithSha384: oid('1.2.840.10045.4.3.3'),
  basicConstraints: oid('2.5.29.19'),
  keyUsage: oid('2.5.29.15'),
  extKeyUsage: oid('2.5.29.37'),
  subjectKeyIdentifier: oid('2.5.29.14'),
  authorityKeyIdentifier: oid('2.5.29.35'),
  subjectAltName: oid('2.5.29.17'),
  serverAuth: oid('1.3.6.1.5.5.7.3.1'),
  clientAuth: oid('1.3.6.1.5.5.7.3.2'),
};

/** AlgorithmIdentifier of ecdsa-with-SHA384 (parameters absent, RFC 5758 3.2). */
export const ECDSA_WITH_SHA384 = derSequence(OID.ecdsaWithSha384);
/** `[0] EXPLICIT INTEGER 2`: version v3. */
const VERSION_V3 = derExplicit(0, Uint8Array.of(0x02, 0x01, 0x02));
const BOOLEAN_TRUE = Uint8Array.of(0x01, 0x01, 0xff);

const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

/** `Name` with a single RDN holding a commonName: PrintableString when it fits, else UTF8String. */
export function commonNameDer(cn: string): Uint8Array {
  const value = PRINTABLE.test(cn) ? derAscii(DER_PRINTABLE_STRING, cn) : derUtf8String(cn);
  return derSequence(derSet(derSequence(OID.commonName, value)));
}

/** One `Extension` (critical is omitted when false, as DER requires for a DEFAULT value). */
export function extensionDer(oidDer: Uint8Array, critical: boolean, value: Uint8Array): Uint8Array {
  return critical
    ? derSequence(oidDer, BOOLEAN_TRUE, derOctetString(value))
    : derSequence(oidDer, derOctetString(value));
}

/** KeyUsage bits (RFC 5280 4.2.1.3). */
export const KEY_USAGE = { digitalSignature: 0, keyCertSign: 5 } as const;

/** Critical KeyUsage with the given bit positions, as a named BIT STRING without trailing zeros. */
export function keyUsageExtension(bits: readonly number[]): Uint8Array {
  const highest = Math.max(...bits);
  const bytes = new Uint8Array((highest >> 3) + 1);
  for (const b of bits) bytes[b >> 3]! |= 0x80 >> (b & 7);
  return extensionDer(OID.keyUsage, true, derBitString(bytes, 7 - (highest & 7)));
}

/** Critical BasicConstraints: `cA TRUE` for a CA, the empty SEQUENCE otherwise. */
export function basicConstraintsExtension(ca: boolean): Uint8Array {
  return extensionDer(OID.basicConstraints, true, ca ? derSequence(BOOLEAN_TRUE) : derSequence());
}

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

/** RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
export function keyIdentifier(spki: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha1').update(spkiPublicKeyBits(spki)).digest());
}

export const subjectKeyIdentifierExtension = (keyId: Uint8Array) =>
  extensionDer(OID.subjectKeyIdentifier, false, derOctetString(keyId));

/** AuthorityKeyIdentifier with only `[0] keyIdentifier`. */
export const authorityKeyIdentifierExtension = (keyId: Uint8Array) =>
  extensionDer(OID.authorityKeyIdentifier, false, derSequence(derTlv(0x80, keyId)));

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

/** The parts of a TBSCertificate; names, SPKI and extensions are complete DER encodings. */
export interface TbsParts {
  /** Serial number magnitude, big-endian. */
  serial: Uint8Array;
  issuer: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  subject: Uint8Array;
  spki: Uint8Array;
  /** Encoded `Extension`s in order; the [3] field is omitted when empty. */
  extensions: readonly Uint8Array[];
}

/** TBSCertificate v3, signature algorithm ecdsa-with-SHA384. */
export function tbsCertificate(p: TbsParts): Uint8Array {
  return derSequence(
    VERSION_V3,
    derUnsignedInteger(p.serial),
    ECDSA_WITH_SHA384,
    p.issuer,
    derSequence(derTime(p.notBefore), derTime(p.notAfter)),
    p.subject,
    p.spki,
    ...(p.extensions.length > 0 ? [derExplicit(3, derSequence(...p.extensions))] : []),
  );
}

/** Certificate: the TBS, ecdsa-with-SHA384 and the DER ECDSA-Sig-Value as BIT STRING. */
export function certificateDer(tbs: Uint8Array, signature: Uint8Array): Uint8Array {
  return derSequence(tbs, ECDSA_WITH_SHA384, derBitString(signature));
}

/** PEM with 64-character lines and a final newline. */
export function certificatePem(der: Uint8Array): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  let body = '';
  for (let i = 0; i < b64.length; i += 64) body += `${b64.slice(i, i + 64)}\n`;
  return `-----BEGIN CERTIFICATE-----\n${body}-----END CERTIFICATE-----\n`;
}
