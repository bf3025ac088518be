import { X509Certificate } from 'node:crypto';
import {
  openSeedShare,
  type ReleasedSeedShare,
  recoverSeed,
  releaseSeedShare,
  type SeedShareDocument,
} from '@contrast-cc/certs';
import { createMemoryLogger, type MemoryLogger } from '@contrast-cc/core/testing';
import type { DirectoryHistoryStore } from '@contrast-cc/store';
import { afterEach, describe, expect, it } from 'vitest';
import { Authority } from './authority.js';
import { AuthorityError } from './errors.js';
import {
  channelKey,
  deployment,
  keys,
  ownerSignature,
  recoverSharesRequest,
  registry,
  seedShareOwners,
  tempStore,
} from './testing/index.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0)) await fn();
});

async function open(store: DirectoryHistoryStore, logger?: MemoryLogger['logger']) {
  const a = await Authority.open({
    store,
    platforms: registry(),
    channelKey: channelKey(),
    allowInsecure: true,
    ...(logger ? { logger } : {}),
  });
  cleanup.push(() => a.close());
  return a;
}

async function newStore() {
  const s = await tempStore();
  cleanup.push(() => s.close());
  return s;
}

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
      const b = await open(store, mem.logger);
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
  });

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
  });

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
