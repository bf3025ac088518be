// Mesh-certificate issuance: an initializer's evidence (our nonce or its TLS connection's
// exporter, its certificate key and our channel key bound; the manifest's reference values; its policy hash in the manifest) buys a
// mesh certificate with the policy's SANs and claims, and the workload secret.
import { meshCertChannelReportData, meshCertReportData } from '@contrast-cc/api';
import { certificateKeySpki } from '@contrast-cc/certs';
import { AuthorityError } from './errors.js';
import { manifestWorkloadSecret, type Replica } from './state.js';
import type { MeshCertificateParams, MeshCertificateResult } from './types.js';

/**
 * Checks an initializer's evidence (nonce or the TLS connection's exporter, certificate key and
 * this Coordinator's channel key bound; reference values of the manifest; policy hash in the
 * manifest) and issues its mesh certificate with the workload secret.
 */
export async function issueMeshCertificate(
  r: Replica,
  params: MeshCertificateParams,
): Promise<MeshCertificateResult> {
  // A channel binding needs no nonce: the connection's exporter is already fresh and unique.
  if (params.channelBinding === undefined) r.consumeNonce(params.nonce);
  const a = r.requireActive();
  // The key is checked before the evidence (cheap first); the CA certifies these exact bytes.
  let publicKey: Uint8Array;
  try {
    publicKey = certificateKeySpki(params.publicKey, 'public_key');
  } catch {
    throw new AuthorityError('invalid-request', 'not a DER SubjectPublicKeyInfo', { field: 'public_key' });
  }
  const reportData =
    params.channelBinding !== undefined
      ? await meshCertChannelReportData(params.channelBinding, params.publicKey, r.channelSpki)
      : await meshCertReportData(params.nonce, params.publicKey, r.channelSpki);
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
    ...(entry.WorkloadSecretID ? { workloadSecret: manifestWorkloadSecret(a, entry.WorkloadSecretID) } : {}),
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
