// Browser-safe: only WebCrypto (globalThis.crypto.subtle), no node: imports.
import { ContrastError, REPORT_DATA_LENGTH } from '@contrast-cc/core';

/**
 * Domain-separation labels of the REPORT_DATA binding. A label names the protocol step that
 * produced the evidence, so evidence made for one purpose never passes as another.
 * @public
 */
export const ATLS_LABELS = Object.freeze({
  /** The attested TLS channel of {@link createAttestedServer} / {@link connectAttested}. */
  channel: 'contrast-ts attested-tls v1',
});

/** Nonce length the server helper requires on the wire (as upstream's `/v1/attest`). @public */
export const NONCE_LENGTH = 32;
/** The shortest nonce {@link reportDataFor} accepts. @public */
export const MIN_NONCE_LENGTH = 16;

/** Inputs of the REPORT_DATA binding. @public */
export interface ReportDataInput {
  /** Domain-separation label (non-empty, printable ASCII), e.g. {@link ATLS_LABELS}.channel. */
  label: string;
  /** The verifier's fresh nonce (at least 16 bytes). */
  nonce: Uint8Array;
  /** The DER SubjectPublicKeyInfo of the key the attested party uses (its TLS key). */
  publicKey: Uint8Array;
  /** Optional digest of the attested party's state (e.g. latest transition, root CA, mesh CA). */
  stateDigest?: Uint8Array;
}

function u32be(n: number): Uint8Array {
  return Uint8Array.of((n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

/**
 * The exact bytes hashed by {@link reportDataFor}:
 * `u32be(len(label)) || label || u32be(len(nonce)) || nonce || u32be(len(spki)) || spki ||
 *  u32be(len(state)) || state`, where `state` is empty when no state digest is bound.
 * @public
 */
export function reportDataPreimage(input: ReportDataInput): Uint8Array {
  const { label, nonce, publicKey } = input;
  const state = input.stateDigest ?? new Uint8Array();
  if (typeof label !== 'string' || !/^[\x20-\x7e]+$/.test(label)) {
    throw new ContrastError('invalid-argument', 'label must be non-empty printable ASCII', {
      field: 'label',
    });
  }
  if (!(nonce instanceof Uint8Array) || nonce.length < MIN_NONCE_LENGTH) {
    throw new ContrastError('invalid-argument', `nonce must be at least ${MIN_NONCE_LENGTH} bytes`, {
      field: 'nonce',
    });
  }
  if (!(publicKey instanceof Uint8Array) || publicKey.length === 0 || publicKey[0] !== 0x30) {
    throw new ContrastError('invalid-argument', 'publicKey must be a DER SubjectPublicKeyInfo', {
      field: 'publicKey',
    });
  }
  if (!(state instanceof Uint8Array)) {
    throw new ContrastError('invalid-argument', 'stateDigest must be bytes', { field: 'stateDigest' });
  }
  const labelBytes = new TextEncoder().encode(label);
  const parts = [labelBytes, nonce, publicKey, state];
  const out = new Uint8Array(parts.reduce((n, p) => n + 4 + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(u32be(p.length), at);
    out.set(p, at + 4);
    at += 4 + p.length;
  }
  return out;
}

/**
 * REPORT_DATA (64 bytes) binding a label, a nonce, a public key and an optional state digest:
 * `SHA-512(reportDataPreimage(input))`. SHA-512 fills the 64 bytes exactly, no padding.
 * @public
 */
export async function reportDataFor(input: ReportDataInput): Promise<Uint8Array> {
  const digest = await globalThis.crypto.subtle.digest('SHA-512', reportDataPreimage(input) as BufferSource);
  const out = new Uint8Array(digest);
  if (out.length !== REPORT_DATA_LENGTH) throw new ContrastError('internal', 'SHA-512 did not give 64 bytes');
  return out;
}
