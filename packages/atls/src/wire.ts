import { ContrastError, type Evidence } from '@contrast-cc/core';

/** The path of the attestation challenge on the attested server. @public */
export const ATTEST_PATH = '/v1/attest';
/** Largest request body the attest endpoint reads. */
export const MAX_ATTEST_BODY = 1024;

/** Request body of `POST /v1/attest`. @public */
export interface AttestRequest {
  /** base64 of exactly 32 fresh random bytes. */
  nonce: string;
}

/** Response body of `POST /v1/attest`. @public */
export interface AttestResponse {
  version: 'v1';
  evidence: { kind: string; data: string; extras?: Record<string, string> };
  /** base64 of the state digest bound into REPORT_DATA, when the server binds one. */
  stateDigest?: string;
  /** base64 of the DER SPKI of the server's TLS key (what REPORT_DATA binds). */
  tls_spki?: string;
  /** Server-specific fields of the same state snapshot (see `AttestedState.fields`). */
  [field: string]: unknown;
}

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function fromB64(text: unknown, field: string): Uint8Array {
  if (typeof text !== 'string' || text.length % 4 !== 0 || !B64.test(text)) {
    throw new ContrastError('invalid-argument', 'must be standard base64', { field });
  }
  return new Uint8Array(Buffer.from(text, 'base64'));
}

export function encodeEvidence(evidence: Evidence): AttestResponse['evidence'] {
  return {
    kind: evidence.kind,
    data: b64(evidence.data),
    ...(evidence.extras
      ? { extras: Object.fromEntries(Object.entries(evidence.extras).map(([k, v]) => [k, b64(v)])) }
      : {}),
  };
}

/** Parses an attest response; throws `invalid-argument` naming the field. */
export function parseAttestResponse(body: unknown): { evidence: Evidence; stateDigest?: Uint8Array } {
  const r = body as Partial<AttestResponse> | null;
  if (typeof r !== 'object' || r === null || r.version !== 'v1') {
    throw new ContrastError('invalid-argument', 'attest response must be a v1 object', { field: 'version' });
  }
  const ev = r.evidence;
  if (typeof ev !== 'object' || ev === null || typeof ev.kind !== 'string' || ev.kind === '') {
    throw new ContrastError('invalid-argument', 'evidence.kind must be a non-empty string', {
      field: 'evidence.kind',
    });
  }
  const evidence: Evidence = { kind: ev.kind, data: fromB64(ev.data, 'evidence.data') };
  if (ev.extras !== undefined) {
    if (typeof ev.extras !== 'object' || ev.extras === null) {
      throw new ContrastError('invalid-argument', 'evidence.extras must be an object', {
        field: 'evidence.extras',
      });
    }
    evidence.extras = Object.fromEntries(
      Object.entries(ev.extras).map(([k, v]) => [k, fromB64(v, `evidence.extras.${k}`)]),
    );
  }
  const out: { evidence: Evidence; stateDigest?: Uint8Array } = { evidence };
  if (r.stateDigest !== undefined) out.stateDigest = fromB64(r.stateDigest, 'stateDigest');
  return out;
}
