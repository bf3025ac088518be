// Fixtures for tests of the Coordinator's logic and server, shared by this package's tests and
// the Coordinator app's tests through the `@contrast-cc/authority/testing` subpath (kept out of
// the main entry): a fake platform checking TrustedMeasurement, owner keys, a manifest with its
// policies, pod issuers, owner signatures, recover requests, a temp store.
import {
  constants,
  createHash,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
} from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  type ReleasedSeedShareWire,
  recoverSignedMessage,
  sealRecoverySecret,
  sealRecoveryShares,
} from '@contrast-cc/api';
import { signTransitionAsOwner, transitionHash } from '@contrast-cc/certs';
import { createPlatformRegistry, fromHex, type Platform, type PlatformRegistry } from '@contrast-cc/core';
import { createFakePlatform, FakeIssuer, FakeVerifier } from '@contrast-cc/core/testing';
import { DirectoryHistoryStore } from '@contrast-cc/store';
import type { RecoverParams, RecoverSharesParams } from '../types.js';

export const MEASUREMENT = 'ab'.repeat(48);
const sha256Hex = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** A fake platform whose verifier checks the manifest's TrustedMeasurement (as the Coordinator's main builds it). */
export function fakePlatform(): Platform {
  const base = createFakePlatform();
  return createFakePlatform({
    attestation: {
      ...base.attestation,
      createVerifier: ({ referenceValues }) =>
        new FakeVerifier({
          measurement: (referenceValues as { TrustedMeasurement?: string }).TrustedMeasurement,
        }),
    },
  });
}

export function registry(): PlatformRegistry {
  return createPlatformRegistry([fakePlatform()]);
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
  /** The manifest as the object it was serialized from. */
  manifestJson: { ReferenceValues: { snp: Record<string, unknown>[] } } & Record<string, unknown>;
  policies: Uint8Array[];
  /** Policy hashes by name: coordinator, web, db, ... */
  hashes: Record<string, string>;
}

/** A manifest with a coordinator policy and the named workloads, plus the policy documents. */
export function deployment(
  workloads: string[] = ['web', 'db', 'cache'],
  options: { seedOwners?: string[]; owners?: string[]; tag?: string; seedshareThreshold?: number } = {},
): Deployment {
  const k = keys();
  const policies: Uint8Array[] = [];
  const hashes: Record<string, string> = {};
  const Policies: Record<string, unknown> = {};
  for (const name of ['coordinator', ...workloads]) {
    const doc = new TextEncoder().encode(
      `algorithm = "sha256"\nversion = "0.1.0"\n[data]\n"policy.rego" = "${name}${options.tag ?? ''}"\n`,
    );
    policies.push(doc);
    const h = sha256Hex(doc);
    hashes[name] = h;
    Policies[h] =
      name === 'coordinator'
        ? { SANs: ['coordinator'], Role: 'coordinator' }
        : {
            SANs: [name, `${name}.default.svc`, '127.0.0.1', 'localhost'],
            WorkloadSecretID: `apps/v1/Deployment/default/${name}`,
          };
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
    WorkloadOwnerPubKeys: options.owners ?? [k.ownerHex],
    SeedshareOwnerPubKeys: options.seedOwners ?? [k.seedOwnerHex],
    ...(options.seedshareThreshold === undefined ? {} : { SeedshareThreshold: options.seedshareThreshold }),
  };
  return {
    manifest: new TextEncoder().encode(JSON.stringify(manifestJson, null, 2)),
    manifestJson,
    policies,
    hashes,
  };
}

/** The workload owner's signature for setting `manifest` after `previous`. */
export function ownerSignature(manifest: Uint8Array, previous: string, key: KeyObject = keys().ownerPrivate) {
  return signTransitionAsOwner(transitionHash(fromHex(sha256Hex(manifest)), fromHex(previous)), key);
}

/** The issuer of a pod whose initdata hashes to `policyHash`. */
export function podIssuer(policyHash: string, measurement = MEASUREMENT): FakeIssuer {
  return new FakeIssuer({ measurement, policyDigest: policyHash });
}

/** A recover request as the CLI builds it. */
export function recoverRequest(
  nonce: Uint8Array,
  coordinatorSpki: Uint8Array,
  secret: { seed: Uint8Array; salt: Uint8Array },
  ownerPrivate: KeyObject = keys().seedOwnerPrivate,
  force = false,
): RecoverParams {
  const sealed = sealRecoverySecret(coordinatorSpki, nonce, secret.seed, secret.salt);
  const message = recoverSignedMessage({ nonce, coordinatorSpki, force, sealed });
  const signature = new Uint8Array(
    sign('sha256', message, { key: ownerPrivate, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }),
  );
  return {
    nonce,
    ephemeralPublicKey: sealed.ephemeralPublicKey,
    ciphertext: sealed.ciphertext,
    ownerPublicKey: pkcs1Hex(ownerPrivate),
    signature,
    force,
  };
}

/** A seed-share owner: the RSA private key and the manifest form of its public key. */
export interface SeedShareOwner {
  privateKey: KeyObject;
  hex: string;
}

const owners: SeedShareOwner[] = [];
/** `n` seed-share owners with RSA-2048 keys (made once per process, the first is not `keys()`'s). */
export function seedShareOwners(n: number): SeedShareOwner[] {
  while (owners.length < n) {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    owners.push({ privateKey, hex: pkcs1Hex(privateKey) });
  }
  return owners.slice(0, n);
}

/** A k-of-n recover request as the CLI builds it: released shares sealed to the Coordinator's key. */
export function recoverSharesRequest(
  nonce: Uint8Array,
  coordinatorSpki: Uint8Array,
  shares: readonly ReleasedSeedShareWire[],
  force = false,
): RecoverSharesParams {
  const sealed = sealRecoveryShares(coordinatorSpki, nonce, shares);
  return { nonce, ephemeralPublicKey: sealed.ephemeralPublicKey, ciphertext: sealed.ciphertext, force };
}

function pkcs1Hex(key: KeyObject): string {
  return createPublicKey(key).export({ type: 'pkcs1', format: 'der' }).toString('hex');
}

export async function tempStore(): Promise<DirectoryHistoryStore> {
  const dir = await mkdtemp(path.join(tmpdir(), 'authority-'));
  return DirectoryHistoryStore.open(dir, { pollIntervalMs: 50 });
}

export function channelKey(): KeyObject {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
}

/** Polls `cond` every 20 ms until it holds; throws after `ms`. */
export async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
