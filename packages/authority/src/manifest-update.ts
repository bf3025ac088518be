// Manifest updates: the first manifest (trust on first use: a fresh seed, seed shares for the
// owners) and signed updates (a workload owner's signature over the new transition, compare-and-
// swap on the store's latest pointer). The caller serializes (Replica.serialize).
import { createHash } from 'node:crypto';
import { verifiersForReferenceValues } from '@contrast-cc/api';
import {
  transitionHash as computeTransitionHash,
  createCaHierarchy,
  createSeedShareDocument,
  SeedEngine,
  type SeedShareDocument,
  seedShareOwnerKey,
  signLatestTransition,
  verifyOwnerSignature,
} from '@contrast-cc/certs';
import { fromHex, isContrastError } from '@contrast-cc/core';
import { parseManifest } from '@contrast-cc/manifest';
import { type History, type VersionedLatest, ZERO_HASH } from '@contrast-cc/store';
import { AuthorityError } from './errors.js';
import { normalizedPolicies, type Replica } from './state.js';
import type { SetManifestParams, SetManifestResult } from './types.js';

const sha256Hex = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function sameKeySet(
  a: readonly string[] | null | undefined,
  b: readonly string[] | null | undefined,
): boolean {
  const sa = new Set((a ?? []).map((x) => x.toLowerCase()));
  const sb = new Set((b ?? []).map((x) => x.toLowerCase()));
  return sa.size === sb.size && [...sa].every((x) => sb.has(x));
}

/** Sets the first manifest (trust on first use) or updates it (owner signature required). Runs serialized. */
export async function updateManifest(r: Replica, params: SetManifestParams): Promise<SetManifestResult> {
  const { manifest } = parseManifest(params.manifest);
  const byHash = new Map<string, Uint8Array>();
  params.policies.forEach((p) => {
    byHash.set(sha256Hex(p), p);
  });
  const needed: Uint8Array[] = [];
  for (const hash of Object.keys(manifest.Policies)) {
    const doc = byHash.get(hash.toLowerCase());
    if (!doc) {
      throw new AuthorityError('invalid-request', `no policy document in the request hashes to ${hash}`, {
        field: `Policies[${JSON.stringify(hash)}]`,
      });
    }
    needed.push(doc);
  }
  const verifiers = verifiersForReferenceValues(r.opts.platforms, manifest.ReferenceValues, r.log);
  const manifestHash = sha256Hex(params.manifest);
  const latest = await r.opts.store.getLatest();
  r.storeLatest = latest?.value.transitionHash ?? null;

  let engine: SeedEngine;
  let seedShareDocument: SeedShareDocument | undefined;
  let generation: number;
  if (latest === null) {
    if (params.previousTransitionHash !== undefined && params.previousTransitionHash !== ZERO_HASH) {
      throw new AuthorityError(
        'manifest-conflict',
        'there is no previous transition: the Coordinator has no manifest',
        {
          field: 'previous_transition_hash',
        },
      );
    }
    engine = SeedEngine.generate();
    const owners = manifest.SeedshareOwnerPubKeys ?? [];
    if (owners.length > 0) {
      seedShareDocument = createSeedShareDocument({
        seed: engine.seed(),
        salt: engine.salt(),
        ownerPublicKeys: owners.map((hex) => seedShareOwnerKey(hex)),
        // k > 1: one Shamir share per owner, no single owner learns the seed.
        ...((manifest.SeedshareThreshold ?? 1) > 1 ? { threshold: manifest.SeedshareThreshold } : {}),
        logger: r.log,
      });
    } else {
      r.log.warn('the manifest names no seed-share owners: the Coordinator cannot be recovered');
    }
    generation = 1;
  } else {
    const a = r.active;
    if (!a || a.transitionHash !== latest.value.transitionHash) {
      throw new AuthorityError('needs-recovery', 'coordinator is in recovery mode');
    }
    if (params.previousTransitionHash !== undefined && params.previousTransitionHash !== a.transitionHash) {
      throw new AuthorityError(
        'manifest-conflict',
        'the latest transition is not the expected previous transition',
        {
          field: 'previous_transition_hash',
        },
      );
    }
    const owners = a.manifest.WorkloadOwnerPubKeys ?? [];
    if (owners.length === 0) {
      throw new AuthorityError(
        'permission-denied',
        'setting the manifest is disabled: the manifest has no workload owners',
      );
    }
    const next = computeTransitionHash(fromHex(manifestHash), fromHex(a.transitionHash));
    if (!params.signature) {
      throw new AuthorityError(
        'invalid-signature',
        'updating the manifest needs a workload owner signature',
        {
          field: 'signature',
        },
      );
    }
    const signature = params.signature;
    const ok = owners.some((hex) => {
      try {
        return verifyOwnerSignature(next, signature, fromHex(hex));
      } catch {
        return false;
      }
    });
    if (!ok) {
      throw new AuthorityError(
        'invalid-signature',
        'the signature is not a workload owner signature over the new transition',
        {
          field: 'signature',
        },
      );
    }
    if (!sameKeySet(a.manifest.SeedshareOwnerPubKeys, manifest.SeedshareOwnerPubKeys)) {
      throw new AuthorityError('permission-denied', 'changes to seedshare owners are not allowed', {
        field: 'SeedshareOwnerPubKeys',
      });
    }
    if ((a.manifest.SeedshareThreshold ?? 1) !== (manifest.SeedshareThreshold ?? 1)) {
      // The shares were made with the first manifest; another k would not describe them.
      throw new AuthorityError('permission-denied', 'changes to the seed-share threshold are not allowed', {
        field: 'SeedshareThreshold',
      });
    }
    engine = a.engine;
    generation = a.generation + 1;
  }

  const history = r.history(engine);
  let committed: Awaited<ReturnType<History['commitManifest']>>;
  try {
    committed = await history.commitManifest(params.manifest, needed, latest as VersionedLatest | null);
  } catch (e) {
    if (isContrastError(e) && e.code === 'conflict') {
      throw new AuthorityError(
        'manifest-conflict',
        'another update was committed concurrently; read the state and retry',
        {
          cause: e,
        },
      );
    }
    throw e;
  }
  r.own.add(committed.transitionHash);
  r.storeLatest = committed.transitionHash;
  const ca = await createCaHierarchy(engine, { logger: r.log, ...r.nowOption() });
  r.active = {
    engine,
    manifest,
    manifestBytes: params.manifest,
    policies: normalizedPolicies(manifest),
    verifiers,
    ca,
    transitionHash: committed.transitionHash,
    signature: signLatestTransition(fromHex(committed.transitionHash), engine.transactionSigningKey())
      .signature,
    version: committed.version,
    generation,
  };
  r.log.info('manifest set', {
    transitionHash: committed.transitionHash,
    manifestHash,
    generation,
    initial: latest === null,
  });
  return {
    rootCaPem: ca.root.pem,
    meshCaPem: ca.meshCa.pem,
    transitionHash: committed.transitionHash,
    ...(seedShareDocument ? { seedShareDocument } : {}),
  };
}
