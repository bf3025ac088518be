// The one DER writer of the monorepo: exact X.690 definite lengths and minimal encodings (TLVs are
// read with `readDerTlv`, the one DER reader). It builds the mesh certificates on the Coordinator's
// issuance hot path, so it allocates each TLV once. Pure: no Node built-ins, runs in browsers.

/** Number of octets of the length field for a content of `length` bytes. */
function lengthSize(length: number): number {
  if (length < 0x80) return 1;
  let n = 1;
  for (let l = length; l > 0; l = Math.floor(l / 256)) n++;
  return n;
}

/** Octets of the identifier and length of a TLV with a one-byte tag and `length` content bytes. */
export const derHeaderSize = (length: number) => 1 + lengthSize(length);

/**
 * Writes the identifier and length octets of a TLV (one-byte tag, `length` content bytes) into
 * `out` at `at`; returns where its content starts. For writers that size a structure first and
 * fill one buffer instead of allocating every TLV.
 */
export function writeDerHeader(out: Uint8Array, at: number, tag: number, length: number): number {
  out[at] = tag;
  if (length < 0x80) {
    out[at + 1] = length;
    return at + 2;
  }
  const header = derHeaderSize(length);
  out[at + 1] = 0x80 | (header - 2);
  for (let i = at + header - 1, l = length; i >= at + 2; i--, l = Math.floor(l / 256)) out[i] = l & 0xff;
  return at + header;
}

/** A TLV with a one-byte tag whose content is the concatenation of `parts`. */
export function derTlv(tag: number, ...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(derHeaderSize(length) + length);
  let at = writeDerHeader(out, 0, tag, length);
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export const derSequence = (...parts: Uint8Array[]) => derTlv(0x30, ...parts);
export const derSet = (...parts: Uint8Array[]) => derTlv(0x31, ...parts);
/** `[n] EXPLICIT` (context-specific, constructed). */
export const derExplicit = (n: number, ...parts: Uint8Array[]) => derTlv(0xa0 | n, ...parts);

/** A non-negative INTEGER from big-endian magnitude bytes (leading zeros dropped, sign octet added). */
export function derUnsignedInteger(magnitude: Uint8Array): Uint8Array {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  const m = magnitude.subarray(i);
  if (m.length === 0) return Uint8Array.of(0x02, 0x01, 0x00);
  return m[0]! & 0x80 ? derTlv(0x02, Uint8Array.of(0), m) : derTlv(0x02, m);
}

/** A non-negative INTEGER from a number or bigint. */
export function derUnsignedBigInt(value: bigint | number): Uint8Array {
  let v = BigInt(value);
  if (v < 0n) throw new RangeError('a negative INTEGER');
  const bytes: number[] = [];
  do {
    bytes.unshift(Number(v & 0xffn));
    v >>= 8n;
  } while (v > 0n);
  return derUnsignedInteger(Uint8Array.from(bytes));
}

export const derNull = Uint8Array.of(0x05, 0x00);

/** A BIT STRING with `unusedBits` unused bits in its last octet. */
export const derBitString = (bits: Uint8Array, unusedBits = 0) =>
  derTlv(0x03, Uint8Array.of(unusedBits), bits);

/** A BIT STRING without unused bits whose content is the concatenation of `parts`. */
export const derBitStringOf = (...parts: Uint8Array[]) => derTlv(0x03, Uint8Array.of(0), ...parts);

const OID_TEXT = /^[0-2](\.(0|[1-9][0-9]*))+$/;
const oidCache = new Map<string, Uint8Array>();

/** An OBJECT IDENTIFIER from dotted text; undefined when the text is not a valid OID. */
export function derOid(oid: string): Uint8Array | undefined {
  const cached = oidCache.get(oid);
  if (cached) return cached;
  if (typeof oid !== 'string' || !OID_TEXT.test(oid)) return undefined;
  const arcs = oid.split('.').map((a) => BigInt(a));
  const first = arcs[0]!;
  const second = arcs[1]!;
  if (first < 2n && second >= 40n) return undefined;
  const body: number[] = [];
  for (const arc of [first * 40n + second, ...arcs.slice(2)]) {
    const base128: number[] = [Number(arc & 0x7fn)];
    for (let v = arc >> 7n; v > 0n; v >>= 7n) base128.unshift(Number(v & 0x7fn) | 0x80);
    body.push(...base128);
  }
  const der = derTlv(0x06, Uint8Array.from(body));
  if (oidCache.size < 256) oidCache.set(oid, der);
  return der;
}

/** An OBJECT IDENTIFIER from dotted text this program writes itself; throws a RangeError when invalid. */
export function derOidOf(oid: string): Uint8Array {
  const der = derOid(oid);
  if (!der) throw new RangeError(`not an OID: ${oid}`);
  return der;
}

const two = (n: number) => (n < 10 ? `0${n}` : String(n));

/**
 * An X.509 Time (RFC 5280 4.1.2.5): UTCTime `YYMMDDHHMMSSZ` for 1950 through 2049, GeneralizedTime
 * `YYYYMMDDHHMMSSZ` otherwise; milliseconds are dropped.
 */
export function derTime(date: Date): Uint8Array {
  const y = date.getUTCFullYear();
  if (!Number.isFinite(y) || y < 0 || y > 9999) throw new RangeError('date out of range for an X.509 Time');
  const rest = `${two(date.getUTCMonth() + 1)}${two(date.getUTCDate())}${two(date.getUTCHours())}${two(
    date.getUTCMinutes(),
  )}${two(date.getUTCSeconds())}Z`;
  if (y >= 1950 && y <= 2049) return derAscii(0x17, `${two(y % 100)}${rest}`);
  return derAscii(0x18, `${String(y).padStart(4, '0')}${rest}`);
}

/** A string type whose characters are all ASCII (IA5String, PrintableString, times): one byte each. */
export function derAscii(tag: number, text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7f) throw new RangeError('not an ASCII string');
    bytes[i] = c;
  }
  return derTlv(tag, bytes);
}

export const DER_PRINTABLE_STRING = 0x13;
export const DER_IA5_STRING = 0x16;

export const DER_BOOLEAN = 0x01;
export const DER_OCTET_STRING = 0x04;
export const DER_UTF8_STRING = 0x0c;

export const derOctetString = (bytes: Uint8Array) => derTlv(DER_OCTET_STRING, bytes);
export const derUtf8String = (text: string) => derTlv(DER_UTF8_STRING, new TextEncoder().encode(text));
export const derBoolean = (value: boolean) => derTlv(DER_BOOLEAN, Uint8Array.of(value ? 0xff : 0x00));
