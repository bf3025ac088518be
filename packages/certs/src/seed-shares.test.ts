import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { toHex } from '@contrast-cc/core';
import { describe, expect, it } from 'vitest';
import { generateSalt, generateSeed } from './seed-engine.js';
import {
  createSeedShareDocument,
  decryptSeedShare,
  encryptSeedShare,
  openSeedShare,
  recoverSeed,
  seedShareOwnerId,
  seedShareOwnerKey,
} from './seed-shares.js';
import { combineShares, splitSecret } from './shamir.js';
import { hasOpenssl, opensslDir } from './test-support/openssl.js';

const rsa = (bits: number) => generateKeyPairSync('rsa', { modulusLength: bits });
// One 4096-bit key as upstream generates them; 2048-bit keys keep the k-of-n tests fast.
const big = rsa(4096);
const owners = [rsa(2048), rsa(2048), rsa(2048), rsa(2048), rsa(2048)];
const pem = (k: KeyObject) => k.export({ type: 'spki', format: 'pem' }) as string;

describe('seed share encryption (RSA-OAEP-SHA256, label "seedshare")', () => {
  it('round-trips with a 4096-bit owner key given as PEM', () => {
    const seed = generateSeed();
    const ct = encryptSeedShare(seed, pem(big.publicKey));
    expect(ct).toHaveLength(512);
    expect(
      toHex(decryptSeedShare(ct, big.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string)),
    ).toBe(toHex(seed));
  });

  it('refuses another owner key and a tampered ciphertext', () => {
    const ct = encryptSeedShare(generateSeed(), owners[0]!.publicKey);
    expect(() => decryptSeedShare(ct, owners[1]!.privateKey)).toThrow(
      expect.objectContaining({ code: 'permission-denied' }),
    );
    ct[10]! ^= 1;
    expect(() => decryptSeedShare(ct, owners[0]!.privateKey)).toThrow(
      expect.objectContaining({ code: 'permission-denied' }),
    );
  });

  it('refuses non-RSA and small owner keys naming the field', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(() => encryptSeedShare(generateSeed(), ec.publicKey)).toThrow(
      expect.objectContaining({ field: 'ownerPublicKey' }),
    );
    expect(() => encryptSeedShare(generateSeed(), 'not a key')).toThrow(
      expect.objectContaining({ code: 'invalid-argument', field: 'ownerPublicKey' }),
    );
  });

  it.skipIf(!hasOpenssl)('decrypts with openssl pkeyutl (label "seedshare") and the reverse', () => {
    const d = opensslDir();
    try {
      const seed = generateSeed();
      d.file('owner.pem', big.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
      d.file('share.bin', encryptSeedShare(seed, big.publicKey));
      const oaep = [
        '-pkeyopt',
        'rsa_padding_mode:oaep',
        '-pkeyopt',
        'rsa_oaep_md:sha256',
        '-pkeyopt',
        `rsa_oaep_label:${Buffer.from('seedshare').toString('hex')}`,
      ];
      d.runOk([
        'pkeyutl',
        '-decrypt',
        '-inkey',
        'owner.pem',
        '-in',
        'share.bin',
        '-out',
        'seed.bin',
        ...oaep,
      ]);
      expect(toHex(new Uint8Array(readFileSync(`${d.dir}/seed.bin`)))).toBe(toHex(seed));
      d.runOk(['pkey', '-in', 'owner.pem', '-pubout', '-out', 'pub.pem']);
      d.runOk([
        'pkeyutl',
        '-encrypt',
        '-pubin',
        '-inkey',
        'pub.pem',
        '-in',
        'seed.bin',
        '-out',
        'back.bin',
        ...oaep,
      ]);
      expect(toHex(decryptSeedShare(new Uint8Array(readFileSync(`${d.dir}/back.bin`)), big.privateKey))).toBe(
        toHex(seed),
      );
    } finally {
      d.cleanup();
    }
  });
});

describe('seed share documents', () => {
  it('gives every owner the whole seed by default (upstream format)', () => {
    const seed = generateSeed();
    const salt = generateSalt();
    const doc = createSeedShareDocument({
      seed,
      salt,
      ownerPublicKeys: [big.publicKey, owners[0]!.publicKey],
    });
    expect(doc.Threshold).toBeUndefined();
    expect(doc.SeedShares[0]!.PublicKey).toBe(seedShareOwnerId(big.publicKey));
    expect(seedShareOwnerKey(doc.SeedShares[1]!.PublicKey).equals(owners[0]!.publicKey)).toBe(true);
    const opened = openSeedShare(doc, owners[0]!.privateKey);
    const r = recoverSeed(doc, [opened]);
    expect(toHex(r.seed)).toBe(toHex(seed));
    expect(toHex(r.salt)).toBe(toHex(salt));
    expect(() => openSeedShare(doc, owners[3]!.privateKey)).toThrow(
      expect.objectContaining({ code: 'not-found' }),
    );
  });

  it('k-of-n: any k owners recover the seed, k-1 do not', () => {
    const seed = generateSeed();
    const salt = generateSalt();
    const doc = createSeedShareDocument({
      seed,
      salt,
      threshold: 3,
      ownerPublicKeys: owners.map((o) => o.publicKey),
    });
    expect(doc.Threshold).toBe(3);
    const opened = owners.map((o) => openSeedShare(doc, o.privateKey));
    for (const pick of [
      [0, 1, 2],
      [4, 2, 0],
      [1, 3, 4],
      [0, 1, 2, 3, 4],
    ]) {
      expect(
        toHex(
          recoverSeed(
            doc,
            pick.map((i) => opened[i]!),
          ).seed,
        ),
      ).toBe(toHex(seed));
    }
    expect(() => recoverSeed(doc, [opened[0]!, opened[1]!])).toThrow(
      expect.objectContaining({ code: 'invalid-argument', field: 'shares' }),
    );
    // No single share reveals the seed.
    for (const s of opened) expect(toHex(s)).not.toContain(toHex(seed).slice(0, 16));
  });
});

describe('Shamir over GF(256)', () => {
  const secret = generateSeed();

  it('recovers from every k-subset and refuses k-1 shares', () => {
    const shares = splitSecret(secret, { threshold: 2, shares: 4 });
    for (let a = 0; a < 4; a++)
      for (let b = 0; b < 4; b++)
        if (a !== b) expect(toHex(combineShares([shares[a]!, shares[b]!]))).toBe(toHex(secret));
    expect(() => combineShares([shares[0]!])).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
  });

  it('detects forged thresholds, tampered and mixed shares', () => {
    const shares = splitSecret(secret, { threshold: 3, shares: 5 });
    // Lowering the recorded threshold so two shares pass the count check: the check value fails.
    const forged = [shares[0]!.slice(), shares[1]!.slice()];
    for (const f of forged) f[1] = 2;
    expect(() => combineShares(forged)).toThrow(expect.objectContaining({ code: 'permission-denied' }));
    const tampered = shares.slice(0, 3).map((s) => s.slice());
    tampered[1]![10]! ^= 0x55;
    expect(() => combineShares(tampered)).toThrow(expect.objectContaining({ code: 'permission-denied' }));
    const other = splitSecret(generateSeed(), { threshold: 3, shares: 5 });
    expect(() => combineShares([shares[0]!, shares[1]!, other[2]!])).toThrow(
      expect.objectContaining({ code: 'permission-denied' }),
    );
    expect(() => combineShares([shares[0]!, shares[0]!, shares[1]!])).toThrow(
      expect.objectContaining({ code: 'invalid-argument' }),
    );
  });

  it('1-of-1 and n-of-n work; bad parameters name the field', () => {
    expect(toHex(combineShares(splitSecret(secret, { threshold: 1, shares: 1 })))).toBe(toHex(secret));
    const all = splitSecret(secret, { threshold: 5, shares: 5 });
    expect(toHex(combineShares(all))).toBe(toHex(secret));
    expect(() => splitSecret(secret, { threshold: 6, shares: 5 })).toThrow(
      expect.objectContaining({ field: 'threshold' }),
    );
    expect(() => splitSecret(secret, { threshold: 1, shares: 256 })).toThrow(
      expect.objectContaining({ field: 'shares' }),
    );
  });
});
