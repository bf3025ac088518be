// Wire format of k-of-n recovery (`POST /v1/recover/shares`): k owners' released shares (see
// `releaseSeedShare` in @contrast-cc/certs), sealed together to the Coordinator's attested TLS key.
// The Coordinator checks and combines them; the seed is assembled nowhere else.
import type { KeyObject } from 'node:crypto';
import { ContrastError, jsonBoundsViolation } from '@contrast-cc/core';
import { z } from 'zod';
import { openBytes, type SealedSecret, sealBytes } from './binding.js';
import { Base64Schema } from './schemas.js';
import { API_LABELS } from './state.js';

/** The k-of-n recovery endpoint. @public */
export const RECOVER_SHARES_PATH = '/v1/recover/shares';

/** The most shares a set may hold (Shamir over GF(256): x is 1..255). @public */
export const MAX_RELEASED_SHARES = 255;

/**
 * One owner's released share, as `contrast recover --decrypt-share` writes it (the file is
 * secret: k of them give the seed). Fields as `ReleasedSeedShare` of @contrast-cc/certs.
 * @public
 */
export const ReleasedSeedShareSchema = z.strictObject({
  version: z.literal('v1'),
  salt: Base64Schema.describe('base64 of the 32-byte salt: which seed the share belongs to'),
  owner: z
    .string()
    .regex(/^[0-9a-fA-F]+$/, 'must be hex (the owner PKCS#1 public key)')
    .max(4096)
    .describe('hex of the owner PKCS#1 RSA public key'),
  share: Base64Schema.describe('base64 of the Shamir share'),
  signature: Base64Schema.describe("base64 of the owner's RSA-PSS-SHA256 signature"),
});
/** @public */
export type ReleasedSeedShareWire = z.infer<typeof ReleasedSeedShareSchema>;

/** The sealed plaintext of a k-of-n recover request. @public */
export const RecoverSharesPayloadSchema = z.strictObject({
  shares: z.array(ReleasedSeedShareSchema).max(MAX_RELEASED_SHARES),
});

/**
 * `POST /v1/recover/shares` request. Without `nonce` the server answers 401 `challenge_required`
 * with a fresh nonce. `ciphertext` holds {@link RecoverSharesPayloadSchema} sealed to the
 * Coordinator's attested TLS key with that nonce ({@link sealRecoveryShares}).
 * @public
 */
export const RecoverSharesRequestSchema = z.strictObject({
  nonce: Base64Schema.optional(),
  /** SPKI DER of the sender's ephemeral key. */
  ephemeral_public_key: Base64Schema.optional(),
  /** iv(12) || AES-256-GCM ciphertext || tag(16) of the JSON payload. */
  ciphertext: Base64Schema.optional(),
  force: z.boolean().optional(),
});
/** @public */
export type RecoverSharesRequest = z.infer<typeof RecoverSharesRequestSchema>;

/**
 * Seals released shares to the Coordinator's attested TLS key (ECIES as `sealRecoverySecret`,
 * label `API_LABELS.recoverSharesSeal`, the nonce as HKDF salt and GCM additional data).
 * @public
 */
export function sealRecoveryShares(
  recipientSpki: Uint8Array,
  nonce: Uint8Array,
  shares: readonly ReleasedSeedShareWire[],
): SealedSecret {
  const plain = new TextEncoder().encode(JSON.stringify({ shares }));
  try {
    return sealBytes(recipientSpki, nonce, plain, API_LABELS.recoverSharesSeal);
  } finally {
    plain.fill(0);
  }
}

/**
 * Opens sealed released shares with the Coordinator's TLS private key and parses them. Throws
 * `permission-denied` when it does not open, `invalid-argument` (naming the field, never the
 * content) when the payload is not a share set.
 * @public
 */
export function openRecoveryShares(
  recipientKey: KeyObject,
  nonce: Uint8Array,
  sealed: SealedSecret,
): ReleasedSeedShareWire[] {
  const plain = openBytes(recipientKey, nonce, sealed, API_LABELS.recoverSharesSeal, 2);
  try {
    const violation = jsonBoundsViolation(plain, { maxDepth: 4, maxValues: 8 * MAX_RELEASED_SHARES });
    if (violation)
      throw new ContrastError('invalid-argument', `the sealed shares ${violation}`, { field: 'shares' });
    let value: unknown;
    try {
      value = JSON.parse(new TextDecoder().decode(plain));
    } catch {
      throw new ContrastError('invalid-argument', 'the sealed shares are not JSON', { field: 'shares' });
    }
    const parsed = RecoverSharesPayloadSchema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ContrastError('invalid-argument', `the sealed shares: ${issue?.message ?? 'invalid'}`, {
        field: `shares${(issue?.path.slice(1) ?? []).map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}`,
      });
    }
    return parsed.data.shares;
  } finally {
    plain.fill(0);
  }
}
