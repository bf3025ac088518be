import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { bytesEqual, toHex } from '@contrast-cc/core';
import { combine as oracleCombine } from 'shamir-secret-sharing';
import { describe, expect, it } from 'vitest';
import { generateSalt, generateSeed } from './seed-engine.js';
import {
  checkReleasedShares,
  type ReleasedSeedShare,
  releaseSeedShare,
  SeedShareSetError,
  seedShareOwnerFingerprint,
} from './seed-share-release.js';
import { createSeedShareDocument, type SeedShareDocument, seedShareOwnerId } from './seed-shares.js';
import { combineShares } from './shamir.js';

const owners = [0, 1, 2].map(() => generateKeyPairSync('rsa', { modulusLength: 2048 }));
const ownerKeys = owners.map((o) => seedShareOwnerId(o.publicKey));
const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 });

function split(threshold: number | undefined, keys: KeyObject[] = owners.map((o) => o.publicKey)) {
  const seed = generateSeed();
  const salt = generateSalt();
  const doc = createSeedShareDocument({
    seed,
    salt,
    ownerPublicKeys: keys,
    ...(threshold ? { threshold } : {}),
  });
  return { seed, salt, doc };
}

const release = (doc: SeedShareDocument, i: number) => releaseSeedShare(doc, owners[i]!.privateKey);
const expect2of3 = { ownerKeys, threshold: 2 };

/** The problem a check refuses with (and that it is a SeedShareSetError). */
function problemOf(f: () => unknown): { problem: string; message: string; index?: number | undefined } {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(SeedShareSetError);
    const err = e as SeedShareSetError;
    return { problem: err.problem, message: err.message, index: err.index };
  }
  throw new Error('expected a refusal');
}

describe('released seed shares (k-of-n, owner side and checks)', () => {
  const { seed, salt, doc } = split(2);

  it('any 2 of 3 released shares pass the checks and combine to the seed; no single share is the seed', () => {
    const released = [0, 1, 2].map((i) => release(doc, i));
    for (const pair of [
      [0, 1],
      [0, 2],
      [1, 2],
      [2, 0],
    ]) {
      const checked = checkReleasedShares(
        pair.map((i) => released[i]!),
        expect2of3,
      );
      expect(bytesEqual(checked.salt, salt)).toBe(true);
      expect(toHex(combineShares(checked.shares))).toBe(toHex(seed));
    }
    for (const r of released) {
      const share = Buffer.from(r.share, 'base64');
      expect(share.includes(Buffer.from(seed.subarray(0, 16)))).toBe(false);
      expect(JSON.stringify(r)).not.toContain(toHex(seed).slice(0, 32));
    }
  });

  it('the shares an owner releases are the ones the audited shamir-secret-sharing package combines (format: version, k, x || y)', async () => {
    // Their format is y || x; ours carries a 16-byte check value after the seed.
    const released = [0, 2].map((i) => release(doc, i));
    const raw = checkReleasedShares(released, expect2of3).shares.map((s) => {
      const out = new Uint8Array(s.length - 2);
      out.set(s.subarray(3), 0);
      out[out.length - 1] = s[2]!;
      return out;
    });
    const combined = await oracleCombine(raw);
    expect(toHex(combined.subarray(0, 64))).toBe(toHex(seed));
  });

  it('too few: "2 of 3 shares needed, 1 given" (and 0 given)', () => {
    expect(problemOf(() => checkReleasedShares([release(doc, 1)], expect2of3))).toEqual({
      problem: 'too-few',
      message: '2 of 3 shares needed, 1 given',
      index: undefined,
    });
    expect(problemOf(() => checkReleasedShares([], expect2of3)).message).toBe(
      '2 of 3 shares needed, 0 given',
    );
  });

  it('duplicate: the same owner twice, named by position, is not counted twice', () => {
    const a = release(doc, 0);
    const again = release(doc, 0); // a new signature (PSS is randomized), the same share
    expect(problemOf(() => checkReleasedShares([a, again], expect2of3))).toEqual({
      problem: 'duplicate',
      message: `share 2 (owner ${seedShareOwnerFingerprint(ownerKeys[0]!)}): the same owner's share as share 1`,
      index: 1,
    });
  });

  it('foreign: an owner not in the manifest, another k, another seed (salt) — each named', () => {
    const strangers = split(2, [owners[0]!.publicKey, stranger.publicKey]);
    const fromStranger = releaseSeedShare(strangers.doc, stranger.privateKey);
    const notOwner = problemOf(() => checkReleasedShares([release(doc, 0), fromStranger], expect2of3));
    expect(notOwner.problem).toBe('foreign');
    expect(notOwner.index).toBe(1);
    expect(notOwner.message).toMatch(/not a seed-share owner of this manifest/);

    const threeOfThree = split(3).doc;
    const otherK = problemOf(() =>
      checkReleasedShares([release(doc, 0), release(threeOfThree, 1)], expect2of3),
    );
    expect(otherK).toMatchObject({ problem: 'foreign', index: 1 });
    expect(otherK.message).toMatch(/split 3-of-n, this manifest needs 2 of 3: a share of another manifest/);

    // The same owners and k, another seed (a redeployment, an earlier generation).
    const earlier = split(2).doc;
    const otherSeed = problemOf(() =>
      checkReleasedShares([release(doc, 0), release(earlier, 1)], expect2of3),
    );
    expect(otherSeed).toMatchObject({ problem: 'foreign', index: 1 });
    expect(otherSeed.message).toMatch(/a share of another seed \(its salt differs from share 1's\)/);
    // Against the seed-share document at hand.
    const againstDoc = problemOf(() =>
      checkReleasedShares([release(earlier, 0), release(earlier, 1)], { ...expect2of3, salt }),
    );
    expect(againstDoc).toMatchObject({ problem: 'foreign', index: 0 });
    expect(againstDoc.message).toMatch(/salt differs from the seed-share document's/);
  });

  it('tampered: a flipped share byte, a changed salt or owner field, a broken signature — refused before combining', () => {
    const good = release(doc, 1);
    const flip = (
      r: ReleasedSeedShare,
      field: 'share' | 'salt' | 'signature',
      at: number,
    ): ReleasedSeedShare => {
      const bytes = Buffer.from(r[field], 'base64');
      bytes[at]! ^= 1;
      return { ...r, [field]: bytes.toString('base64') };
    };
    for (const [field, at] of [
      ['share', 40],
      ['share', 2], // the share index
      ['salt', 0],
      ['signature', 100],
    ] as const) {
      const t = problemOf(() => checkReleasedShares([release(doc, 0), flip(good, field, at)], expect2of3));
      expect(t, `${field}[${at}]`).toMatchObject({ problem: 'tampered', index: 1 });
      expect(t.message).toMatch(/the owner's signature does not verify/);
    }
    // Another owner's key in the owner field: that owner did not sign it.
    const swapped = problemOf(() =>
      checkReleasedShares([release(doc, 0), { ...good, owner: ownerKeys[2]! }], expect2of3),
    );
    expect(swapped).toMatchObject({ problem: 'tampered', index: 1 });
    const notBase64 = problemOf(() => checkReleasedShares([{ ...good, share: 'not base64!' }], expect2of3));
    expect(notBase64).toMatchObject({
      problem: 'tampered',
      message: expect.stringMatching(/share is not base64/),
    });
  });

  it('messages never hold share, seed or salt bytes', () => {
    const released = [release(doc, 0), release(doc, 0)];
    const messages = [
      problemOf(() => checkReleasedShares(released, expect2of3)).message,
      problemOf(() => checkReleasedShares([released[0]!], expect2of3)).message,
    ];
    for (const m of messages) {
      expect(m).not.toContain(released[0]!.share.slice(0, 12));
      expect(m).not.toContain(released[0]!.salt.slice(0, 12));
      expect(m).not.toContain(toHex(seed).slice(0, 12));
    }
  });

  it('releasing needs a split document and a key that has a share in it', () => {
    const whole = split(undefined).doc;
    expect(() => release(whole, 0)).toThrow(/not split \(each owner holds the whole seed\)/);
    expect(() => releaseSeedShare(doc, stranger.privateKey)).toThrow(
      expect.objectContaining({ code: 'not-found' }),
    );
  });
});
