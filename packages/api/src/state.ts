// The Coordinator's state binding, browser-safe (no node: imports): the labels, the framing and
// the preimage of the state digest, shared by the Node code (binding.ts, node:crypto) and the
// browser entry (WebCrypto).

import { concatBytes, fromHex } from '@contrast-cc/core';
import type { CoordinatorStatus } from './schemas.js';

/** Domain-separation labels of this API's bindings. Never change them. @public */
export const API_LABELS = Object.freeze({
  state: 'contrast-ts coordinator state v1',
  meshCert: 'contrast-ts mesh cert v1',
  /** A mesh-certificate request bound to its TLS connection (RFC 9266 tls-exporter) instead of a nonce. */
  meshCertChannel: 'contrast-ts mesh cert tls-exporter v1',
  channel: 'contrast-ts coordinator channel v1',
  recoverSeal: 'contrast-ts recover seal v1',
  recoverSign: 'contrast-ts recover v1',
  recoverSharesSeal: 'contrast-ts recover shares seal v1',
});

const STATUS_BYTE: Record<CoordinatorStatus, number> = { uninitialized: 0, active: 1, stale: 2 };

function u32(n: number): Uint8Array {
  return Uint8Array.of((n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

/** Length-prefixed concatenation (u32 big-endian length before each part). */
export function framed(...parts: Uint8Array[]): Uint8Array {
  return concatBytes(...parts.flatMap((p) => [u32(p.length), p]));
}

/** What the Coordinator's evidence binds about its state. @public */
export interface CoordinatorStateBinding {
  status: CoordinatorStatus;
  /** Hex of the latest transition hash (absent when uninitialized). */
  transitionHash?: string | undefined;
  /** DER of the root CA certificate (absent unless active). */
  rootCaDer?: Uint8Array | undefined;
  /** DER of the mesh CA certificate (absent unless active). */
  meshCaDer?: Uint8Array | undefined;
}

/** The bytes whose sha256 is the state digest, given sha256 of the root and mesh CA DER. */
export function coordinatorStatePreimage(
  state: CoordinatorStateBinding,
  rootCaDigest: Uint8Array | undefined,
  meshCaDigest: Uint8Array | undefined,
): Uint8Array {
  return framed(
    new TextEncoder().encode(API_LABELS.state),
    Uint8Array.of(STATUS_BYTE[state.status]),
    state.transitionHash
      ? fromHex(state.transitionHash, { length: 32, field: 'transitionHash' })
      : new Uint8Array(),
    rootCaDigest ?? new Uint8Array(),
    meshCaDigest ?? new Uint8Array(),
  );
}

/** SHA-256 with WebCrypto (browsers, Node >= 20). */
export async function sha256Web(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', bytes as BufferSource));
}

/** {@link coordinatorStateDigest} with WebCrypto. @public */
export async function coordinatorStateDigestAsync(state: CoordinatorStateBinding): Promise<Uint8Array> {
  return sha256Web(
    coordinatorStatePreimage(
      state,
      state.rootCaDer ? await sha256Web(state.rootCaDer) : undefined,
      state.meshCaDer ? await sha256Web(state.meshCaDer) : undefined,
    ),
  );
}
