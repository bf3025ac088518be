// Owner recovery: a stale replica gets the seed and salt back from a seed-share owner. The checks
// that need no secret (nonce, state, owner key, RSA-PSS signature) run first and outside the
// serialized section (authorizeRecover); opening the sealed seed, checking it against the stored
// latest-pointer signature and activating run serialized (recoverWithSeed).
import { constants, verify as cryptoVerify } from 'node:crypto';
import { openRecoverySecret, recoverSignedMessage } from '@contrast-cc/api';
import { createCaHierarchy, SeedEngine, seedShareOwnerKey, verifyLatestTransition } from '@contrast-cc/certs';
import { fromHex } from '@contrast-cc/core';
import { type Manifest, parseManifest } from '@contrast-cc/manifest';
import { History } from '@contrast-cc/store';
import { AuthorityError } from './errors.js';
import type { Replica } from './state.js';
import type { RecoverParams } from './types.js';

/** What the checks of a recover request found (see `Authority.recover`). */
export interface AuthorizedRecover {
  /** Latest-pointer changes seen before the checks (a change meanwhile refuses the recovery). */
  events: number;
  latest: NonNullable<Awaited<ReturnType<History['getLatest']>>>;
  manifest: Manifest;
  manifestBytes: Uint8Array;
  sealed: { ephemeralPublicKey: Uint8Array; ciphertext: Uint8Array };
}

/** The checks of a recover request that need no secret: nonce, state, owner and signature. */
export async function authorizeRecover(r: Replica, params: RecoverParams): Promise<AuthorizedRecover> {
  r.consumeNonce(params.nonce);
  if (r.active) throw new AuthorityError('already-recovered', 'the Coordinator is not in recovery mode');
  const events = r.latestEvents;
  const unverified = new History({ store: r.opts.store, logger: r.log });
  const latest = await unverified.getLatest({ verify: false });
  if (!latest) throw new AuthorityError('no-manifest', 'no state to recover from');
  const manifestBytes = await unverified.getManifest(latest.manifestHash);
  const { manifest } = parseManifest(manifestBytes);
  const owner = params.ownerPublicKey.toLowerCase();
  if (!(manifest.SeedshareOwnerPubKeys ?? []).some((k) => k.toLowerCase() === owner)) {
    throw new AuthorityError(
      'permission-denied',
      'the key is not a seed-share owner of the latest manifest',
      {
        field: 'owner_public_key',
      },
    );
  }
  const sealed = { ephemeralPublicKey: params.ephemeralPublicKey, ciphertext: params.ciphertext };
  const message = recoverSignedMessage({
    nonce: params.nonce,
    coordinatorSpki: r.channelSpki,
    force: params.force ?? false,
    sealed,
  });
  let signed = false;
  try {
    signed = cryptoVerify(
      'sha256',
      message,
      { key: seedShareOwnerKey(owner), padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
      params.signature,
    );
  } catch {
    signed = false;
  }
  if (!signed) {
    throw new AuthorityError(
      'invalid-signature',
      'the recover request is not signed by that seed-share owner',
      {
        field: 'signature',
      },
    );
  }
  return { events, latest, manifest, manifestBytes, sealed };
}

/** The serialized part of an owner recovery: open the seed, check it, activate. */
export async function recoverWithSeed(
  r: Replica,
  params: RecoverParams,
  authorized: AuthorizedRecover,
): Promise<{ rootCaPem: string; meshCaPem: string }> {
  const { events, latest, manifest, manifestBytes, sealed } = authorized;
  // Another recovery may have finished while this one waited its turn.
  if (r.active) throw new AuthorityError('already-recovered', 'the Coordinator is not in recovery mode');
  const { seed, salt } = openRecoverySecret(r.opts.channelKey, params.nonce, sealed);
  let engine: SeedEngine;
  try {
    engine = new SeedEngine(seed, salt);
  } finally {
    seed.fill(0);
  }
  const ok = verifyLatestTransition(
    { transitionHash: fromHex(latest.transitionHash), signature: latest.signature },
    engine.transactionSigningPublicKey(),
  );
  if (!ok) {
    throw new AuthorityError(
      'permission-denied',
      'the seed does not match the history (the latest transition signature does not verify)',
      {
        field: 'seed',
      },
    );
  }
  const ca = await createCaHierarchy(engine, { logger: r.log, ...r.nowOption() });
  await r.activate({ engine, manifest, manifestBytes, ca, latest, events });
  r.log.info('recovered', { transitionHash: latest.transitionHash, generation: r.generation });
  return { rootCaPem: ca.root.pem, meshCaPem: ca.meshCa.pem };
}
