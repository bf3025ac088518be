// Shared helpers for SNP and TDX (src/common): a minimal DER reader and writer.
//
// Reader: `readDer(bytes, offset)` returns one TLV node (read by core's `readDerTlv`);
// `derChildren(node)` its children.
// Only what X.509 certificates and CRLs need: single-byte tags, definite lengths up to 4 length
// bytes. Malformed input throws ContrastError('invalid-argument') naming the `field` given.
// Writer: `der.seq(...)`, `der.int(...)`, `der.oid('1.2.3')`, ... build DER bytes for test
// fixtures and simulated certificates.

import { ContrastError, concatBytes, readDerTlv } from '@contrast-cc/core';

/** One DER element inside `buffer`. */
export interface DerNode {
  /** The identifier octet (e.g. 0x30 SEQUENCE, 0xa0 [0] constructed). */
  tag: number;
  buffer: Uint8Array;
  /** Offset of the identifier octet. */
  start: number;
  /** Offset of the first content byte. */
  contentStart: number;
  /** Offset just after the last content byte. */
  end: number;
}

export const DER_TAG = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  null: 0x05,
  oid: 0x06,
  utf8String: 0x0c,
  printableString: 0x13,
  ia5String: 0x16,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  set: 0x31,
} as const;

function bad(message: string, field: string): never {
  throw new ContrastError('invalid-argument', message, { field });
}

/** Reads the TLV at `offset`; checks it fits inside `limit` (default: the buffer end). */
export function readDer(buffer: Uint8Array, offset = 0, field = 'der', limit = buffer.length): DerNode {
  const t = readDerTlv(buffer, offset, field, limit);
  return { tag: t.tag, buffer, start: t.start, contentStart: t.contentStart, end: t.end };
}

/** The content octets of a node. */
export function derContent(node: DerNode): Uint8Array {
  return node.buffer.subarray(node.contentStart, node.end);
}

/** The whole encoding (tag, length and content) of a node. */
export function derEncoded(node: DerNode): Uint8Array {
  return node.buffer.subarray(node.start, node.end);
}

/** The children of a constructed node. */
export function derChildren(node: DerNode, field = 'der'): DerNode[] {
  const out: DerNode[] = [];
  let at = node.contentStart;
  while (at < node.end) {
    const child = readDer(node.buffer, at, field, node.end);
    out.push(child);
    at = child.end;
  }
  return out;
}

/** Parses a whole buffer as exactly one DER element. */
export function readDerExact(buffer: Uint8Array, field = 'der'): DerNode {
  const node = readDer(buffer, 0, field);
  if (node.end !== buffer.length) bad(`trailing bytes after DER element`, field);
  return node;
}

/** Checks a node's tag and returns it, naming `field` in the error. */
export function expectTag(node: DerNode | undefined, tag: number, field: string): DerNode {
  if (!node) bad('missing DER element', field);
  if (node.tag !== tag) {
    bad(`expected DER tag 0x${tag.toString(16)}, got 0x${node.tag.toString(16)}`, field);
  }
  return node;
}

/** Decodes an OBJECT IDENTIFIER's content to dotted form. */
export function decodeOid(content: Uint8Array): string {
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

/** An unsigned INTEGER's content as a bigint (negative values are refused). */
export function decodeUnsigned(content: Uint8Array, field = 'der'): bigint {
  if (content.length === 0) bad('empty INTEGER', field);
  if (content[0]! & 0x80) bad('negative INTEGER', field);
  let v = 0n;
  for (const b of content) v = (v << 8n) | BigInt(b);
  return v;
}

/** UTCTime / GeneralizedTime content to a Date. */
export function decodeTime(node: DerNode, field = 'der'): Date {
  const text = new TextDecoder().decode(derContent(node));
  let m: RegExpExecArray | null;
  if (node.tag === DER_TAG.utcTime) {
    m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text);
    if (!m) bad(`bad UTCTime "${text}"`, field);
    const yy = Number(m[1]);
    return new Date(
      Date.UTC(yy < 50 ? 2000 + yy : 1900 + yy, Number(m[2]) - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!),
    );
  }
  if (node.tag === DER_TAG.generalizedTime) {
    m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text);
    if (!m) bad(`bad GeneralizedTime "${text}"`, field);
    return new Date(Date.UTC(+m[1]!, Number(m[2]) - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
  }
  return bad(`expected a time, got DER tag 0x${node.tag.toString(16)}`, field);
}

// ---------------------------------------------------------------------------------------------
// Writer

function encodeLength(n: number): Uint8Array {
  if (n < 0x80) return Uint8Array.of(n);
  const bytes: number[] = [];
  while (n > 0) {
    bytes.unshift(n & 0xff);
    n = Math.floor(n / 256);
  }
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

function tlv(tag: number, ...content: Uint8Array[]): Uint8Array {
  const body = concatBytes(...content);
  return concatBytes(Uint8Array.of(tag), encodeLength(body.length), body);
}

function encodeOid(oid: string): Uint8Array {
  const parts = oid.split('.').map(Number);
  const out: number[] = [];
  const push = (v: number) => {
    const stack = [v & 0x7f];
    v = Math.floor(v / 128);
    while (v > 0) {
      stack.unshift((v & 0x7f) | 0x80);
      v = Math.floor(v / 128);
    }
    out.push(...stack);
  };
  push(parts[0]! * 40 + parts[1]!);
  for (const p of parts.slice(2)) push(p);
  return Uint8Array.from(out);
}

function encodeUnsigned(value: bigint | number | Uint8Array): Uint8Array {
  let bytes: number[];
  if (value instanceof Uint8Array) {
    bytes = [...value];
    while (bytes.length > 1 && bytes[0] === 0) bytes.shift();
  } else {
    let v = BigInt(value);
    if (v < 0n) throw new RangeError('der.int encodes unsigned values only');
    bytes = [];
    do {
      bytes.unshift(Number(v & 0xffn));
      v >>= 8n;
    } while (v > 0n);
  }
  if (bytes.length === 0) bytes = [0];
  if (bytes[0]! & 0x80) bytes.unshift(0);
  return Uint8Array.from(bytes);
}

function encodeTime(date: Date): Uint8Array {
  const iso = date.toISOString();
  const compact = iso.slice(0, 19).replace(/[-:T]/g, '');
  const year = date.getUTCFullYear();
  if (year >= 1950 && year < 2050)
    return tlv(DER_TAG.utcTime, new TextEncoder().encode(`${compact.slice(2)}Z`));
  return tlv(DER_TAG.generalizedTime, new TextEncoder().encode(`${compact}Z`));
}

/** DER encoders. Each returns a complete TLV. */
export const der = {
  raw: tlv,
  seq: (...items: Uint8Array[]) => tlv(DER_TAG.sequence, ...items),
  set: (...items: Uint8Array[]) => tlv(DER_TAG.set, ...items),
  int: (value: bigint | number | Uint8Array) => tlv(DER_TAG.integer, encodeUnsigned(value)),
  bool: (value: boolean) => tlv(DER_TAG.boolean, Uint8Array.of(value ? 0xff : 0)),
  null: () => tlv(DER_TAG.null),
  oid: (oid: string) => tlv(DER_TAG.oid, encodeOid(oid)),
  octets: (bytes: Uint8Array) => tlv(DER_TAG.octetString, bytes),
  bits: (bytes: Uint8Array) => tlv(DER_TAG.bitString, Uint8Array.of(0), bytes),
  utf8: (text: string) => tlv(DER_TAG.utf8String, new TextEncoder().encode(text)),
  ia5: (text: string) => tlv(DER_TAG.ia5String, new TextEncoder().encode(text)),
  time: encodeTime,
  /** A context-specific tag [n], constructed (explicit) by default. */
  ctx: (n: number, content: Uint8Array, constructed = true) => tlv((constructed ? 0xa0 : 0x80) | n, content),
};
