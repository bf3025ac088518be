// Browser-safe: no node: imports (the sync hash is in hash.ts, node:crypto).
import { toHex } from '@contrast-cc/core';
import { z } from 'zod';
import { type Manifest, ManifestSchema } from './schema.js';

/**
 * Orders a value by its schema: object fields in declaration order (absent fields left out),
 * record keys sorted by UTF-16 code units (as Go's encoding/json sorts map keys for ASCII keys),
 * arrays in their own order.
 */
function order(schema: z.ZodType, value: unknown): unknown {
  if (value === null || value === undefined) return value;
  if (schema instanceof z.ZodOptional || schema instanceof z.ZodNullable) {
    return order(schema.unwrap() as z.ZodType, value);
  }
  if (schema instanceof z.ZodObject && typeof value === 'object' && !Array.isArray(value)) {
    const out: Record<string, unknown> = {};
    const src = value as Record<string, unknown>;
    for (const [key, fieldSchema] of Object.entries(schema.shape as Record<string, z.ZodType>)) {
      if (src[key] !== undefined) out[key] = order(fieldSchema, src[key]);
    }
    return out;
  }
  if (schema instanceof z.ZodRecord && typeof value === 'object' && !Array.isArray(value)) {
    const out: Record<string, unknown> = {};
    const src = value as Record<string, unknown>;
    for (const key of Object.keys(src).sort()) {
      out[key] = order(schema.valueType as z.ZodType, src[key]);
    }
    return out;
  }
  if (schema instanceof z.ZodArray && Array.isArray(value)) {
    return value.map((v) => order(schema.element as z.ZodType, v));
  }
  return value;
}

// Go's encoding/json escapes these inside strings; they only occur inside strings in JSON text.
const GO_ESCAPES: Record<string, string> = {
  '<': '\\u003c',
  '>': '\\u003e',
  '&': '\\u0026',
  '\u2028': '\\u2028',
  '\u2029': '\\u2029',
};

/**
 * The canonical text of a manifest, as `contrast generate` writes `manifest.json` and as upstream's
 * `json.MarshalIndent(m, "", "  ")` plus a newline would lay it out:
 * - fields in schema order (Policies, ReferenceValues, WorkloadOwnerPubKeys,
 *   WorkloadOwnerKeyDigests, SeedshareOwnerPubKeys, SeedshareThreshold; nested objects likewise),
 *   absent fields omitted;
 * - `Policies` keys sorted;
 * - two-space indentation, `<`, `>`, `&`, U+2028 and U+2029 escaped as `\u00XX`, one trailing `\n`.
 * @public
 */
export function canonicalManifestJson(manifest: Manifest): string {
  const text = JSON.stringify(order(ManifestSchema, manifest), null, 2);
  return `${text.replace(/[<>&\u2028\u2029]/g, (c) => GO_ESCAPES[c] ?? c)}\n`;
}

/** UTF-8 bytes of {@link canonicalManifestJson}. @public */
export function canonicalManifestBytes(manifest: Manifest): Uint8Array {
  return new TextEncoder().encode(canonicalManifestJson(manifest));
}

/**
 * {@link manifestHash} with WebCrypto (browsers, Node >= 20): hex sha256 of the exact bytes, or
 * of a parsed manifest's canonical bytes.
 * @public
 */
export async function manifestHashAsync(manifest: Manifest | Uint8Array): Promise<string> {
  const bytes = manifest instanceof Uint8Array ? manifest : canonicalManifestBytes(manifest);
  return toHex(new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', bytes as BufferSource)));
}
