import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { ContrastError } from '@contrast-cc/core';
import { parse as parseToml } from 'smol-toml';
import type { PolicyData } from './types.js';

/** Annotation that carries base64(gzip(initdata TOML)) (Kata >= 3.21). */
export const INITDATA_ANNOTATION = 'io.katacontainers.config.hypervisor.cc_init_data';
/** Legacy annotation that carries base64(policy text) (Kata <= 3.20). */
export const LEGACY_POLICY_ANNOTATION = 'io.katacontainers.config.agent.policy';

export type InitdataAlgorithm = 'sha256' | 'sha384' | 'sha512';

/** `rules + "\npolicy_data := " + JSON.stringify(data, null, 2)`, exactly like genpolicy. */
export function assemblePolicyText(rules: string, data: PolicyData | Record<string, unknown>): string {
  return `${rules}\npolicy_data := ${JSON.stringify(data, null, 2)}`;
}

/**
 * The inverse of assemblePolicyText: the rules and the data object. `data` is undefined when the
 * text does not end in a `policy_data := {...}` JSON object (a policy written by hand).
 */
export function splitPolicyText(policyText: string): {
  rules: string;
  data: Record<string, unknown> | undefined;
} {
  const marker = '\npolicy_data := ';
  // JSON strings escape newlines, so the last marker is the one before the data.
  const at = policyText.lastIndexOf(marker);
  if (at >= 0) {
    try {
      const data = JSON.parse(policyText.slice(at + marker.length)) as unknown;
      if (typeof data === 'object' && data !== null && !Array.isArray(data)) {
        return { rules: policyText.slice(0, at), data: data as Record<string, unknown> };
      }
    } catch {
      // not data we wrote: the whole text is rules
    }
  }
  return { rules: policyText, data: undefined };
}

function tomlBasicString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0) as number;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (c < 0x20 || c === 0x7f) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

function tomlValue(s: string): string {
  // A multi-line literal string keeps the policy readable; it cannot hold `'''`, control
  // characters other than tab/newline, or a trailing quote that would merge with the delimiter.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: TOML forbids these in literal strings
  const literalOk = s.includes('\n') && !s.includes("'''") && !/[\u0000-\u0008\u000b-\u001f\u007f\r]/.test(s);
  if (literalOk && !s.endsWith("'")) return `'''\n${s}'''`;
  return tomlBasicString(s);
}

/** Builds an initdata TOML document (`version`, `algorithm`, `[data]`). */
export function buildInitdataToml(
  data: Record<string, string>,
  options: { algorithm?: InitdataAlgorithm; version?: string } = {},
): string {
  const algorithm = options.algorithm ?? 'sha256';
  const version = options.version ?? '0.1.0';
  if (!['sha256', 'sha384', 'sha512'].includes(algorithm)) {
    throw new ContrastError(
      'invalid-argument',
      `unsupported initdata algorithm ${JSON.stringify(algorithm)}`,
      {
        field: 'algorithm',
      },
    );
  }
  let out = `version = ${tomlBasicString(version)}\nalgorithm = ${tomlBasicString(algorithm)}\n\n[data]\n`;
  for (const key of Object.keys(data).sort()) {
    out += `${tomlBasicString(key)} = ${tomlValue(data[key] as string)}\n`;
  }
  return out;
}

export interface ParsedInitdata {
  version: string;
  algorithm: InitdataAlgorithm;
  data: Record<string, string>;
}

/** Parses initdata TOML; `sha-256` style names are normalized as Contrast does. */
export function parseInitdataToml(toml: string): ParsedInitdata {
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(toml) as Record<string, unknown>;
  } catch (e) {
    throw new ContrastError('invalid-argument', `initdata is not valid TOML: ${(e as Error).message}`, {
      cause: e,
    });
  }
  if (typeof doc.version !== 'string') {
    throw new ContrastError('invalid-argument', 'initdata needs a string version', { field: 'version' });
  }
  const algorithm = String(doc.algorithm ?? '').replace('-', '');
  if (!['sha256', 'sha384', 'sha512'].includes(algorithm)) {
    throw new ContrastError(
      'invalid-argument',
      `unsupported initdata algorithm ${JSON.stringify(doc.algorithm)}`,
      {
        field: 'algorithm',
      },
    );
  }
  const data: Record<string, string> = {};
  const raw = doc.data ?? {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ContrastError('invalid-argument', 'initdata [data] must be a table', { field: 'data' });
  }
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v !== 'string') {
      throw new ContrastError('invalid-argument', 'initdata data values must be strings', {
        field: `data.${k}`,
      });
    }
    data[k] = v;
  }
  return { version: doc.version, algorithm: algorithm as InitdataAlgorithm, data };
}

/** Digest of the TOML bytes with the document's algorithm, hex. */
export function initdataDigest(toml: string): string {
  const { algorithm } = parseInitdataToml(toml);
  return createHash(algorithm).update(toml, 'utf8').digest('hex');
}

/** sha256 of the policy text, hex (legacy binding). */
export function legacyPolicyDigest(policyText: string): string {
  return createHash('sha256').update(policyText, 'utf8').digest('hex');
}

/**
 * The digest zero-padded or truncated to the platform field: SNP HOST_DATA 32 bytes,
 * TDX MRCONFIGID 48 bytes (Kata's adjustProperLength).
 */
export function bindingValue(digestHex: string, length: 32 | 48 | 64): Uint8Array {
  const d = Buffer.from(digestHex, 'hex');
  const out = new Uint8Array(length);
  out.set(d.subarray(0, length));
  return out;
}

/** base64(gzip(toml)). */
export function encodeInitdataAnnotation(toml: string): string {
  return gzipSync(Buffer.from(toml, 'utf8')).toString('base64');
}

/** Inverse of {@link encodeInitdataAnnotation}; returns the exact TOML bytes as text. */
export function decodeInitdataAnnotation(value: string): string {
  try {
    return gunzipSync(Buffer.from(value, 'base64')).toString('utf8');
  } catch (e) {
    throw new ContrastError('invalid-argument', 'initdata annotation is not base64(gzip(...))', {
      cause: e,
      field: INITDATA_ANNOTATION,
    });
  }
}

/**
 * Extracts the policy text from an annotation value (initdata or legacy) or from raw text:
 * accepts base64(gzip(TOML)), TOML, base64(policy) or the policy itself.
 */
export function policyTextFromAny(value: string): string {
  const trimmed = value.trim();
  if (/^[A-Za-z0-9+/=\s]+$/.test(trimmed) && trimmed.length > 0) {
    const bytes = Buffer.from(trimmed, 'base64');
    if (bytes[0] === 0x1f && bytes[1] === 0x8b) return policyTextFromAny(gunzipSync(bytes).toString('utf8'));
    return policyTextFromAny(bytes.toString('utf8'));
  }
  if (/^\s*version\s*=/.test(value)) {
    const parsed = parseInitdataToml(value);
    const policy = parsed.data['policy.rego'];
    if (policy === undefined) {
      throw new ContrastError('invalid-argument', 'initdata has no data."policy.rego"', {
        field: 'data.policy.rego',
      });
    }
    return policy;
  }
  return value;
}
