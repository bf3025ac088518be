import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createPlatformRegistry, type PlatformRegistry } from '@contrast-cc/core';
import { createFakePlatform, FakeIssuer, FakeVerifier } from '@contrast-cc/core/testing';

export const MEASUREMENT = 'ab'.repeat(48);
const sha256Hex = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** The fake platform with a verifier that checks the manifest's TrustedMeasurement (as main.ts builds it). */
export function registry(): PlatformRegistry {
  const base = createFakePlatform();
  return createPlatformRegistry([
    createFakePlatform({
      attestation: {
        ...base.attestation,
        createVerifier: ({ referenceValues }) =>
          new FakeVerifier({
            measurement: (referenceValues as { TrustedMeasurement?: string }).TrustedMeasurement,
          }),
      },
    }),
  ]);
}

export interface Keys {
  ownerPrivate: KeyObject;
  ownerHex: string;
  seedOwnerPrivate: KeyObject;
  seedOwnerHex: string;
}

let cached: Keys | undefined;
export function keys(): Keys {
  if (!cached) {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    cached = {
      ownerPrivate: ec.privateKey,
      ownerHex: ec.publicKey.export({ type: 'spki', format: 'der' }).toString('hex'),
      seedOwnerPrivate: rsa.privateKey,
      seedOwnerHex: rsa.publicKey.export({ type: 'pkcs1', format: 'der' }).toString('hex'),
    };
  }
  return cached;
}

export interface Deployment {
  manifest: Uint8Array;
  manifestJson: { ReferenceValues: { snp: Record<string, unknown>[] } } & Record<string, unknown>;
  policies: Uint8Array[];
  hashes: Record<string, string>;
}

/** A manifest with a coordinator policy and the named workloads, plus their policy documents. */
export function deployment(workloads: string[] = ['web', 'db', 'cache'], tag = ''): Deployment {
  const k = keys();
  const policies: Uint8Array[] = [];
  const hashes: Record<string, string> = {};
  const Policies: Record<string, unknown> = {};
  for (const name of ['coordinator', ...workloads]) {
    const doc = new TextEncoder().encode(`[data]\n"policy.rego" = "package agent_policy # ${name}${tag}"\n`);
    policies.push(doc);
    const h = sha256Hex(doc);
    hashes[name] = h;
    Policies[h] =
      name === 'coordinator'
        ? { SANs: ['coordinator'], Role: 'coordinator' }
        : { SANs: [name, '127.0.0.1', 'localhost'], WorkloadSecretID: `apps/v1/Deployment/default/${name}` };
  }
  const manifestJson = {
    Policies,
    ReferenceValues: {
      snp: [
        {
          Platform: 'Fake-Platform',
          Insecure: true,
          ProductName: 'Genoa',
          TrustedMeasurement: MEASUREMENT,
          MinimumTCB: { BootloaderVersion: 0, TEEVersion: 0, SNPVersion: 0, MicrocodeVersion: 0 },
        },
      ],
    },
    WorkloadOwnerPubKeys: [k.ownerHex],
    SeedshareOwnerPubKeys: [k.seedOwnerHex],
  };
  return {
    manifest: new TextEncoder().encode(JSON.stringify(manifestJson, null, 2)),
    manifestJson,
    policies,
    hashes,
  };
}

/** The issuer of a pod whose initdata hashes to `policyHash`. */
export function podIssuer(policyHash: string, measurement = MEASUREMENT): FakeIssuer {
  return new FakeIssuer({ measurement, policyDigest: policyHash });
}
