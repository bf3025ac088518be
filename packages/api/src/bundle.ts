// Evidence bundles: what a Coordinator proved in one attestation, stored to be verified again
// later, offline (`contrast verify --save-evidence`, `contrast evidence verify --bundle`).
// Browser-safe: no node: imports (checksums by WebCrypto).
//
// The file is JSON with one part per line, so that damage can be located:
//   {
//   "format": "contrast-evidence-bundle/v1",
//   "saved_at": "<RFC 3339>",            when the answer was received (the default verification time)
//   "coordinator": "<host:port>",
//   "nonce": "<base64>",                 the verifier's fresh nonce
//   "tls_spki": "<base64>",              the Coordinator's TLS key as the handshake showed it
//   "manifest": "<base64>",              the manifest the verifier expected
//   "attestation": {...},                the attest answer exactly as received (evidence, state, history)
//   "checksums": {"<part>": "<sha256 hex of the part's JSON text>", ...}
//   }
// Authenticity comes from the evidence (its signature chain binds nonce, TLS key and state; the
// state binds the history): re-verifying runs verifyCoordinatorAttestation again. The checksums
// only locate accidental damage (a flipped byte anywhere is refused, naming the part); whoever
// edits a part can recompute them, and is then caught by the evidence checks.

import { ContrastError, toHex, type Verifier } from '@contrast-cc/core';
import {
  type CoordinatorAttestation,
  type CoordinatorVerdict,
  coordinatorPolicyHashesOf,
  verifyCoordinatorAttestation,
} from './coordinator-verify.js';
import { fromBase64, toBase64 } from './schemas.js';
import { sha256Web } from './state.js';

/** The format tag of version 1. @public */
export const EVIDENCE_BUNDLE_FORMAT = 'contrast-evidence-bundle/v1';

const PARTS = ['saved_at', 'coordinator', 'nonce', 'tls_spki', 'manifest', 'attestation'] as const;
type Part = (typeof PARTS)[number];

/** A bundle's content. @public */
export interface EvidenceBundle {
  savedAt: Date;
  /** The address the answer came from (informational). */
  coordinator: string;
  attestation: CoordinatorAttestation;
  /** The manifest the verifier expected when it saved the bundle. */
  manifest: Uint8Array;
}

async function checksum(json: string): Promise<string> {
  return toHex(await sha256Web(new TextEncoder().encode(json)));
}

/** Serializes a bundle (see the file comment for the layout). @public */
export async function createEvidenceBundle(bundle: EvidenceBundle): Promise<string> {
  const values: Record<Part, unknown> = {
    saved_at: bundle.savedAt.toISOString(),
    coordinator: bundle.coordinator,
    nonce: toBase64(bundle.attestation.nonce),
    tls_spki: toBase64(bundle.attestation.tlsSpki),
    manifest: toBase64(bundle.manifest),
    attestation: bundle.attestation.response,
  };
  const lines = [`"format": ${JSON.stringify(EVIDENCE_BUNDLE_FORMAT)}`];
  const sums: Record<string, string> = {};
  for (const part of PARTS) {
    const json = JSON.stringify(values[part]);
    lines.push(`${JSON.stringify(part)}: ${json}`);
    sums[part] = await checksum(json);
  }
  lines.push(`"checksums": ${JSON.stringify(sums)}`);
  return `{\n${lines.join(',\n')}\n}\n`;
}

function damaged(part: string, message: string): ContrastError {
  return new ContrastError('invalid-argument', `bundle part "${part}" is damaged: ${message}`, {
    field: part,
  });
}

/** Names the part of an unparseable bundle: the first line that does not parse on its own. */
function locateSyntaxError(text: string): ContrastError {
  const lines = text.split('\n');
  if (lines[0] !== '{') return damaged('format', 'line 1 is not "{"');
  const end = lines.length - (lines.at(-1) === '' ? 2 : 1);
  for (let i = 1; i < end; i++) {
    const line = lines[i]!.replace(/,$/, '');
    try {
      JSON.parse(`{${line}}`);
    } catch {
      const key = /^"([a-z_]+)":/.exec(line)?.[1];
      return damaged(key ?? `line ${i + 1}`, `line ${i + 1} is not valid JSON`);
    }
  }
  if (lines[end] !== '}') return damaged('format', `line ${end + 1} is not "}"`);
  return damaged('format', 'the parts are not separated as written (a comma or line break changed)');
}

/**
 * Reads a bundle: its layout, format tag, every part's checksum and shape. Throws
 * `invalid-argument` naming the damaged part (`field`), never a partial result.
 * @public
 */
export async function openEvidenceBundle(text: string): Promise<EvidenceBundle> {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw locateSyntaxError(text);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw damaged('format', 'not a JSON object');
  if (doc.format !== EVIDENCE_BUNDLE_FORMAT) {
    throw damaged('format', `format is ${JSON.stringify(doc.format)}, expected "${EVIDENCE_BUNDLE_FORMAT}"`);
  }
  const known = new Set<string>(['format', 'checksums', ...PARTS]);
  const unknown = Object.keys(doc).find((k) => !known.has(k));
  if (unknown !== undefined) {
    // A damaged key: name the part whose key is missing.
    const missing = [...known].filter((k) => !(k in doc));
    throw missing.length === 1
      ? damaged(missing[0]!, `its key reads ${JSON.stringify(unknown)}`)
      : damaged(unknown, 'not a part of the bundle format');
  }
  const sums = doc.checksums as Record<string, unknown> | undefined;
  if (typeof sums !== 'object' || sums === null) throw damaged('checksums', 'missing');
  for (const part of PARTS) {
    if (!(part in doc)) throw damaged(part, 'missing');
    if (typeof sums[part] !== 'string' || !/^[0-9a-f]{64}$/.test(sums[part] as string)) {
      throw damaged('checksums', `the checksum of "${part}" is not 64 hex digits`);
    }
    if ((await checksum(JSON.stringify(doc[part]))) !== sums[part]) {
      throw damaged(part, 'its content does not match its checksum');
    }
  }
  if (Object.keys(sums).length !== PARTS.length) throw damaged('checksums', 'holds other entries');
  const text64 = (part: Part): Uint8Array => {
    const v = doc[part];
    if (
      typeof v !== 'string' ||
      !/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(v)
    ) {
      throw damaged(part, 'not standard base64');
    }
    return fromBase64(v);
  };
  const savedAt = new Date(doc.saved_at as string);
  if (typeof doc.saved_at !== 'string' || Number.isNaN(savedAt.getTime()))
    throw damaged('saved_at', 'not a time');
  if (typeof doc.coordinator !== 'string') throw damaged('coordinator', 'not a string');
  if (typeof doc.attestation !== 'object' || doc.attestation === null)
    throw damaged('attestation', 'not an object');
  return {
    savedAt,
    coordinator: doc.coordinator,
    manifest: text64('manifest'),
    attestation: { nonce: text64('nonce'), tlsSpki: text64('tls_spki'), response: doc.attestation },
  };
}

/**
 * Verifies a bundle again: `verifyCoordinatorAttestation` over what it stores, against its
 * manifest (reference values by `verifiers`, which the caller builds from `bundle.manifest`),
 * at `at` (default: when it was saved). The same verdict and claims as when it was saved, as long
 * as certificates and collateral were valid then.
 * @public
 */
export function verifyEvidenceBundle(
  bundle: EvidenceBundle,
  options: { verifiers: readonly Verifier[]; allowInsecure?: boolean; at?: Date },
): Promise<CoordinatorVerdict> {
  return verifyCoordinatorAttestation(bundle.attestation, {
    verifiers: options.verifiers,
    manifest: bundle.manifest,
    coordinatorPolicyHashes: coordinatorPolicyHashesOf(bundle.manifest),
    allowInsecure: options.allowInsecure ?? false,
    now: options.at ?? bundle.savedAt,
  });
}
