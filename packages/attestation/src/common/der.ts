// Shared helpers for SNP and TDX (src/common): a minimal DER reader.
//
// Reader: `readDer(bytes, offset)` returns one TLV node (read by core's `readDerTlv`);
// `derChildren(node)` its children.
// Only what X.509 certificates and CRLs need: single-byte tags, definite lengths up to 4 length
// bytes. Malformed input throws ContrastError('invalid-argument') naming the `field` given.
// The writer is core's (`@contrast-cc/core/x509`), the one DER writer of the monorepo.

import { ContrastError, decodeDerOid, readDerTlv } from '@contrast-cc/core';

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

/** Decodes an OBJECT IDENTIFIER's content to dotted form (core's decoder). */
export const decodeOid = decodeDerOid;

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
