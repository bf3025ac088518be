import { ContrastError } from '@contrast-cc/core';

/**
 * A minimal DER reader: enough to walk certificates, CRLs and Intel's SGX extension without a
 * full ASN.1 library. Every element keeps the offsets of its header and content so callers can
 * hash or verify the exact bytes (e.g. a CRL's TBSCertList).
 * (Generic: a candidate for src/common once the SNP side needs the same.)
 */
export interface DerElement {
  /** Full tag byte (class + constructed + number; only low tag numbers are supported). */
  tag: number;
  /** Offset of the tag byte in the buffer. */
  start: number;
  /** Offset of the first content byte. */
  contentStart: number;
  /** Offset just past the element. */
  end: number;
}

export const DER = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  ENUMERATED: 0x0a,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

function malformed(message: string, field: string): ContrastError {
  return new ContrastError('invalid-argument', message, { field });
}

/** Reads one element at `at`, which must end within `limit`. */
export function readDer(buf: Uint8Array, at: number, limit: number, field = 'der'): DerElement {
  if (at + 2 > limit) throw malformed('truncated DER element', field);
  const tag = buf[at]!;
  if ((tag & 0x1f) === 0x1f) throw malformed('high-tag-number DER form is not supported', field);
  let len = buf[at + 1]!;
  let p = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw malformed('unsupported DER length form', field);
    if (p + n > limit) throw malformed('truncated DER length', field);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i]!;
    p += n;
  }
  if (p + len > limit) throw malformed('DER element runs past its container', field);
  return { tag, start: at, contentStart: p, end: p + len };
}

/** The children of a constructed element. */
export function derChildren(buf: Uint8Array, el: DerElement, field = 'der'): DerElement[] {
  const out: DerElement[] = [];
  let p = el.contentStart;
  while (p < el.end) {
    const child = readDer(buf, p, el.end, field);
    out.push(child);
    p = child.end;
  }
  return out;
}

export function derContent(buf: Uint8Array, el: DerElement): Uint8Array {
  return buf.subarray(el.contentStart, el.end);
}

export function derBytes(buf: Uint8Array, el: DerElement): Uint8Array {
  return buf.subarray(el.start, el.end);
}

/** Dotted OID text of an OBJECT IDENTIFIER element. */
export function derOid(buf: Uint8Array, el: DerElement): string {
  const c = derContent(buf, el);
  if (c.length === 0) throw malformed('empty OID', 'der');
  const first = c[0]!;
  const parts: number[] = [
    Math.min(2, Math.floor(first / 40)),
    first - 40 * Math.min(2, Math.floor(first / 40)),
  ];
  let v = 0;
  for (let i = 1; i < c.length; i++) {
    v = v * 128 + (c[i]! & 0x7f);
    if (!(c[i]! & 0x80)) {
      parts.push(v);
      v = 0;
    }
  }
  return parts.join('.');
}

/** A non-negative INTEGER/ENUMERATED as a number (up to 2^48). */
export function derSmallInt(buf: Uint8Array, el: DerElement, field: string): number {
  const c = derContent(buf, el);
  if (c.length === 0 || c.length > 7) throw malformed('integer out of range', field);
  if (c[0]! & 0x80) throw malformed('negative integer', field);
  let v = 0;
  for (const b of c) v = v * 256 + b;
  return v;
}

/** An INTEGER's content bytes with leading zero octets removed (certificate serials). */
export function derUnsignedBytes(buf: Uint8Array, el: DerElement): Uint8Array {
  const c = derContent(buf, el);
  let i = 0;
  while (i < c.length - 1 && c[i] === 0) i++;
  return c.subarray(i);
}

/** UTCTime / GeneralizedTime to a Date. */
export function derTime(buf: Uint8Array, el: DerElement, field: string): Date {
  const text = new TextDecoder().decode(derContent(buf, el));
  const utc = el.tag === DER.UTC_TIME ? /^(\d{2})(\d{10})Z$/.exec(text) : null;
  const gen = el.tag === DER.GENERALIZED_TIME ? /^(\d{4})(\d{10})Z$/.exec(text) : null;
  let year: number;
  let rest: string;
  if (utc) {
    const yy = Number(utc[1]);
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
    rest = utc[2]!;
  } else if (gen) {
    year = Number(gen[1]);
    rest = gen[2]!;
  } else {
    throw malformed('unsupported time encoding', field);
  }
  const n = (i: number) => Number(rest.slice(i, i + 2));
  return new Date(Date.UTC(year, n(0) - 1, n(2), n(4), n(6), n(8)));
}

// --- writing (for the simulator's certificate extensions) ---

function derLength(n: number): number[] {
  if (n < 0x80) return [n];
  const bytes: number[] = [];
  while (n > 0) {
    bytes.unshift(n & 0xff);
    n = Math.floor(n / 256);
  }
  return [0x80 | bytes.length, ...bytes];
}

export function derEncode(tag: number, content: Uint8Array): Uint8Array {
  const len = derLength(content.length);
  const out = new Uint8Array(1 + len.length + content.length);
  out[0] = tag;
  out.set(len, 1);
  out.set(content, 1 + len.length);
  return out;
}

export function derSequence(...items: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const i of items) total += i.length;
  const content = new Uint8Array(total);
  let at = 0;
  for (const i of items) {
    content.set(i, at);
    at += i.length;
  }
  return derEncode(DER.SEQUENCE, content);
}

export function derEncodeOid(oid: string): Uint8Array {
  const parts = oid.split('.').map(Number);
  const bytes: number[] = [40 * parts[0]! + parts[1]!];
  for (const part of parts.slice(2)) {
    const chunk: number[] = [part & 0x7f];
    let v = Math.floor(part / 128);
    while (v > 0) {
      chunk.unshift((v & 0x7f) | 0x80);
      v = Math.floor(v / 128);
    }
    bytes.push(...chunk);
  }
  return derEncode(DER.OID, Uint8Array.from(bytes));
}

export function derEncodeInt(value: number, tag: number = DER.INTEGER): Uint8Array {
  const bytes: number[] = [];
  let v = value;
  do {
    bytes.unshift(v & 0xff);
    v = Math.floor(v / 256);
  } while (v > 0);
  if (bytes[0]! & 0x80) bytes.unshift(0);
  return derEncode(tag, Uint8Array.from(bytes));
}
