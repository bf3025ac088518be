// The two DER readers certs needs beyond core's `readDerTlv` (the one TLV reader): a whole-buffer
// single TLV of a given tag, and the subjectPublicKey bits of an SPKI. The writer is core's
// (`@contrast-cc/core/x509`).
import { readDerTlv } from '@contrast-cc/core';

/**
 * Reads exactly one TLV of the expected tag spanning all of `bytes`; returns its content or
 * undefined when the encoding is not that.
 */
export function derReadSingle(bytes: Uint8Array, tag: number): Uint8Array | undefined {
  if (bytes.length < 2 || bytes[0] !== tag) return undefined;
  let length = bytes[1]!;
  let at = 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    if (n === 0 || n > 4 || bytes.length < 2 + n) return undefined;
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + bytes[2 + i]!;
    at += n;
    if (length < 0x80) return undefined; // not minimal
  }
  if (at + length !== bytes.length) return undefined;
  return bytes.subarray(at);
}

/** The subjectPublicKey bits of a DER SubjectPublicKeyInfo (without the unused-bits octet). */
export function spkiPublicKeyBits(spki: Uint8Array): Uint8Array {
  const outer = readDerTlv(spki, 0, 'spki');
  const algorithm = readDerTlv(spki, outer.contentStart, 'spki', outer.end);
  const bits = readDerTlv(spki, algorithm.end, 'spki', outer.end);
  if (outer.tag !== 0x30 || algorithm.tag !== 0x30 || bits.tag !== 0x03) throw new RangeError('not an SPKI');
  return spki.subarray(bits.contentStart + 1, bits.end);
}
