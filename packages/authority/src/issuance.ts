// Mesh-certificate issuance: an initializer's evidence (our nonce, its certificate key and our
// channel key bound; the manifest's reference values; its policy hash in the manifest) buys a
// mesh certificate with the policy's SANs and claims, and the workload secret.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { meshCertReportData } from '@contrast-cc/api';
import { AuthorityError } from './errors.js';
import type { Replica } from './state.js';
import type { MeshCertificateParams, MeshCertificateResult } from './types.js';

/** DER of a P-256 SubjectPublicKeyInfo up to its uncompressed point (RFC 5480): 26 bytes, then 04 x y. */
const P256_SPKI_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex');

/**
 * The key a mesh certificate is asked for, from its SPKI DER; throws when it is not a valid public
 * key. A P-256 key with an uncompressed point (what initializers send) is imported from its
 * coordinates, which node checks on the curve at about half the CPU of its DER decoder (on the
 * Coordinator's per-certificate path); every other key goes through the DER decoder.
 */
function importCertificateKey(spki: Uint8Array): KeyObject {
  const der = Buffer.from(spki.buffer, spki.byteOffset, spki.byteLength);
  if (der.length === 91 && der[26] === 0x04 && der.subarray(0, 26).equals(P256_SPKI_PREFIX)) {
    const x = der.subarray(27, 59).toString('base64url');
    const y = der.subarray(59, 91).toString('base64url');
    return createPublicKey({ key: { kty: 'EC', crv: 'P-256', x, y }, format: 'jwk' });
  }
  return createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' });
}

/**
 * Checks an initializer's evidence (nonce, certificate key and this Coordinator's channel key
 * bound; reference values of the manifest; policy hash in the manifest) and issues its mesh
 * certificate with the workload secret.
 */
export async function issueMeshCertificate(
  r: Replica,
  params: MeshCertificateParams,
): Promise<MeshCertificateResult> {
  r.consumeNonce(params.nonce);
  const a = r.requireActive();
  let publicKey: KeyObject;
  try {
    publicKey = importCertificateKey(params.publicKey);
  } catch {
    throw new AuthorityError('invalid-request', 'not a DER SubjectPublicKeyInfo', { field: 'public_key' });
  }
  const reportData = await meshCertReportData(params.nonce, params.publicKey, r.channelSpki);
  const { claims, now } = await r.attest(a.verifiers, params.evidence, reportData);
  const policyHash = claims.policyDigest?.toLowerCase();
  const entry = policyHash ? a.policies.get(policyHash) : undefined;
  if (!policyHash || !entry) {
    r.opts.onAttestationFailure?.({
      code: 'policy-mismatch',
      message: 'policy hash not in manifest',
      field: 'policyDigest',
    });
    throw new AuthorityError(
      'permission-denied',
      `policy hash ${policyHash ?? '(none)'} not found in manifest`,
      {
        field: 'policyDigest',
      },
    );
  }
  const cert = await a.ca.issueMeshCertificate({
    publicKey,
    sans: entry.SANs,
    ...(entry.WorkloadSecretID ? { workloadSecretId: entry.WorkloadSecretID } : {}),
    claims,
    ...(now ? { now } : {}),
  });
  return {
    certChainPem: cert.chainPem,
    meshCaPem: a.ca.meshCa.pem,
    rootCaPem: a.ca.root.pem,
    ...(entry.WorkloadSecretID ? { workloadSecret: a.engine.workloadSecret(entry.WorkloadSecretID) } : {}),
    policyHash,
    claims,
  };
}

/** A certificate for one of the Coordinator's own TLS services, from the current mesh CA (see `Authority.issueServiceCertificate`). */
export async function issueServiceCertificate(
  r: Replica,
  publicKey: Uint8Array,
  sans: string[],
): Promise<{ certChainPem: string; meshCaPem: string; generation: number }> {
  const a = r.requireActive();
  const cert = await a.ca.issueMeshCertificate({ publicKey, sans, ...r.nowOption() });
  return { certChainPem: cert.chainPem, meshCaPem: a.ca.meshCa.pem, generation: a.generation };
}
