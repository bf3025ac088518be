// A few DER encodings, enough for our extension values (X.690 definite lengths).

function encodeLength(length: number): Uint8Array {
  if (length < 0x80) return Uint8Array.of(length);
  const bytes: number[] = [];
  for (let n = length; n > 0; n >>>= 8) bytes.unshift(n & 0xff);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

export function derTlv(tag: number, content: Uint8Array): Uint8Array {
  const len = encodeLength(content.length);
  const out = new Uint8Array(1 + len.length + content.length);
  out[0] = tag;
  out.set(len, 1);
  out.set(content, 1 + len.length);
  return out;
}

export const DER_BOOLEAN = 0x01;
export const DER_OCTET_STRING = 0x04;
export const DER_UTF8_STRING = 0x0c;

export const derOctetString = (bytes: Uint8Array) => derTlv(DER_OCTET_STRING, bytes);
export const derUtf8String = (text: string) => derTlv(DER_UTF8_STRING, new TextEncoder().encode(text));
export const derBoolean = (value: boolean) => derTlv(DER_BOOLEAN, Uint8Array.of(value ? 0xff : 0x00));

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

/** Reads the TLV at `offset`: its tag, where its content starts and where it ends. */
export function derTlvAt(bytes: Uint8Array, offset: number): { tag: number; start: number; end: number } {
  const tag = bytes[offset];
  let length = bytes[offset + 1];
  if (tag === undefined || length === undefined) throw new RangeError('truncated DER');
  let start = offset + 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    if (n === 0 || n > 4) throw new RangeError('unsupported DER length');
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + (bytes[start + i] ?? Number.NaN);
    start += n;
  }
  const end = start + length;
  if (!Number.isFinite(end) || end > bytes.length) throw new RangeError('truncated DER');
  return { tag, start, end };
}

/** The subjectPublicKey bits of a DER SubjectPublicKeyInfo (without the unused-bits octet). */
export function spkiPublicKeyBits(spki: Uint8Array): Uint8Array {
  const outer = derTlvAt(spki, 0);
  const algorithm = derTlvAt(spki, outer.start);
  const bits = derTlvAt(spki, algorithm.end);
  if (outer.tag !== 0x30 || algorithm.tag !== 0x30 || bits.tag !== 0x03) throw new RangeError('not an SPKI');
  return spki.subarray(bits.start + 1, bits.end);
}
