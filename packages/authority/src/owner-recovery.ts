// Owner recovery: a stale replica gets the seed and salt back from a seed-share owner. The checks
// that need no secret (nonce, state, owner key, RSA-PSS signature) run first and outside the
// serialized section (authorizeRecover); opening the sealed seed, checking it against the stored
// latest-pointer signature and activating run serialized (recoverWithSeed).
// k-of-n recovery (SeedshareThreshold k > 1): k owners' released shares arrive sealed together;
// opening and checking them (owners of the manifest, owner signatures, one seed, no duplicates,
// at least k) runs outside the serialized section (authorizeShares); combining them into the
// seed — here and nowhere else — and the same history check and activation run serialized
// (recoverWithShares).
import { constants, verify as cryptoVerify } from 'node:crypto';
import { openRecoverySecret, openRecoveryShares, recoverSignedMessage } from '@contrast-cc/api';
import {
  type CheckedShares,
  checkReleasedShares,
  combineShares,
  createCaHierarchy,
  SeedEngine,
  SeedShareSetError,
  seedShareOwnerKey,
  verifyLatestTransition,
} from '@contrast-cc/certs';
import { fromHex, isContrastError } from '@contrast-cc/core';
import { type Manifest, parseManifest } from '@contrast-cc/manifest';
import { History } from '@contrast-cc/store';
import { AuthorityError } from './errors.js';
import type { Replica } from './state.js';
import type { RecoverParams, RecoverSharesParams } from './types.js';

/** What the checks of a recover request found (see `Authority.recover`). */
export interface AuthorizedRecover {
  /** Latest-pointer changes seen before the checks (a change meanwhile refuses the recovery). */
  events: number;
  latest: NonNullable<Awaited<ReturnType<History['getLatest']>>>;
  manifest: Manifest;
  manifestBytes: Uint8Array;
  sealed: { ephemeralPublicKey: Uint8Array; ciphertext: Uint8Array };
}

/** Consumes the nonce and reads what a recovery recovers to: the store's latest state, unverified yet. */
async function recoveryState(r: Replica, nonce: Uint8Array) {
  r.consumeNonce(nonce);
  if (r.active) throw new AuthorityError('already-recovered', 'the Coordinator is not in recovery mode');
  const events = r.latestEvents;
  const unverified = new History({ store: r.opts.store, logger: r.log });
  const latest = await unverified.getLatest({ verify: false });
  if (!latest) throw new AuthorityError('no-manifest', 'no state to recover from');
  const manifestBytes = await unverified.getManifest(latest.manifestHash);
  const { manifest } = parseManifest(manifestBytes);
  return { events, latest, manifest, manifestBytes };
}

/** The checks of a recover request that need no secret: nonce, state, owner and signature. */
export async function authorizeRecover(r: Replica, params: RecoverParams): Promise<AuthorizedRecover> {
  const { events, latest, manifest, manifestBytes } = await recoveryState(r, params.nonce);
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
  // Another recovery may have finished while this one waited its turn.
  if (r.active) throw new AuthorityError('already-recovered', 'the Coordinator is not in recovery mode');
  const { seed, salt } = openRecoverySecret(r.opts.channelKey, params.nonce, authorized.sealed);
  let engine: SeedEngine;
  try {
    engine = new SeedEngine(seed, salt);
  } finally {
    seed.fill(0);
  }
  return activateWithEngine(
    r,
    engine,
    authorized,
    new AuthorityError(
      'permission-denied',
      'the seed does not match the history (the latest transition signature does not verify)',
      { field: 'seed' },
    ),
  );
}

/** What the checks of a k-of-n recover request found. */
export interface AuthorizedShares extends Omit<AuthorizedRecover, 'sealed'> {
  /** The checked shares and their salt (secret: wiped after use). */
  checked: CheckedShares;
}

/** The AuthorityError of a refused share set: too few / duplicate are bad requests, a tampered share a bad signature. */
function shareRefusal(e: SeedShareSetError): AuthorityError {
  const kind =
    e.problem === 'tampered'
      ? 'invalid-signature'
      : e.problem === 'foreign'
        ? 'permission-denied'
        : 'invalid-request';
  return new AuthorityError(kind, e.message, { ...(e.field ? { field: e.field } : {}) });
}

/**
 * The checks of a k-of-n recover request (`POST /v1/recover/shares`), outside the serialized
 * section: nonce, state, a split seed in the latest manifest, then the sealed shares opened with
 * the channel key and checked against the manifest's owners and k (`checkReleasedShares`).
 */
export async function authorizeShares(r: Replica, params: RecoverSharesParams): Promise<AuthorizedShares> {
  const state = await recoveryState(r, params.nonce);
  const k = state.manifest.SeedshareThreshold ?? 1;
  if (k < 2) {
    throw new AuthorityError(
      'invalid-request',
      "the manifest's seed is not split (no SeedshareThreshold above 1): every owner recovers alone with their key",
      { field: 'shares' },
    );
  }
  const released = openRecoveryShares(r.opts.channelKey, params.nonce, {
    ephemeralPublicKey: params.ephemeralPublicKey,
    ciphertext: params.ciphertext,
  });
  try {
    const checked = checkReleasedShares(released, {
      ownerKeys: state.manifest.SeedshareOwnerPubKeys ?? [],
      threshold: k,
    });
    return { ...state, checked };
  } catch (e) {
    if (e instanceof SeedShareSetError) throw shareRefusal(e);
    throw e;
  }
}

/** The serialized part of a k-of-n recovery: combine the shares (only here), check the seed, activate. */
export async function recoverWithShares(
  r: Replica,
  authorized: AuthorizedShares,
): Promise<{ rootCaPem: string; meshCaPem: string }> {
  const { checked } = authorized;
  try {
    if (r.active) throw new AuthorityError('already-recovered', 'the Coordinator is not in recovery mode');
    let seed: Uint8Array;
    try {
      seed = combineShares(checked.shares);
    } catch (e) {
      if (!isContrastError(e)) throw e;
      throw new AuthorityError(
        'permission-denied',
        'the shares do not recombine to one seed: shares of different splits',
        {
          field: 'shares',
        },
      );
    }
    let engine: SeedEngine;
    try {
      engine = new SeedEngine(seed, checked.salt);
    } finally {
      seed.fill(0);
    }
    return await activateWithEngine(
      r,
      engine,
      authorized,
      new AuthorityError(
        'permission-denied',
        'the shares are of another seed: the seed they recombine to does not match the history (the latest transition signature does not verify)',
        { field: 'shares' },
      ),
    );
  } finally {
    for (const s of checked.shares) s.fill(0);
  }
}

/** Checks the seed against the store's latest-pointer signature, then activates with it. */
async function activateWithEngine(
  r: Replica,
  engine: SeedEngine,
  authorized: Omit<AuthorizedRecover, 'sealed'>,
  mismatch: AuthorityError,
): Promise<{ rootCaPem: string; meshCaPem: string }> {
  const { events, latest, manifest, manifestBytes } = authorized;
  const ok = verifyLatestTransition(
    { transitionHash: fromHex(latest.transitionHash), signature: latest.signature },
    engine.transactionSigningPublicKey(),
  );
  if (!ok) throw mismatch;
  const ca = await createCaHierarchy(engine, { logger: r.log, ...r.nowOption() });
  await r.activate({ engine, manifest, manifestBytes, ca, latest, events });
  r.log.info('recovered', { transitionHash: latest.transitionHash, generation: r.generation });
  return { rootCaPem: ca.root.pem, meshCaPem: ca.meshCa.pem };
}
