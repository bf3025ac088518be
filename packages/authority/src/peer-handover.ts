// Peer hand-over, both sides. Active side (handOverToPeer): a stale replica's evidence must bind
// our nonce, its ephemeral key and our channel key, pass the manifest's verifiers and carry a
// `Role: coordinator` policy; then seed, salt and mesh CA key are sealed to its ephemeral key.
// Stale side (recoverFromPeer, serialized by the caller): what the peer handed over must match
// the store (latest transition, its signature, the root CA the seed reproduces, the mesh CA of
// the handed-over key) before this replica adopts the peer's CA certificates and becomes active.
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { peerRecoverReportData, type SealedSecret, sealPeerSecret } from '@contrast-cc/api';
import { type CaHierarchy, restoreCaHierarchy, SeedEngine, verifyLatestTransition } from '@contrast-cc/certs';
import { fromHex, isContrastError, spkiProblem } from '@contrast-cc/core';
import { parseManifest } from '@contrast-cc/manifest';
import { History } from '@contrast-cc/store';
import { AuthorityError } from './errors.js';
import type { Replica } from './state.js';
import type { PeerHandOverParams, PeerHandOverResult, PeerRecoveryInput } from './types.js';

/** `restoreCaHierarchy`'s field names -> the peer-recover wire fields. */
const PEER_CA_FIELDS: Record<string, string> = {
  root: 'root_ca',
  intermediate: 'intermediate_ca',
  meshCa: 'mesh_ca',
  meshCaKey: 'mesh_ca_key',
};

/**
 * Peer recovery, active side: checks a stale replica's evidence (our nonce, its ephemeral key
 * and our channel key bound; the manifest's reference values; its policy hash must have
 * `Role: coordinator` in the active manifest) and seals seed, salt and mesh CA key to its
 * ephemeral key. Refusals: `attestation-failed` / `permission-denied`.
 */
export async function handOverToPeer(r: Replica, params: PeerHandOverParams): Promise<PeerHandOverResult> {
  r.consumeNonce(params.nonce);
  const a = r.requireActive();
  let ephemeral: KeyObject;
  try {
    // Checked before the import: an EC key at the point at infinity imports, and node aborts the
    // process when its details are read below.
    if (spkiProblem(params.ephemeralPublicKey)) throw new Error('not a valid SPKI');
    ephemeral = createPublicKey({
      key: Buffer.from(params.ephemeralPublicKey),
      format: 'der',
      type: 'spki',
    });
  } catch {
    throw new AuthorityError('invalid-request', 'not a DER SubjectPublicKeyInfo', {
      field: 'ephemeral_public_key',
    });
  }
  const curve = ephemeral.asymmetricKeyDetails?.namedCurve;
  if (ephemeral.asymmetricKeyType !== 'ec' || (curve !== 'prime256v1' && curve !== 'secp384r1')) {
    throw new AuthorityError('invalid-request', 'the ephemeral key must be a P-256 or P-384 key', {
      field: 'ephemeral_public_key',
    });
  }
  const reportData = await peerRecoverReportData(params.nonce, params.ephemeralPublicKey, r.channelSpki);
  const { claims } = await r.attest(a.verifiers, params.evidence, reportData);
  const policyHash = claims.policyDigest?.toLowerCase();
  if (!policyHash || a.policies.get(policyHash)?.Role !== 'coordinator') {
    r.opts.onAttestationFailure?.({
      code: 'policy-mismatch',
      message: 'policy hash is not a coordinator of the manifest',
      field: 'policyDigest',
    });
    r.log.warn('refused a peer: not a coordinator policy', { policyHash });
    throw new AuthorityError(
      'permission-denied',
      `policy hash ${policyHash ?? '(none)'} is not a coordinator policy of the manifest`,
      { field: 'policyDigest' },
    );
  }
  if (r.active !== a) throw new AuthorityError('needs-recovery', 'coordinator is in recovery mode');
  const seed = a.engine.seed();
  const meshCaKey = new Uint8Array(a.ca.meshCaKey().export({ type: 'pkcs8', format: 'der' }));
  let sealed: SealedSecret;
  try {
    sealed = sealPeerSecret(params.ephemeralPublicKey, params.nonce, {
      seed,
      salt: a.engine.salt(),
      meshCaKey,
    });
  } finally {
    seed.fill(0);
    meshCaKey.fill(0);
  }
  r.log.info('handed the secrets to a peer Coordinator', {
    policyHash,
    transitionHash: a.transitionHash,
  });
  return {
    transitionHash: a.transitionHash,
    rootCaPem: a.ca.root.pem,
    meshCaPem: a.ca.meshCa.pem,
    intermediateCaPem: a.ca.intermediate.pem,
    sealed,
    policyHash,
  };
}

export async function recoverFromPeer(
  r: Replica,
  input: PeerRecoveryInput,
): Promise<{ rootCaPem: string; meshCaPem: string }> {
  if (r.active) throw new AuthorityError('already-recovered', 'the Coordinator is not in recovery mode');
  const events = r.latestEvents;
  const unverified = new History({ store: r.opts.store, logger: r.log });
  const latest = await unverified.getLatest({ verify: false });
  if (!latest) throw new AuthorityError('no-manifest', 'no state to recover from');
  if (latest.transitionHash !== input.transitionHash.toLowerCase()) {
    throw new AuthorityError('manifest-conflict', 'the peer is not at the latest transition of the store', {
      field: 'transition_hash',
    });
  }
  const mismatch = (what: string, field: string) =>
    new AuthorityError('permission-denied', `the peer's secrets do not match the history: ${what}`, {
      field,
    });
  let engine: SeedEngine;
  try {
    engine = new SeedEngine(input.secret.seed, input.secret.salt);
  } catch {
    throw mismatch('not a valid seed and salt', 'seed');
  }
  const signed = verifyLatestTransition(
    { transitionHash: fromHex(latest.transitionHash), signature: latest.signature },
    engine.transactionSigningPublicKey(),
  );
  if (!signed) throw mismatch('the latest transition signature does not verify with the seed', 'seed');
  let meshCaKey: KeyObject;
  try {
    meshCaKey = createPrivateKey({
      key: Buffer.from(input.secret.meshCaKey),
      format: 'der',
      type: 'pkcs8',
    });
  } catch {
    throw mismatch('the mesh CA key does not parse', 'mesh_ca_key');
  }
  // Adopt the peer's CA certificates, never rebuild them: restoreCaHierarchy checks that the
  // seed reproduces the root byte for byte, that intermediate and mesh CA are for the mesh CA
  // key, signed by the root / self-signed, exactly our profile, and valid now.
  let ca: CaHierarchy;
  try {
    ca = await restoreCaHierarchy(engine, {
      root: input.rootCaDer,
      meshCa: input.meshCaDer,
      ...(input.intermediateCaDer ? { intermediate: input.intermediateCaDer } : {}),
      meshCaKey,
      logger: r.log,
      ...r.nowOption(),
    });
  } catch (e) {
    if (!isContrastError(e)) throw e;
    const field = PEER_CA_FIELDS[e.field ?? ''] ?? 'mesh_ca';
    if (field === 'mesh_ca_key') throw mismatch(e.message, field);
    throw new AuthorityError(
      'permission-denied',
      `the peer's ${field} certificate is refused: ${e.message}`,
      {
        field,
      },
    );
  }
  if (!input.intermediateCaDer) {
    r.log.warn(
      'the peer sent no intermediate CA certificate (an older version): adopted its root and mesh CA certificates, issued a new intermediate',
    );
  }
  if (r.active) throw new AuthorityError('already-recovered', 'the Coordinator is not in recovery mode');
  const manifestBytes = await unverified.getManifest(latest.manifestHash);
  const { manifest } = parseManifest(manifestBytes);
  await r.activate({ engine, manifest, manifestBytes, ca, latest, events });
  r.log.info('recovered from a peer', {
    transitionHash: latest.transitionHash,
    generation: r.generation,
  });
  return { rootCaPem: ca.root.pem, meshCaPem: ca.meshCa.pem };
}
