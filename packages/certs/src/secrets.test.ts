import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { inspect } from 'node:util';
import { toHex } from '@contrast-cc/core';
import { createMemoryLogger } from '@contrast-cc/core/testing';
import { describe, expect, it } from 'vitest';
import { createCaHierarchy } from './ca.js';
import { SeedEngine } from './seed-engine.js';
import {
  createSeedShareDocument,
  decryptSeedShare,
  encryptSeedShare,
  openSeedShare,
  recoverSeed,
} from './seed-shares.js';
import { combineShares, splitSecret } from './shamir.js';
import {
  signLatestTransition,
  signTransitionAsOwner,
  transitionHash,
  verifyLatestTransition,
  ZERO_TRANSITION_HASH,
} from './transitions.js';

/** Every textual form a leaked secret could take. */
function forms(secret: Uint8Array): string[] {
  const b = Buffer.from(secret);
  return [
    b.toString('hex'),
    b.toString('hex').toUpperCase(),
    b.toString('base64'),
    b.toString('base64url'),
    b.subarray(0, 12).toString('hex'),
    b.subarray(0, 12).toString('base64'),
  ];
}

const privateScalar = (k: KeyObject) =>
  new Uint8Array(Buffer.from(k.export({ format: 'jwk' }).d!, 'base64url'));
const pemBody = (k: KeyObject) =>
  (k.export({ type: 'pkcs8', format: 'pem' }) as string)
    .split('\n')
    .filter((l) => l && !l.startsWith('-----'));

describe('no secret material in logs or error messages', () => {
  it('covers the seed engine, seed shares, CA and transition flows, including failures', async () => {
    const mem = createMemoryLogger();
    const log = mem.logger;
    const engine = SeedEngine.generate();
    const owner = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const ownerKey = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const errors: unknown[] = [];
    const attempt = async (fn: () => unknown) => {
      try {
        await fn();
      } catch (e) {
        errors.push(e);
      }
    };

    // the flows
    const doc = createSeedShareDocument({
      seed: engine.seed(),
      salt: engine.salt(),
      ownerPublicKeys: [owner.publicKey],
      logger: log,
    });
    const k = createSeedShareDocument({
      seed: engine.seed(),
      salt: engine.salt(),
      ownerPublicKeys: [owner.publicKey, stranger.publicKey],
      threshold: 2,
      logger: log,
    });
    recoverSeed(doc, [openSeedShare(doc, owner.privateKey)]);
    const ca = await createCaHierarchy(engine, { logger: log });
    await ca.issueMeshCertificate({
      publicKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey,
      sans: ['web'],
      workloadSecretId: 'web',
    });
    const th = transitionHash(new Uint8Array(32).fill(1), ZERO_TRANSITION_HASH);
    const latest = signLatestTransition(th, engine.transactionSigningKey());
    verifyLatestTransition(latest, engine.transactionSigningPublicKey());
    signTransitionAsOwner(th, ownerKey.privateKey);
    const shares = splitSecret(engine.seed(), { threshold: 2, shares: 3 });

    // failing calls
    await attempt(() => openSeedShare(doc, stranger.privateKey));
    await attempt(() => decryptSeedShare(new Uint8Array(256), owner.privateKey));
    await attempt(() =>
      decryptSeedShare(encryptSeedShare(engine.seed(), owner.publicKey), stranger.privateKey),
    );
    await attempt(() => recoverSeed(k, [openSeedShare(k, owner.privateKey)]));
    await attempt(() => combineShares([shares[0]!]));
    await attempt(() => {
      const bad = shares.slice(0, 2).map((s) => s.slice());
      bad[0]![5]! ^= 1;
      return combineShares(bad);
    });
    await attempt(() => new SeedEngine(engine.seed().subarray(0, 20), engine.salt()));
    await attempt(() => new SeedEngine(engine.seed(), engine.seed()));
    await attempt(() => engine.workloadSecret(''));
    await attempt(() => encryptSeedShare(engine.seed(), ownerKey.publicKey));
    await attempt(() => encryptSeedShare(engine.seed(), toHex(engine.seed())));
    await attempt(() => signTransitionAsOwner(th, toHex(engine.seed())));
    await attempt(() => signLatestTransition(th, createPublicKey(engine.rootCaKey())));
    await attempt(() => ca.issueMeshCertificate({ publicKey: toHex(engine.workloadSecret('x')), sans: [] }));
    await attempt(() => createCaHierarchy(engine, { meshCaKey: ownerKey.privateKey, logger: log }));
    expect(errors.length).toBeGreaterThanOrEqual(14);

    const text = [
      mem.text(),
      ...errors.map((e) => {
        const err = e as Error & { describe?: () => string };
        return [
          err.message,
          err.describe?.(),
          String(err.cause),
          inspect(err, { depth: 6 }),
          JSON.stringify(err),
        ].join('\n');
      }),
      inspect(engine),
      JSON.stringify({ engine }),
    ].join('\n');
    expect(mem.records.length).toBeGreaterThan(2);

    const secrets: [string, Uint8Array][] = [
      ['seed', engine.seed()],
      ['history secret', engine.historySecret()],
      ['workload secret', engine.workloadSecret('web')],
      ['workload secret x', engine.workloadSecret('x')],
      ['root CA key', privateScalar(engine.rootCaKey())],
      ['transaction key', privateScalar(engine.transactionSigningKey())],
      ['mesh CA key', privateScalar(ca.meshCaKey())],
      ['owner EC key', privateScalar(ownerKey.privateKey)],
      ['shamir share', shares[0]!.subarray(3)],
    ];
    // the search itself works: a planted secret is found
    expect(
      forms(engine.seed()).some((f) =>
        `${text} ${Buffer.from(engine.seed()).toString('base64')}`.includes(f),
      ),
    ).toBe(true);
    for (const [name, secret] of secrets) {
      for (const form of forms(secret)) expect(text.includes(form), `${name} leaked as ${form}`).toBe(false);
    }
    for (const line of [...pemBody(owner.privateKey), ...pemBody(engine.rootCaKey())].slice(1, -1)) {
      expect(text.includes(line), 'private key PEM leaked').toBe(false);
    }
  });
});
