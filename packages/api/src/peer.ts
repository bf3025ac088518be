// Wire format of Coordinator-to-Coordinator recovery (`POST /v1/peer/recover`): a stale replica
// asks an active one for the secrets. See packages/authority/README.md "Peer recovery".
import { createHash } from 'node:crypto';
import { reportDataFor } from '@contrast-cc/atls';
import { ContrastError, concatBytes } from '@contrast-cc/core';
import { z } from 'zod';
import { openRecoverySecret, type SealedSecret, sealRecoverySecret } from './binding.js';
import { attestedKeyRequestSchema, Base64Schema, HashHexSchema, PemSchema } from './schemas.js';

/** The peer recovery endpoint. @public */
export const PEER_RECOVER_PATH = '/v1/peer/recover';

/** Domain-separation label of the requesting replica's evidence. Never change it. @public */
export const PEER_RECOVER_LABEL = 'contrast-ts peer recover v1';

/** Length of the seed a peer hands over (upstream `SecretSeedSize`). @public */
export const PEER_SEED_LENGTH = 64;

/**
 * `POST /v1/peer/recover` request. Without `nonce` the active replica answers 401
 * `challenge_required` with a fresh nonce. With it: the requesting replica's fresh ephemeral EC
 * public key (`ephemeral_public_key`, SPKI DER of a P-256 or P-384 key; the secrets are sealed to
 * it) and its evidence, whose REPORT_DATA is {@link peerRecoverReportData}.
 * @public
 */
export const PeerRecoverRequestSchema = attestedKeyRequestSchema('ephemeral_public_key');
/** @public */
export type PeerRecoverRequest = z.infer<typeof PeerRecoverRequestSchema>;

/**
 * `POST /v1/peer/recover` response: the active replica's latest transition and CA certificates (in
 * clear: the channel is attested, and the requester checks them against the root CA its seed
 * reproduces) and the secrets sealed to the requester's ephemeral key
 * ({@link sealPeerSecret}).
 * @public
 */
export const PeerRecoverResponseSchema = z.strictObject({
  version: z.literal('v1'),
  transition_hash: HashHexSchema,
  root_ca: PemSchema,
  mesh_ca: PemSchema,
  /**
   * The active replica's intermediate CA certificate (mesh CA key and name, signed by the root CA).
   * The requester adopts it together with `mesh_ca` after checking both against the root CA its
   * seed reproduces, so all replicas serve the same CA certificates. Absent from a peer built
   * before this field: the requester issues its own intermediate (and warns).
   */
  intermediate_ca: PemSchema.optional(),
  /** SPKI DER of the sender's ephemeral key (ECDH with the requester's ephemeral key). */
  sealed_ephemeral_public_key: Base64Schema,
  /** iv(12) || AES-256-GCM ciphertext || tag(16) of `salt(32) || seed(64) || mesh CA key (PKCS#8 DER)`. */
  sealed_secret: Base64Schema,
});
/** @public */
export type PeerRecoverResponse = z.infer<typeof PeerRecoverResponseSchema>;

/**
 * REPORT_DATA of the requesting replica's evidence:
 * `reportDataFor({label: "contrast-ts peer recover v1", nonce: the active replica's nonce,
 * publicKey: SPKI of the requester's ephemeral key, stateDigest: sha256(SPKI of the active
 * replica's TLS key as the requester saw it)})`. Binding the responder's TLS key keeps a relay
 * that terminates TLS itself from forwarding fresh evidence.
 * @public
 */
export function peerRecoverReportData(
  nonce: Uint8Array,
  ephemeralSpki: Uint8Array,
  responderSpki: Uint8Array,
): Promise<Uint8Array> {
  return reportDataFor({
    label: PEER_RECOVER_LABEL,
    nonce,
    publicKey: ephemeralSpki,
    stateDigest: new Uint8Array(createHash('sha256').update(responderSpki).digest()),
  });
}

/** What an active replica hands to a recovering one. @public */
export interface PeerSecret {
  seed: Uint8Array;
  salt: Uint8Array;
  /** PKCS#8 DER of the mesh CA private key, so all replicas share the mesh CA. */
  meshCaKey: Uint8Array;
}

/**
 * Seals a {@link PeerSecret} to the requester's ephemeral key with the same ECIES as
 * `sealRecoverySecret` (one sealing implementation): the plaintext is
 * `salt(32) || seed(64) || meshCaKey`, the nonce is the HKDF salt and the GCM additional data.
 * @public
 */
export function sealPeerSecret(
  recipientSpki: Uint8Array,
  nonce: Uint8Array,
  secret: PeerSecret,
): SealedSecret {
  if (secret.seed.length !== PEER_SEED_LENGTH) {
    throw new ContrastError('invalid-argument', `the seed must be ${PEER_SEED_LENGTH} bytes`, {
      field: 'seed',
    });
  }
  if (secret.salt.length !== 32) {
    throw new ContrastError('invalid-argument', 'the salt must be 32 bytes', { field: 'salt' });
  }
  const body = concatBytes(secret.seed, secret.meshCaKey);
  try {
    return sealRecoverySecret(recipientSpki, nonce, body, secret.salt);
  } finally {
    body.fill(0);
  }
}

/**
 * Opens a sealed {@link PeerSecret} with the requester's ephemeral private key. Throws
 * `permission-denied` when it does not open or is too short (never echoing the content).
 * @public
 */
export function openPeerSecret(
  recipientKey: Parameters<typeof openRecoverySecret>[0],
  nonce: Uint8Array,
  sealed: SealedSecret,
): PeerSecret {
  const { seed: body, salt } = openRecoverySecret(recipientKey, nonce, sealed);
  if (body.length <= PEER_SEED_LENGTH) {
    body.fill(0);
    throw new ContrastError('permission-denied', 'the sealed peer secret holds no mesh CA key', {
      field: 'sealed_secret',
    });
  }
  const out = {
    seed: body.slice(0, PEER_SEED_LENGTH),
    salt,
    meshCaKey: body.slice(PEER_SEED_LENGTH),
  };
  body.fill(0);
  return out;
}
