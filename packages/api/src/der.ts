import { ContrastError } from '@contrast-cc/core';

/** One DER TLV: its tag, where its content starts and where it ends (exclusive). */
interface Tlv {
  tag: number;
  content: number;
  end: number;
}

function tlv(der: Uint8Array, at: number, limit: number): Tlv {
  const bad = (why: string) =>
    new ContrastError('invalid-argument', `not a DER certificate: ${why}`, { field: 'certificate' });
  if (at + 2 > limit) throw bad('truncated');
  const tag = der[at]!;
  let length = der[at + 1]!;
  let content = at + 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    if (n < 1 || n > 3 || content + n > limit) throw bad('bad length');
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + der[content + i]!;
    content += n;
  }
  const end = content + length;
  if (end > limit) throw bad('length beyond the input');
  return { tag, content, end };
}

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
  const tbs = tlv(der, cert.content, cert.end);
  if (tbs.tag !== SEQUENCE) throw tlvError('tbsCertificate');
  let at = tbs.content;
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
