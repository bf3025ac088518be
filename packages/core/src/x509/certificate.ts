// The one X.509 builder of the monorepo (RFC 5280): TBSCertificate and TBSCertList from complete
// DER parts, the signed outer structure, names and the common extensions. It does not sign: the
// caller signs the TBS bytes its own way (certs' P-384 fast path, node:crypto in the simulators) and
// hands the signature back. Used by @contrast-cc/certs (CA hierarchy, mesh certificates) and by
// @contrast-cc/attestation's simulated SNP/TDX key chains.
import {
  DER_PRINTABLE_STRING,
  derAscii,
  derBitString,
  derExplicit,
  derHeaderSize,
  derOctetString,
  derOidOf,
  derSequence,
  derSet,
  derTime,
  derTlv,
  derUnsignedBigInt,
  derUnsignedInteger,
  derUtf8String,
  writeDerHeader,
} from './der.js';

const OID = {
  commonName: derOidOf('2.5.4.3'),
  basicConstraints: derOidOf('2.5.29.19'),
  keyUsage: derOidOf('2.5.29.15'),
  subjectKeyIdentifier: derOidOf('2.5.29.14'),
  authorityKeyIdentifier: derOidOf('2.5.29.35'),
};

const SHA384_ALGORITHM = derSequence(derOidOf('2.16.840.1.101.3.4.2.2'), Uint8Array.of(0x05, 0x00));

/** AlgorithmIdentifier DER of the signature algorithms we write (ECDSA: parameters absent, RFC 5758 3.2). */
export const SIGNATURE_ALGORITHMS = Object.freeze({
  ecdsaWithSha256: derSequence(derOidOf('1.2.840.10045.4.3.2')),
  ecdsaWithSha384: derSequence(derOidOf('1.2.840.10045.4.3.3')),
  /** RSASSA-PSS with SHA-384, MGF1-SHA-384, salt length 48 (RFC 4055), as AMD signs its chain. */
  rsaPssSha384: derSequence(
    derOidOf('1.2.840.113549.1.1.10'),
    derSequence(
      derExplicit(0, SHA384_ALGORITHM),
      derExplicit(1, derSequence(derOidOf('1.2.840.113549.1.1.8'), SHA384_ALGORITHM)),
      derExplicit(2, Uint8Array.of(0x02, 0x01, 48)),
    ),
  ),
});

/** `[0] EXPLICIT INTEGER 2`: version v3. */
const VERSION_V3 = derExplicit(0, Uint8Array.of(0x02, 0x01, 0x02));
/** INTEGER 1: CRL version v2. */
const VERSION_V2 = Uint8Array.of(0x02, 0x01, 0x01);
const BOOLEAN_TRUE = Uint8Array.of(0x01, 0x01, 0xff);

const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

/** `Name` with a single RDN holding a commonName: PrintableString when it fits, else UTF8String. */
export function commonNameDer(cn: string): Uint8Array {
  const value = PRINTABLE.test(cn) ? derAscii(DER_PRINTABLE_STRING, cn) : derUtf8String(cn);
  return derSequence(derSet(derSequence(OID.commonName, value)));
}

const NAME_ATTRIBUTES: Readonly<Record<string, string>> = {
  CN: '2.5.4.3',
  C: '2.5.4.6',
  L: '2.5.4.7',
  ST: '2.5.4.8',
  O: '2.5.4.10',
  OU: '2.5.4.11',
};

/** A `Name` with one RDN per [attribute, value] pair (CN, C, L, ST, O, OU), values as UTF8String. */
export function distinguishedNameDer(parts: readonly (readonly [string, string])[]): Uint8Array {
  return derSequence(
    ...parts.map(([attribute, value]) => {
      const oid = NAME_ATTRIBUTES[attribute];
      if (!oid) throw new RangeError(`unknown name attribute ${attribute}`);
      return derSet(derSequence(derOidOf(oid), derUtf8String(value)));
    }),
  );
}

/** One `Extension` (critical is omitted when false, as DER requires for a DEFAULT value). */
export function extensionDer(oidDer: Uint8Array, critical: boolean, value: Uint8Array): Uint8Array {
  // One buffer: SEQUENCE { oid, [BOOLEAN TRUE], OCTET STRING { value } } (every certificate we
  // issue has some 60 of these).
  const octets = derHeaderSize(value.length) + value.length;
  const content = oidDer.length + (critical ? BOOLEAN_TRUE.length : 0) + octets;
  const out = new Uint8Array(derHeaderSize(content) + content);
  let at = writeDerHeader(out, 0, 0x30, content);
  out.set(oidDer, at);
  at += oidDer.length;
  if (critical) {
    out.set(BOOLEAN_TRUE, at);
    at += BOOLEAN_TRUE.length;
  }
  out.set(value, writeDerHeader(out, at, 0x04, value.length));
  return out;
}

/** KeyUsage bits (RFC 5280 4.2.1.3). */
export const KEY_USAGE = Object.freeze({ digitalSignature: 0, keyCertSign: 5, cRLSign: 6 } as const);

/** Critical KeyUsage with the given bit positions, as a named BIT STRING without trailing zeros. */
export function keyUsageExtension(bits: readonly number[]): Uint8Array {
  const highest = Math.max(...bits);
  const bytes = new Uint8Array((highest >> 3) + 1);
  for (const b of bits) bytes[b >> 3]! |= 0x80 >> (b & 7);
  return extensionDer(OID.keyUsage, true, derBitString(bytes, 7 - (highest & 7)));
}

/**
 * Critical BasicConstraints: `cA TRUE` (with `pathLenConstraint` when given) for a CA, the empty
 * SEQUENCE otherwise.
 */
export function basicConstraintsExtension(ca: boolean, pathLength?: number): Uint8Array {
  if (!ca) return extensionDer(OID.basicConstraints, true, derSequence());
  const path = pathLength === undefined ? [] : [derUnsignedInteger(Uint8Array.of(pathLength))];
  return extensionDer(OID.basicConstraints, true, derSequence(BOOLEAN_TRUE, ...path));
}

/** SubjectKeyIdentifier with the given key identifier, not critical. */
export const subjectKeyIdentifierExtension = (keyId: Uint8Array) =>
  extensionDer(OID.subjectKeyIdentifier, false, derOctetString(keyId));

/** AuthorityKeyIdentifier with only `[0] keyIdentifier`, not critical. */
export const authorityKeyIdentifierExtension = (keyId: Uint8Array) =>
  extensionDer(OID.authorityKeyIdentifier, false, derSequence(derTlv(0x80, keyId)));

/** The parts of a TBSCertificate; algorithm, names, SPKI and extensions are complete DER encodings. */
export interface TbsParts {
  /** Serial number: magnitude (big-endian) or a non-negative bigint. */
  serial: Uint8Array | bigint;
  /** AlgorithmIdentifier of the signature (e.g. {@link SIGNATURE_ALGORITHMS}). */
  signatureAlgorithm: Uint8Array;
  issuer: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  subject: Uint8Array;
  spki: Uint8Array;
  /** Encoded `Extension`s in order; the [3] field is omitted when empty. */
  extensions: readonly Uint8Array[];
}

const serialDer = (serial: Uint8Array | bigint) =>
  typeof serial === 'bigint' ? derUnsignedBigInt(serial) : derUnsignedInteger(serial);

/** TBSCertificate v3, written into one buffer (the extensions are not copied into a nested list first). */
export function tbsCertificate(p: TbsParts): Uint8Array {
  const head = [
    VERSION_V3,
    serialDer(p.serial),
    p.signatureAlgorithm,
    p.issuer,
    derSequence(derTime(p.notBefore), derTime(p.notAfter)),
    p.subject,
    p.spki,
  ];
  let extensions = 0;
  for (const e of p.extensions) extensions += e.length;
  // [3] EXPLICIT SEQUENCE OF Extension, omitted when empty
  const list = derHeaderSize(extensions) + extensions;
  const explicit = p.extensions.length > 0 ? derHeaderSize(list) + list : 0;
  let content = explicit;
  for (const part of head) content += part.length;
  const out = new Uint8Array(derHeaderSize(content) + content);
  let at = writeDerHeader(out, 0, 0x30, content);
  for (const part of head) {
    out.set(part, at);
    at += part.length;
  }
  if (explicit > 0) {
    at = writeDerHeader(out, writeDerHeader(out, at, 0xa3, list), 0x30, extensions);
    for (const e of p.extensions) {
      out.set(e, at);
      at += e.length;
    }
  }
  return out;
}

/** The parts of a TBSCertList (v2, no extensions). */
export interface TbsCertListParts {
  signatureAlgorithm: Uint8Array;
  issuer: Uint8Array;
  thisUpdate: Date;
  nextUpdate: Date;
  /** Revoked certificates: serial (as in {@link TbsParts}) and revocation date; omitted when empty. */
  revoked: readonly { serial: Uint8Array | bigint; date: Date }[];
}

/** TBSCertList v2. */
export function tbsCertList(p: TbsCertListParts): Uint8Array {
  return derSequence(
    VERSION_V2,
    p.signatureAlgorithm,
    p.issuer,
    derTime(p.thisUpdate),
    derTime(p.nextUpdate),
    ...(p.revoked.length > 0
      ? [derSequence(...p.revoked.map((r) => derSequence(serialDer(r.serial), derTime(r.date))))]
      : []),
  );
}

/**
 * Certificate or CertificateList (the same outer shape): the TBS, the AlgorithmIdentifier and the
 * signature (for ECDSA the DER ECDSA-Sig-Value) as BIT STRING.
 */
export function signedDer(
  tbs: Uint8Array,
  signatureAlgorithm: Uint8Array,
  signature: Uint8Array,
): Uint8Array {
  return derSequence(tbs, signatureAlgorithm, derBitString(signature));
}

// Node's Buffer where it exists (fast, on the issuance hot path); btoa in browsers. Same result.
const NodeBuffer = (
  globalThis as {
    Buffer?: { from(b: ArrayBufferLike, o: number, l: number): { toString(e: 'base64'): string } };
  }
).Buffer;

/** A certificate's PEM: base64 in 64-character lines, each line and the END line ending in a newline. */
export function certificatePem(der: Uint8Array): string {
  let b64: string;
  if (NodeBuffer) b64 = NodeBuffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  else {
    let binary = '';
    for (const b of der) binary += String.fromCharCode(b);
    b64 = btoa(binary);
  }
  let body = '';
  for (let i = 0; i < b64.length; i += 64) body += `${b64.slice(i, i + 64)}\n`;
  return `-----BEGIN CERTIFICATE-----\n${body}-----END CERTIFICATE-----\n`;
}
