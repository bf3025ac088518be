// The one DER TLV reader the packages share (X.690 definite lengths): attestation's certificate
// and CRL parser, the certs package's signature and SPKI readers, the api's certificate SPKI reader.
import { ContrastError } from './errors.js';

/** One DER element: its identifier octet and where its header, content and end are. @public */
export interface DerTlv {
  /** The identifier octet (e.g. 0x30 SEQUENCE, 0xa0 [0] constructed). */
  tag: number;
  /** Offset of the identifier octet. */
  start: number;
  /** Offset of the first content byte. */
  contentStart: number;
  /** Offset just after the last content byte. */
  end: number;
}

/**
 * Reads the DER element at `offset` of `bytes` and checks that it ends within `limit` (default:
 * the end of `bytes`; pass the enclosing element's end to read its children). Single-byte tags,
 * definite lengths of up to 4 length octets; nothing is copied. Throws
 * `ContrastError('invalid-argument')` naming `field` when the element is truncated, has a
 * multi-byte tag or an indefinite or oversized length, or overruns `limit`.
 * @public
 */
export function readDerTlv(bytes: Uint8Array, offset = 0, field = 'der', limit = bytes.length): DerTlv {
  const bad = (message: string): never => {
    throw new ContrastError('invalid-argument', `${message} at offset ${offset}`, { field });
  };
  if (offset < 0 || offset + 2 > limit || limit > bytes.length) bad('truncated DER element');
  const tag = bytes[offset]!;
  if ((tag & 0x1f) === 0x1f) bad('unsupported multi-byte DER tag');
  let length = bytes[offset + 1]!;
  let contentStart = offset + 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    if (n === 0 || n > 4) bad('unsupported DER length encoding');
    if (contentStart + n > limit) bad('truncated DER length');
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + bytes[contentStart + i]!;
    contentStart += n;
  }
  const end = contentStart + length;
  if (end > limit) bad('DER element overruns its container');
  return { tag, start: offset, contentStart, end };
}

/**
 * The dotted text of an OBJECT IDENTIFIER's content octets (X.690 8.19; the first two arcs from
 * the first subidentifier). The one OID decoder of the monorepo.
 * @public
 */
export function decodeDerOid(content: Uint8Array): string {
  const parts: number[] = [];
  let value = 0;
  for (const b of content) {
    value = value * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      if (parts.length === 0) {
        const first = value < 80 ? Math.floor(value / 40) : 2;
        parts.push(first, value - first * 40);
      } else {
        parts.push(value);
      }
      value = 0;
    }
  }
  return parts.join('.');
}

/** Content octets of the OBJECT IDENTIFIER id-ecPublicKey (1.2.840.10045.2.1, RFC 5480). */
const ID_EC_PUBLIC_KEY = [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];

/**
 * Why a DER SubjectPublicKeyInfo must not be handed to node:crypto, or undefined. It must be one
 * DER `SEQUENCE { SEQUENCE { OID, ... }, BIT STRING }` filling `spki`; an EC key
 * (id-ecPublicKey) must carry a point encoding (SEC 1 2.3.3: compressed `02`/`03`, uncompressed
 * `04`, hybrid `06`/`07`) in a BIT STRING without unused bits. The point at infinity (`00`) parses
 * in OpenSSL, but node 20 then aborts the whole process (a failed assertion, not an exception)
 * when the key is inspected (`asymmetricKeyDetails`, a JWK export): such a key is refused here,
 * before it is imported. Whether the rest is a valid key is node's parser's call.
 * @public
 */
export function spkiProblem(spki: Uint8Array): string | undefined {
  let outer: DerTlv;
  let algorithm: DerTlv;
  let oid: DerTlv;
  let bits: DerTlv;
  try {
    outer = readDerTlv(spki, 0, 'spki');
    algorithm = readDerTlv(spki, outer.contentStart, 'spki', outer.end);
    oid = readDerTlv(spki, algorithm.contentStart, 'spki', algorithm.end);
    bits = readDerTlv(spki, algorithm.end, 'spki', outer.end);
  } catch {
    return 'not a DER SubjectPublicKeyInfo';
  }
  if (outer.tag !== 0x30 || outer.end !== spki.length || algorithm.tag !== 0x30 || oid.tag !== 0x06) {
    return 'not a DER SubjectPublicKeyInfo';
  }
  if (bits.tag !== 0x03 || bits.end !== outer.end) return 'not a DER SubjectPublicKeyInfo';
  const isEc =
    oid.end - oid.contentStart === ID_EC_PUBLIC_KEY.length &&
    ID_EC_PUBLIC_KEY.every((b, i) => spki[oid.contentStart + i] === b);
  if (!isEc) return undefined;
  const form = bits.end - bits.contentStart >= 2 ? spki[bits.contentStart + 1] : undefined;
  if (spki[bits.contentStart] !== 0 || form === undefined) return 'the EC public key has no point';
  if (form === 0) return 'the EC public key is the point at infinity';
  if (form !== 2 && form !== 3 && form !== 4 && form !== 6 && form !== 7) {
    return 'the EC public key is not a point encoding';
  }
  return undefined;
}
