import { ContrastError } from './errors.js';

const HEX_OF_BYTE = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

/** Lower-case hex of some bytes (table-driven: verifiers call this on hot paths). @public */
export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += HEX_OF_BYTE[bytes[i]!]!;
  return out;
}

const HEX = /^(?:[0-9a-fA-F]{2})*$/;

/** The value of the hex digit at `at` (already checked to be one). */
function nibble(text: string, at: number): number {
  const c = text.charCodeAt(at);
  return c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x57;
}

/**
 * Bytes from hex (either case). Throws `invalid-argument` naming `field` when the text is not
 * hex or, when `length` is given, not that many bytes.
 * @public
 */
export function fromHex(text: string, options: { field?: string; length?: number } = {}): Uint8Array {
  if (!HEX.test(text)) {
    throw new ContrastError('invalid-argument', 'not an even-length hex string', { field: options.field });
  }
  const out = new Uint8Array(text.length / 2);
  // Digits are checked above: '0'-'9' is 0x30-0x39, 'a'-'f' / 'A'-'F' (| 0x20) 0x61-0x66.
  for (let i = 0, j = 0; i < out.length; i++, j += 2) out[i] = (nibble(text, j) << 4) | nibble(text, j + 1);
  if (options.length !== undefined && out.length !== options.length) {
    throw new ContrastError(
      'invalid-argument',
      `expected ${options.length} bytes of hex, got ${out.length}`,
      {
        field: options.field,
      },
    );
  }
  return out;
}

/** Constant-time equality for equal lengths; false for different lengths. @public */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** Concatenates byte arrays. @public */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  return concatByteList(parts);
}

/**
 * {@link concatBytes} of a list (no argument spread: a body read in tens of thousands of chunks
 * would overflow the call's argument limit).
 */
export function concatByteList(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
