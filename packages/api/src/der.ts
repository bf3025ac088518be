import { ContrastError, readDerTlv } from '@contrast-cc/core';

/** The element at `at`, inside `limit`: a malformed one is an error naming the certificate. */
const tlv = (der: Uint8Array, at: number, limit: number) => readDerTlv(der, at, 'certificate', limit);

const SEQUENCE = 0x30;
const INTEGER = 0x02;
const VERSION = 0xa0;

/**
 * The DER SubjectPublicKeyInfo of an X.509 certificate (DER), exactly as encoded in it, found by
 * walking `Certificate -> tbsCertificate -> [version] serial signature issuer validity subject
 * subjectPublicKeyInfo` (RFC 5280 4.1). No key parsing: a cheap way to learn which key a TLS peer
 * presented. Throws `invalid-argument` on anything that is not shaped like a certificate.
 */
export function spkiOfCertificate(der: Uint8Array): Uint8Array {
  const cert = tlv(der, 0, der.length);
  if (cert.tag !== SEQUENCE) throw tlvError('Certificate');
  const tbs = tlv(der, cert.contentStart, cert.end);
  if (tbs.tag !== SEQUENCE) throw tlvError('tbsCertificate');
  let at = tbs.contentStart;
  let next = tlv(der, at, tbs.end);
  if (next.tag === VERSION) {
    at = next.end;
    next = tlv(der, at, tbs.end);
  }
  const expected = [INTEGER, SEQUENCE, SEQUENCE, SEQUENCE, SEQUENCE]; // serial .. subject
  for (const tag of expected) {
    if (next.tag !== tag) throw tlvError('tbsCertificate fields');
    at = next.end;
    next = tlv(der, at, tbs.end);
  }
  if (next.tag !== SEQUENCE) throw tlvError('subjectPublicKeyInfo');
  return der.slice(at, next.end);
}

function tlvError(what: string): ContrastError {
  return new ContrastError('invalid-argument', `not a DER certificate: unexpected ${what}`, {
    field: 'certificate',
  });
}
