// Test-only: what a Coordinator with a two-manifest history answers (fake evidence).
import { createHash, generateKeyPairSync } from 'node:crypto';
import { ATLS_LABELS, reportDataFor } from '@contrast-cc/atls/binding';
import { FakeIssuer } from '@contrast-cc/core/testing';
import { coordinatorStateDigest } from '../binding.js';
import type { CoordinatorAttestation } from '../coordinator-verify.js';
import { evidenceToWire, toBase64 } from '../schemas.js';

export const sha256 = (b: Uint8Array) => new Uint8Array(createHash('sha256').update(b).digest());
export const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
export const utf8 = (s: string) => new TextEncoder().encode(s);
export const COORDINATOR_POLICY = 'c0'.repeat(32);
export const WORKLOAD_POLICY_DOC = utf8('workload policy document');
export const COORDINATOR_POLICY_DOC = utf8('coordinator policy document');

export function certPem(der: Uint8Array): string {
  return `-----BEGIN CERTIFICATE-----\n${toBase64(der).replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE-----\n`;
}

export function manifestBytes(extra: string): Uint8Array {
  return utf8(
    `${JSON.stringify(
      {
        Policies: {
          [COORDINATOR_POLICY]: { Role: 'coordinator' },
          [hex(sha256(WORKLOAD_POLICY_DOC))]: { SANs: [extra] },
          [hex(sha256(COORDINATOR_POLICY_DOC))]: {},
        },
      },
      null,
      2,
    )}\n`,
  );
}

/** What a Coordinator with a two-manifest history answers to `nonce` (fake evidence). */
export async function answer(
  options: { policyDigest?: string; manifests?: Uint8Array[]; nonce?: Uint8Array } = {},
) {
  const nonce = options.nonce ?? new Uint8Array(32).fill(7);
  const spki = new Uint8Array(
    generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' }),
  );
  const manifests = options.manifests ?? [manifestBytes('a'), manifestBytes('b')];
  let t = new Uint8Array(32);
  for (const m of manifests) t = sha256(new Uint8Array([...sha256(m), ...t]));
  const rootDer = utf8('root CA certificate DER stand-in');
  const meshDer = utf8('mesh CA certificate DER stand-in');
  const state = { status: 'active' as const, transitionHash: hex(t), rootCaDer: rootDer, meshCaDer: meshDer };
  const digest = coordinatorStateDigest(state);
  const reportData = await reportDataFor({
    label: ATLS_LABELS.channel,
    nonce,
    publicKey: spki,
    stateDigest: digest,
  });
  const evidence = await new FakeIssuer({ policyDigest: options.policyDigest ?? COORDINATOR_POLICY }).issue(
    reportData,
  );
  const response = {
    version: 'v1',
    status: 'active',
    latest_transition: { transition_hash: hex(t), signature: toBase64(utf8('sig')) },
    root_ca: certPem(rootDer),
    mesh_ca: certPem(meshDer),
    manifests: manifests.map(toBase64),
    policies: [toBase64(WORKLOAD_POLICY_DOC), toBase64(COORDINATOR_POLICY_DOC)],
    evidence: evidenceToWire(evidence),
    stateDigest: toBase64(digest),
    tls_spki: toBase64(spki),
  };
  const attestation: CoordinatorAttestation = { nonce, tlsSpki: spki, response };
  return { attestation, response, manifests, rootDer };
}
