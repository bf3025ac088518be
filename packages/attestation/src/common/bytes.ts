// Byte helpers of the verifiers' hot paths: Node's native Buffer where it exists (fast), the
// portable code of @contrast-cc/core elsewhere (browsers). Same results either way.
// Browser-safe: no node: imports (Buffer is looked up on globalThis).

import { toHex } from '@contrast-cc/core';

interface BufferLike {
  from(buffer: ArrayBufferLike, offset: number, length: number): { toString(encoding: string): string };
  from(text: string, encoding: string): Uint8Array & { toString(encoding: string): string };
  compare(a: Uint8Array, b: Uint8Array): number;
}

const NodeBuffer = (globalThis as { Buffer?: BufferLike }).Buffer;

/** Lower-case hex. */
export const hex: (bytes: Uint8Array) => string = NodeBuffer
  ? (b) => NodeBuffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')
  : toHex;

/** Byte equality (not constant-time: for public data such as certificates). */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  if (NodeBuffer) return NodeBuffer.compare(a, b) === 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The bytes as a latin1 string (one character per byte). */
export function latin1(b: Uint8Array): string {
  if (NodeBuffer) return NodeBuffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
  let out = '';
  for (let i = 0; i < b.length; i++) out += String.fromCharCode(b[i]!);
  return out;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX = new Map([...B64].map((c, i) => [c, i]));

/** Standard base64 with padding. */
export function base64Encode(b: Uint8Array): string {
  if (NodeBuffer) return NodeBuffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
  let out = '';
  for (let i = 0; i < b.length; i += 3) {
    const n = (b[i]! << 16) | ((b[i + 1] ?? 0) << 8) | (b[i + 2] ?? 0);
    out += B64[(n >> 18) & 63]! + B64[(n >> 12) & 63]!;
    out += i + 1 < b.length ? B64[(n >> 6) & 63]! : '=';
    out += i + 2 < b.length ? B64[n & 63]! : '=';
  }
  return out;
}

/**
 * Decodes base64 leniently as Node's Buffer does (invalid characters and missing padding are
 * skipped); callers that need canonical text re-encode and compare.
 */
export function base64Decode(text: string): Uint8Array {
  if (NodeBuffer) return new Uint8Array(NodeBuffer.from(text, 'base64'));
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const c of text) {
    if (c === '=') break;
    const v = B64_INDEX.get(c);
    if (v === undefined) continue;
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push((acc >> bits) & 0xff);
    }
  }
  return Uint8Array.from(out);
}
