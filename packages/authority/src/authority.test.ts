import { createPublicKey, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { meshCertReportData } from '@contrast-cc/api';
import {
  openSeedShare,
  type ReleasedSeedShare,
  recoverSeed,
  releaseSeedShare,
  SeedEngine,
  type SeedShareDocument,
} from '@contrast-cc/certs';
import { type ContrastError, toHex } from '@contrast-cc/core';
import { createMemoryLogger, type FakeIssuer } from '@contrast-cc/core/testing';
import type { DirectoryHistoryStore } from '@contrast-cc/store';
import { afterEach, describe, expect, it } from 'vitest';
import { Authority } from './authority.js';
import { AuthorityError } from './errors.js';
import {
  channelKey,
  deployment,
  keys,
  ownerSignature,
  podIssuer,
  recoverRequest,
  recoverSharesRequest,
  registry,
  seedShareOwners,
  tempStore,
  waitFor,
} from './testing/index.js';
import type { AuthorityOptions, SetManifestResult } from './types.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0)) await fn();
});

async function open(store: DirectoryHistoryStore, extra: Partial<AuthorityOptions> = {}) {
  const a = await Authority.open({
    store,
    platforms: registry(),
    channelKey: channelKey(),
    allowInsecure: true,
    ...extra,
  });
  cleanup.push(() => a.close());
  return a;
}

async function newStore() {
  const s = await tempStore();
  cleanup.push(() => s.close());
  return s;
}

const spkiOf = (k = generateKeyPairSync('ec', { namedCurve: 'P-256' })) => ({
  pair: k,
  spki: new Uint8Array(k.publicKey.export({ type: 'spki', format: 'der' })),
});

/** What an initializer does, against the authority directly. */
async function requestCert(a: Authority, issuer: FakeIssuer, options: { coordinatorSpki?: Uint8Array } = {}) {
  const { spki } = spkiOf();
  const nonce = a.createNonce();
  const evidence = await issuer.issue(
    await meshCertReportData(nonce, spki, options.coordinatorSpki ?? a.channelSpki),
  );
  return {
    spki,
    nonce,
    evidence,
    result: () => a.issueMeshCertificate({ nonce, publicKey: spki, evidence }),
  };
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return e instanceof AuthorityError ? e.kind : (e as ContrastError).code;
  }
}

function seedFrom(result: SetManifestResult) {
  const doc = result.seedShareDocument!;
  return recoverSeed(doc, [openSeedShare(doc, keys().seedOwnerPrivate)]);
}

describe('Authority state machine', () => {
  it('starts uninitialized, becomes active with the first manifest and returns seed shares', async () => {
    const a = await open(await newStore());
    expect(a.status).toBe('uninitialized');
    const before = toHex(a.stateDigest());
    const d = deployment();
    const res = await a.setManifest({ manifest: d.manifest, policies: d.policies });
    expect(a.status).toBe('active');
    expect(a.generation).toBe(1);
    expect(res.seedShareDocument?.SeedShares).toHaveLength(1);
    expect(toHex(a.stateDigest())).not.toBe(before);
    const state = await a.state();
    expect(state.manifests.map((m) => Buffer.from(m).toString())).toEqual([
      Buffer.from(d.manifest).toString(),
    ]);
    expect(state.policies).toHaveLength(4);
    expect(state.transitionHash).toBe(res.transitionHash);
  });

  it('refuses a manifest whose policy documents are missing, naming the policy', async () => {
    const a = await open(await newStore());
    const d = deployment();
    const err = await a.setManifest({ manifest: d.manifest, policies: d.policies.slice(1) }).catch((e) => e);
    expect(err.code).toBe('invalid-argument');
    expect(err.field).toContain(d.hashes.coordinator);
    expect(a.status).toBe('uninitialized');
  });

  it('refuses an invalid manifest with the field path', async () => {
    const a = await open(await newStore());
    const err = await a
      .setManifest({ manifest: new TextEncoder().encode('{"Policies":{}}'), policies: [] })
      .catch((e) => e);
    expect(err.code).toBe('validation-failed');
    expect(err.field).toBeDefined();
  });
});

describe('mesh certificates', () => {
  it('issues a certificate chain verifying against mesh CA and root CA, with the workload secret', async () => {
    const a = await open(await newStore());
    const d = deployment();
    const set = await a.setManifest({ manifest: d.manifest, policies: d.policies });
    const req = await requestCert(a, podIssuer(d.hashes.web!));
    const res = await req.result();
    const [leafPem, interPem] = res.certChainPem.split(/(?<=-----END CERTIFICATE-----\n)/);
    const leaf = new X509Certificate(leafPem!);
    const inter = new X509Certificate(interPem!);
    const meshCa = new X509Certificate(res.meshCaPem);
    const root = new X509Certificate(set.rootCaPem);
    expect(leaf.verify(meshCa.publicKey)).toBe(true);
    expect(leaf.verify(inter.publicKey)).toBe(true);
    expect(inter.verify(root.publicKey)).toBe(true);
    expect(leaf.publicKey.export({ type: 'spki', format: 'der' }).equals(Buffer.from(req.spki))).toBe(true);
    expect(leaf.subjectAltName).toContain('DNS:web');
    expect(res.workloadSecret).toHaveLength(64);
    expect(res.policyHash).toBe(d.hashes.web);
    // Same WorkloadSecretID, same secret; another ID, another secret.
    const again = await (await requestCert(a, podIssuer(d.hashes.web!))).result();
    const db = await (await requestCert(a, podIssuer(d.hashes.db!))).result();
    expect(toHex(again.workloadSecret!)).toBe(toHex(res.workloadSecret!));
    expect(toHex(db.workloadSecret!)).not.toBe(toHex(res.workloadSecret!));
    // The coordinator policy has no WorkloadSecretID: no secret.
    const coord = await (await requestCert(a, podIssuer(d.hashes.coordinator!))).result();
    expect(coord.workloadSecret).toBeUndefined();
  });

  it("answers the seed's workload secret per active state; a new generation answers for its own manifest", async () => {
    const a = await open(await newStore());
    const d = deployment();
    const first = await a.setManifest({ manifest: d.manifest, policies: d.policies });
    const { seed, salt } = seedFrom(first);
    const engine = new SeedEngine(seed, salt);
    const webSecret = async () =>
      toHex((await (await requestCert(a, podIssuer(d.hashes.web!))).result()).workloadSecret!);
    const web = (await (await requestCert(a, podIssuer(d.hashes.web!))).result()).workloadSecret!;
    expect(toHex(web)).toBe(toHex(engine.workloadSecret('apps/v1/Deployment/default/web')));
    web.fill(0); // a caller scribbling on its copy changes nothing for the next one
    expect(await webSecret()).toBe(toHex(engine.workloadSecret('apps/v1/Deployment/default/web')));
    expect(toHex(a.workloadSecret('apps/v1/Deployment/default/web'))).toBe(await webSecret());
    // Generation 2 gives the web policy another WorkloadSecretID: its certificates carry that one's secret.
    const json = structuredClone(d.manifestJson) as unknown as {
      Policies: Record<string, { WorkloadSecretID?: string }>;
    };
    json.Policies[d.hashes.web!]!.WorkloadSecretID = 'renamed';
    const manifest = new TextEncoder().encode(JSON.stringify(json));
    await a.setManifest({
      manifest,
      policies: d.policies,
      signature: ownerSignature(manifest, first.transitionHash),
    });
    expect(a.generation).toBe(2);
    expect(await webSecret()).toBe(toHex(engine.workloadSecret('renamed')));
    expect(await webSecret()).not.toBe(toHex(engine.workloadSecret('apps/v1/Deployment/default/web')));
  });

  it('refuses replayed evidence, unknown policies, wrong measurements and foreign bindings', async () => {
    const failures: string[] = [];
    const a = await open(await newStore(), { onAttestationFailure: (r) => failures.push(r.code) });
    const d = deployment();
    expect(await codeOf((await requestCert(a, podIssuer(d.hashes.web!))).result())).toBe('no-manifest');
    await a.setManifest({ manifest: d.manifest, policies: d.policies });

    const ok = await requestCert(a, podIssuer(d.hashes.web!));
    await ok.result();
    // Replay: the same nonce, key and evidence again.
    expect(await codeOf(ok.result())).toBe('challenge-required');
    // A nonce this authority never made.
    const forged = await requestCert(a, podIssuer(d.hashes.web!));
    expect(
      await codeOf(
        a.issueMeshCertificate({
          nonce: new Uint8Array(randomBytes(32)),
          publicKey: forged.spki,
          evidence: forged.evidence,
        }),
      ),
    ).toBe('challenge-required');
    // A policy hash that is not in the manifest.
    expect(await codeOf((await requestCert(a, podIssuer('ee'.repeat(32)))).result())).toBe(
      'permission-denied',
    );
    // A measurement that is not the trusted one.
    expect(await codeOf((await requestCert(a, podIssuer(d.hashes.web!, 'cd'.repeat(48)))).result())).toBe(
      'attestation-failed',
    );
    // Evidence bound to another Coordinator key (a relay).
    const relayed = await requestCert(a, podIssuer(d.hashes.web!), { coordinatorSpki: spkiOf().spki });
    expect(await codeOf(relayed.result())).toBe('attestation-failed');
    // Evidence for one key, certificate asked for another.
    const swap = await requestCert(a, podIssuer(d.hashes.web!));
    expect(
      await codeOf(
        a.issueMeshCertificate({ nonce: swap.nonce, publicKey: spkiOf().spki, evidence: swap.evidence }),
      ),
    ).toBe('attestation-failed');
    // A tampered document (MAC no longer matches).
    const tampered = await requestCert(a, podIssuer(d.hashes.web!));
    const text = new TextDecoder().decode(tampered.evidence.data).replace(d.hashes.web!, d.hashes.db!);
    expect(
      await codeOf(
        a.issueMeshCertificate({
          nonce: tampered.nonce,
          publicKey: tampered.spki,
          evidence: { ...tampered.evidence, data: new TextEncoder().encode(text) },
        }),
      ),
    ).toBe('attestation-failed');
    expect(failures).toEqual([
      'policy-mismatch',
      'measurement-mismatch',
      'report-data-mismatch',
      'report-data-mismatch',
      'signature-invalid',
    ]);
  });

  it('certifies exactly the bound key (P-256 and P-384) and refuses keys that are not valid public keys', async () => {
    const a = await open(await newStore());
    const d = deployment();
    await a.setManifest({ manifest: d.manifest, policies: d.policies });
    const issuer = podIssuer(d.hashes.web!);
    const ask = async (spki: Uint8Array) => {
      const nonce = a.createNonce();
      const evidence = await issuer.issue(await meshCertReportData(nonce, spki, a.channelSpki));
      return a.issueMeshCertificate({ nonce, publicKey: spki, evidence });
    };
    for (const curve of ['P-256', 'P-384']) {
      const { spki } = spkiOf(generateKeyPairSync('ec', { namedCurve: curve }));
      const res = await ask(spki);
      const leaf = new X509Certificate(res.certChainPem);
      expect(leaf.publicKey.export({ type: 'spki', format: 'der' }).equals(Buffer.from(spki))).toBe(true);
    }
    const good = spkiOf().spki;
    const offCurve = good.slice();
    offCurve[90]! ^= 1; // y no longer matches x: not a point of P-256
    const compressedTag = good.slice();
    compressedTag[26] = 0x05; // neither uncompressed nor compressed
    const xTooLarge = good.slice();
    xTooLarge.fill(0xff, 27, 59); // x >= p
    // The point at infinity imports in node, which then aborts the process when it exports it.
    const infinity = new Uint8Array(
      Buffer.from('3019301306072a8648ce3d020106082a8648ce3d03010703020000', 'hex'),
    );
    const bads = [
      offCurve,
      compressedTag,
      xTooLarge,
      infinity,
      good.subarray(0, 60),
      new Uint8Array([0x30, 0x00]),
    ];
    for (const bad of bads) {
      const err = await ask(bad).catch((e) => e);
      expect(err).toMatchObject({ kind: 'invalid-request', field: 'public_key' });
    }
  });

  it("refuses a peer's ephemeral key at the point at infinity before importing it (node would abort)", async () => {
    const a = await open(await newStore());
    const d = deployment();
    await a.setManifest({ manifest: d.manifest, policies: d.policies });
    const infinity = new Uint8Array(
      Buffer.from('3019301306072a8648ce3d020106082a8648ce3d03010703020000', 'hex'),
    );
    const err = await a
      .handOverToPeer({
        nonce: a.createNonce(),
        ephemeralPublicKey: infinity,
        evidence: { kind: 'fake', data: new Uint8Array(1) },
      })
      .catch((e) => e);
    expect(err).toMatchObject({ kind: 'invalid-request', field: 'ephemeral_public_key' });
  });

  it('refuses simulated evidence unless insecure platforms are allowed', async () => {
    const a = await open(await newStore(), { allowInsecure: false });
    const d = deployment();
    await a.setManifest({ manifest: d.manifest, policies: d.policies });
    const err = await (await requestCert(a, podIssuer(d.hashes.web!))).result().catch((e) => e);
    expect(err.kind).toBe('attestation-failed');
    expect(err.message).toContain('insecure-platform');
  });
});

describe('manifest updates', () => {
  it('needs a workload owner signature over the new transition; rotates the mesh CA, keeps the root', async () => {
    const a = await open(await newStore());
    const d1 = deployment();
    const first = await a.setManifest({ manifest: d1.manifest, policies: d1.policies });
    const d2 = deployment(['web', 'db', 'cache', 'api']);
    expect(await codeOf(a.setManifest({ manifest: d2.manifest, policies: d2.policies }))).toBe(
      'invalid-signature',
    );
    const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    expect(
      await codeOf(
        a.setManifest({
          manifest: d2.manifest,
          policies: d2.policies,
          signature: ownerSignature(d2.manifest, first.transitionHash, stranger),
        }),
      ),
    ).toBe('invalid-signature');
    // A signature over another previous transition does not authorize this one.
    expect(
      await codeOf(
        a.setManifest({
          manifest: d2.manifest,
          policies: d2.policies,
          signature: ownerSignature(d2.manifest, '00'.repeat(32)),
        }),
      ),
    ).toBe('invalid-signature');
    const second = await a.setManifest({
      manifest: d2.manifest,
      policies: d2.policies,
      signature: ownerSignature(d2.manifest, first.transitionHash),
      previousTransitionHash: first.transitionHash,
    });
    expect(a.generation).toBe(2);
    expect(second.seedShareDocument).toBeUndefined();
    expect(second.meshCaPem).not.toBe(first.meshCaPem);
    expect(
      new X509Certificate(second.rootCaPem).publicKey.equals(new X509Certificate(first.rootCaPem).publicKey),
    ).toBe(true);
    expect((await a.state()).manifests).toHaveLength(2);
    // --atomic with a stale previous transition loses.
    const d3 = deployment(['web'], { tag: '3' });
    expect(
      await codeOf(
        a.setManifest({
          manifest: d3.manifest,
          policies: d3.policies,
          signature: ownerSignature(d3.manifest, second.transitionHash),
          previousTransitionHash: first.transitionHash,
        }),
      ),
    ).toBe('manifest-conflict');
  });

  it('refuses changes to the seed-share owners and updates when no owner is set', async () => {
    const a = await open(await newStore());
    const d1 = deployment();
    const first = await a.setManifest({ manifest: d1.manifest, policies: d1.policies });
    const otherRsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const d2 = deployment(['web'], {
      seedOwners: [otherRsa.publicKey.export({ type: 'pkcs1', format: 'der' }).toString('hex')],
    });
    expect(
      await codeOf(
        a.setManifest({
          manifest: d2.manifest,
          policies: d2.policies,
          signature: ownerSignature(d2.manifest, first.transitionHash),
        }),
      ),
    ).toBe('permission-denied');

    const b = await open(await newStore());
    const locked = deployment(['web'], { owners: [] });
    const set = await b.setManifest({ manifest: locked.manifest, policies: locked.policies });
    const d3 = deployment(['web'], { tag: 'x' });
    expect(
      await codeOf(
        b.setManifest({
          manifest: d3.manifest,
          policies: d3.policies,
          signature: ownerSignature(d3.manifest, set.transitionHash),
        }),
      ),
    ).toBe('permission-denied');
  });
});

describe('restart and recovery', () => {
  it('comes up stale on the same store and recovers with the seed: same root CA, new mesh CA', async () => {
    const store = await newStore();
    const a = await open(store);
    const d = deployment();
    const set = await a.setManifest({ manifest: d.manifest, policies: d.policies });
    const secret = seedFrom(set);
    a.close();

    const mem = createMemoryLogger();
    const b = await open(store, { logger: mem.logger });
    expect(b.status).toBe('stale');
    expect(await codeOf((await requestCert(b, podIssuer(d.hashes.web!))).result())).toBe('needs-recovery');
    expect(await codeOf(b.setManifest({ manifest: d.manifest, policies: d.policies }))).toBe(
      'needs-recovery',
    );

    // Wrong owner key, wrong seed: refused.
    const otherRsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    expect(await codeOf(b.recover(recoverRequest(b.createNonce(), b.channelSpki, secret, otherRsa)))).toBe(
      'permission-denied',
    );
    const wrongSeed = { seed: new Uint8Array(randomBytes(64)), salt: secret.salt };
    expect(await codeOf(b.recover(recoverRequest(b.createNonce(), b.channelSpki, wrongSeed)))).toBe(
      'permission-denied',
    );
    // Sealed to another key: does not open.
    expect(await codeOf(b.recover(recoverRequest(b.createNonce(), spkiOf().spki, secret)))).toBe(
      'invalid-signature',
    );
    expect(b.status).toBe('stale');

    const rec = await b.recover(recoverRequest(b.createNonce(), b.channelSpki, secret));
    expect(b.status).toBe('active');
    expect(b.generation).toBe(1);
    const oldRoot = new X509Certificate(set.rootCaPem);
    expect(new X509Certificate(rec.rootCaPem).publicKey.equals(oldRoot.publicKey)).toBe(true);
    expect(rec.meshCaPem).not.toBe(set.meshCaPem);
    // Certificates issued after recovery chain to the root CA from before.
    const cert = await (await requestCert(b, podIssuer(d.hashes.web!))).result();
    const inter = new X509Certificate(cert.certChainPem.split(/(?<=-----END CERTIFICATE-----\n)/)[1]!);
    expect(inter.verify(oldRoot.publicKey)).toBe(true);
    expect(await codeOf(b.recover(recoverRequest(b.createNonce(), b.channelSpki, secret)))).toBe(
      'already-recovered',
    );
    // Nothing secret reached the log.
    const log = mem.text();
    expect(log).not.toContain(toHex(secret.seed));
    expect(log).not.toContain(toHex(cert.workloadSecret!));
  });

  it('refuses recovery of an uninitialized Coordinator', async () => {
    const a = await open(await newStore());
    const secret = { seed: new Uint8Array(64), salt: new Uint8Array(32) };
    expect(await codeOf(a.recover(recoverRequest(a.createNonce(), a.channelSpki, secret)))).toBe(
      'no-manifest',
    );
  });
});

describe('replicas sharing one store', () => {
  it('a replica goes stale when another one updates the history, and recovers', async () => {
    const store = await newStore();
    const a = await open(store);
    const b = await open(store);
    expect(b.status).toBe('uninitialized');
    const d1 = deployment();
    const set = await a.setManifest({ manifest: d1.manifest, policies: d1.policies });
    await waitFor(() => b.status === 'stale');
    const secret = seedFrom(set);
    await b.recover(recoverRequest(b.createNonce(), b.channelSpki, secret));
    expect(b.status).toBe('active');

    const d2 = deployment(['web'], { tag: '2' });
    await a.setManifest({
      manifest: d2.manifest,
      policies: d2.policies,
      signature: ownerSignature(d2.manifest, set.transitionHash),
    });
    await waitFor(() => b.status === 'stale');
    expect(a.status).toBe('active');
    await b.recover(recoverRequest(b.createNonce(), b.channelSpki, secret));
    expect(b.generation).toBe(2);
    expect((await b.state()).transitionHash).toBe((await a.state()).transitionHash);
  });

  it('of two concurrent updates exactly one wins', async () => {
    const store = await newStore();
    const a = await open(store);
    const d1 = deployment();
    const set = await a.setManifest({ manifest: d1.manifest, policies: d1.policies });
    const b = await open(store);
    await b.recover(recoverRequest(b.createNonce(), b.channelSpki, seedFrom(set)));
    const da = deployment(['web'], { tag: 'a' });
    const db = deployment(['web'], { tag: 'b' });
    const results = await Promise.allSettled([
      a.setManifest({
        manifest: da.manifest,
        policies: da.policies,
        signature: ownerSignature(da.manifest, set.transitionHash),
      }),
      b.setManifest({
        manifest: db.manifest,
        policies: db.policies,
        signature: ownerSignature(db.manifest, set.transitionHash),
      }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(['manifest-conflict', 'needs-recovery']).toContain(lost.reason.kind);
  });

  it('the channel key must be an EC private key', async () => {
    const store = await newStore();
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    await expect(Authority.open({ store, platforms: registry(), channelKey: rsa })).rejects.toMatchObject({
      field: 'channelKey',
    });
    await expect(
      Authority.open({ store, platforms: registry(), channelKey: createPublicKey(channelKey()) }),
    ).rejects.toMatchObject({ field: 'channelKey' });
  });
});

/** The refusal's kind and message. */
async function refusal(
  p: Promise<unknown>,
): Promise<{ kind: string; message: string; field?: string | undefined }> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(AuthorityError);
    const err = e as AuthorityError;
    return { kind: err.kind, message: err.message, field: err.field };
  }
  throw new Error('expected a refusal');
}

const owners = seedShareOwners(3);
const twoOfThree = () => deployment(['web'], { seedOwners: owners.map((o) => o.hex), seedshareThreshold: 2 });

/** Sets a 2-of-3 manifest on a fresh store; returns the store (the authority is closed: a restart comes up stale). */
async function splitDeployment() {
  const store = await newStore();
  const a = await open(store);
  const d = twoOfThree();
  const set = await a.setManifest({ manifest: d.manifest, policies: d.policies });
  a.close();
  const released = owners.map((o) => releaseSeedShare(set.seedShareDocument!, o.privateKey));
  return { store, d, set, released };
}

describe('k-of-n recovery (SeedshareThreshold 2, three owners)', () => {
  it('the first set seals one Shamir share per owner: none of them alone is the seed', async () => {
    const { set } = await splitDeployment();
    const doc = set.seedShareDocument as SeedShareDocument;
    expect(doc.Threshold).toBe(2);
    expect(doc.SeedShares.map((s) => s.PublicKey)).toEqual(owners.map((o) => o.hex));
    const opened = owners.map((o) => openSeedShare(doc, o.privateKey));
    // Each owner's plaintext is a share (version 1, k = 2, x = 1..3), not a 64-byte seed.
    expect(opened.map((s) => [s[0], s[1], s[2], s.length])).toEqual([
      [1, 2, 1, 83],
      [1, 2, 2, 83],
      [1, 2, 3, 83],
    ]);
    expect(() => recoverSeed(doc, [opened[0]!])).toThrow(/need at least 2 shares/);
  });

  it('any 2 of the 3 owners recover a restarted Coordinator to the same root CA', async () => {
    const { store, set, released } = await splitDeployment();
    const root = new X509Certificate(set.rootCaPem);
    for (const pair of [
      [0, 1],
      [0, 2],
      [2, 1],
    ]) {
      const mem = createMemoryLogger();
      const b = await open(store, { logger: mem.logger });
      expect(b.status).toBe('stale');
      const rec = await b.recoverWithShares(
        recoverSharesRequest(
          b.createNonce(),
          b.channelSpki,
          pair.map((i) => released[i]!),
        ),
      );
      expect(b.status).toBe('active');
      expect(new X509Certificate(rec.rootCaPem).publicKey.equals(root.publicKey)).toBe(true);
      expect(new X509Certificate(rec.rootCaPem).subject).toBe(root.subject);
      expect((await b.state()).transitionHash).toBe(set.transitionHash);
      // No share, salt or signature bytes in the log.
      const log = mem.text();
      expect(log).toContain('recovered');
      for (const r of released) {
        expect(log).not.toContain(r.share.slice(0, 16));
        expect(log).not.toContain(r.salt.slice(0, 16));
      }
      b.close();
    }
  }, 120_000);

  it('refuses one share alone, a duplicate, a tampered and a foreign share — each its own refusal; the Coordinator stays stale', async () => {
    const { store, set, released } = await splitDeployment();
    const b = await open(store);
    const ask = (shares: ReleasedSeedShare[]) =>
      refusal(b.recoverWithShares(recoverSharesRequest(b.createNonce(), b.channelSpki, shares)));

    expect(await ask([released[1]!])).toEqual({
      kind: 'invalid-request',
      message: '2 of 3 shares needed, 1 given',
      field: 'shares',
    });
    const duplicate = await ask([
      released[0]!,
      releaseSeedShare(set.seedShareDocument!, owners[0]!.privateKey),
    ]);
    expect(duplicate).toMatchObject({ kind: 'invalid-request', field: 'shares[1]' });
    expect(duplicate.message).toMatch(/the same owner's share as share 1/);

    const flipped = Buffer.from(released[1]!.share, 'base64');
    flipped[10]! ^= 1;
    const tampered = await ask([released[0]!, { ...released[1]!, share: flipped.toString('base64') }]);
    expect(tampered).toMatchObject({ kind: 'invalid-signature', field: 'shares[1]' });
    expect(tampered.message).toMatch(/the owner's signature does not verify/);

    // Foreign: a share of another deployment of the same owners (another seed).
    const other = await splitDeployment();
    const foreign = await ask([released[0]!, other.released[1]!]);
    expect(foreign).toMatchObject({ kind: 'permission-denied', field: 'shares[1]' });
    expect(foreign.message).toMatch(/a share of another seed/);
    // A whole consistent set of that other seed: the checks pass, the history does not.
    const otherSeed = await ask([other.released[0]!, other.released[2]!]);
    expect(otherSeed).toMatchObject({ kind: 'permission-denied', field: 'shares' });
    expect(otherSeed.message).toMatch(/the shares are of another seed/);
    // Foreign: a key that is not an owner of this manifest.
    const stranger = seedShareOwners(4)[3]!;
    const strangers = await splitDeploymentOf([owners[0]!.hex, stranger.hex]);
    const notOwner = await ask([released[0]!, releaseSeedShare(strangers, stranger.privateKey)]);
    expect(notOwner).toMatchObject({ kind: 'permission-denied', field: 'shares[1]' });
    expect(notOwner.message).toMatch(/not a seed-share owner of this manifest/);

    expect(b.status).toBe('stale');
    // Then two good shares still recover it.
    await b.recoverWithShares(
      recoverSharesRequest(b.createNonce(), b.channelSpki, [released[2]!, released[0]!]),
    );
    expect(b.status).toBe('active');
    expect(
      (await refusal(b.recoverWithShares(recoverSharesRequest(b.createNonce(), b.channelSpki, released))))
        .kind,
    ).toBe('already-recovered');
  }, 120_000);

  it('a manifest without a threshold refuses the shares path; a manifest update cannot change k', async () => {
    const store = await newStore();
    const a = await open(store);
    const d = deployment(['web'], { seedOwners: owners.map((o) => o.hex) });
    const set = await a.setManifest({ manifest: d.manifest, policies: d.policies });
    expect(set.seedShareDocument?.Threshold).toBeUndefined();
    // Upstream's 1-of-n: each owner's share is the whole seed.
    const doc = set.seedShareDocument!;
    expect(openSeedShare(doc, owners[2]!.privateKey)).toHaveLength(64);
    const changed = deployment(['web'], { seedOwners: owners.map((o) => o.hex), seedshareThreshold: 2 });
    const update = await refusal(
      a.setManifest({
        manifest: changed.manifest,
        policies: changed.policies,
        signature: ownerSignature(changed.manifest, set.transitionHash, keys().ownerPrivate),
      }),
    );
    expect(update).toEqual({
      kind: 'permission-denied',
      message: 'changes to the seed-share threshold are not allowed',
      field: 'SeedshareThreshold',
    });
    a.close();
    const b = await open(store);
    const split = await splitDeployment();
    const notSplit = await refusal(
      b.recoverWithShares(recoverSharesRequest(b.createNonce(), b.channelSpki, split.released.slice(0, 2))),
    );
    expect(notSplit.kind).toBe('invalid-request');
    expect(notSplit.message).toMatch(/seed is not split/);
  });
});

/** The seed-share document of a fresh 2-of-n deployment of these owners (for foreign shares). */
async function splitDeploymentOf(ownerHex: string[]): Promise<SeedShareDocument> {
  const a = await open(await newStore());
  const d = deployment(['web'], { seedOwners: ownerHex, seedshareThreshold: 2 });
  return (await a.setManifest({ manifest: d.manifest, policies: d.policies })).seedShareDocument!;
}
