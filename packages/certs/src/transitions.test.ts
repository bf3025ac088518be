import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fromHex, toHex } from '@contrast-cc/core';
import { afterAll, describe, expect, it } from 'vitest';
import { SeedEngine } from './seed-engine.js';
import { golden } from './test-support/golden.js';
import { hasOpenssl, opensslDir } from './test-support/openssl.js';
import {
  decodeLatestTransition,
  decodeTransition,
  encodeLatestTransition,
  encodeTransition,
  manifestHash,
  ownerSignedMessage,
  signLatestTransition,
  signTransitionAsOwner,
  type Transition,
  transitionHash,
  verifyLatestTransition,
  verifyOwnerSignature,
  verifyTransitionChain,
  ZERO_TRANSITION_HASH,
} from './transitions.js';

const sha = (alg: string, text: string) => new Uint8Array(createHash(alg).update(text).digest());
const enc = (s: string) => new TextEncoder().encode(s);

function chain(manifests: string[]) {
  let prev = ZERO_TRANSITION_HASH;
  const store = new Map<string, Transition>();
  const links = manifests.map((m) => {
    const mh = manifestHash(enc(m));
    const th = transitionHash(mh, prev);
    store.set(toHex(th), { manifestHash: mh, previousTransitionHash: prev });
    const link = {
      manifest: m,
      manifestHash: toHex(mh),
      previousTransitionHash: toHex(prev),
      transitionHash: toHex(th),
      ownerSignedMessage: new TextDecoder().decode(ownerSignedMessage(th)),
    };
    prev = th;
    return link;
  });
  return { links, store, latest: prev };
}

describe('transition hash chain', () => {
  it('matches the golden chain', () => {
    const { links } = chain(['{"Policies":{}}', '{"Policies":{"a":{}}}', '{"Policies":{"a":{}}}']);
    expect(links).toEqual(golden('transitions.json', links));
    // first link: sha256(sha256(m) || 0^32)
    const first = createHash('sha256')
      .update(Buffer.concat([createHash('sha256').update('{"Policies":{}}').digest(), Buffer.alloc(32)]))
      .digest('hex');
    expect(links[0]!.transitionHash).toBe(first);
    // the same manifest set twice gives a new transition (the chain, not the manifest, is the state)
    expect(links[2]!.transitionHash).not.toBe(links[1]!.transitionHash);
  });

  it('walks and checks a chain; a broken link is refused', () => {
    const { store, latest } = chain(['m1', 'm2', 'm3']);
    const walked = verifyTransitionChain(latest, (h) => store.get(toHex(h)));
    expect(walked.map((t) => toHex(t.manifestHash))).toEqual(
      ['m1', 'm2', 'm3'].map((m) => toHex(manifestHash(enc(m)))),
    );
    const [key] = [...store.keys()];
    store.set(key!, {
      manifestHash: manifestHash(enc('evil')),
      previousTransitionHash: ZERO_TRANSITION_HASH,
    });
    expect(() => verifyTransitionChain(latest, (h) => store.get(toHex(h)))).toThrow(
      expect.objectContaining({ code: 'validation-failed' }),
    );
  });

  it('round-trips the stored forms and rejects bad sizes', () => {
    const t = { manifestHash: sha('sha256', 'a'), previousTransitionHash: sha('sha256', 'b') };
    expect(decodeTransition(encodeTransition(t))).toEqual(t);
    expect(() => decodeTransition(new Uint8Array(63))).toThrow(
      expect.objectContaining({ field: 'transition' }),
    );
    expect(() => transitionHash(new Uint8Array(31), ZERO_TRANSITION_HASH)).toThrow(
      expect.objectContaining({ field: 'manifestHash' }),
    );
  });
});

describe('latest transition signed by the transaction key', () => {
  const engine = new SeedEngine(sha('sha512', 'tx seed'), sha('sha256', 'tx salt'));
  const th = sha('sha256', 'some transition');

  it('verifies with the seed-derived key and survives encoding', () => {
    const latest = signLatestTransition(th, engine.transactionSigningKey());
    const again = decodeLatestTransition(encodeLatestTransition(latest));
    expect(verifyLatestTransition(again, engine.transactionSigningPublicKey())).toBe(true);
    // A Coordinator restored from the same seed verifies it too.
    const restored = new SeedEngine(engine.seed(), engine.salt());
    expect(verifyLatestTransition(again, restored.transactionSigningPublicKey())).toBe(true);
  });

  it('is deterministic (RFC 6979) and matches the golden signature', () => {
    const a = signLatestTransition(th, engine.transactionSigningKey());
    const b = signLatestTransition(th, engine.transactionSigningKey());
    expect(toHex(a.signature)).toBe(toHex(b.signature));
    const actual = {
      seed: toHex(engine.seed()),
      salt: toHex(engine.salt()),
      transitionHash: toHex(th),
      latestTransition: toHex(encodeLatestTransition(a)),
    };
    expect(actual).toEqual(golden('latest-transition.json', actual));
  });

  it('rejects tampered hashes, tampered signatures and other keys', () => {
    const latest = signLatestTransition(th, engine.transactionSigningKey());
    const badHash = { ...latest, transitionHash: latest.transitionHash.slice() };
    badHash.transitionHash[0]! ^= 1;
    expect(verifyLatestTransition(badHash, engine.transactionSigningPublicKey())).toBe(false);
    const badSig = { ...latest, signature: latest.signature.slice() };
    badSig.signature[badSig.signature.length - 1]! ^= 1;
    expect(verifyLatestTransition(badSig, engine.transactionSigningPublicKey())).toBe(false);
    expect(
      verifyLatestTransition(
        { ...latest, signature: new Uint8Array(3) },
        engine.transactionSigningPublicKey(),
      ),
    ).toBe(false);
    expect(verifyLatestTransition(latest, SeedEngine.generate().transactionSigningPublicKey())).toBe(false);
  });
});

describe('workload-owner signatures', () => {
  const th = fromHex('5d'.repeat(32));
  const keys: [string, { privateKey: KeyObject; publicKey: KeyObject }][] = [
    ['P-384', generateKeyPairSync('ec', { namedCurve: 'P-384' })],
    ['P-256', generateKeyPairSync('ec', { namedCurve: 'P-256' })],
    ['RSA-2048', generateKeyPairSync('rsa', { modulusLength: 2048 })],
  ];

  it.each(keys)('%s: signs, verifies, rejects tampering and other keys', (_n, k) => {
    const sig = signTransitionAsOwner(th, k.privateKey);
    expect(verifyOwnerSignature(th, sig, k.publicKey)).toBe(true);
    expect(verifyOwnerSignature(th, sig, k.publicKey.export({ type: 'spki', format: 'pem' }) as string)).toBe(
      true,
    );
    const other = th.slice();
    other[31]! ^= 1;
    expect(verifyOwnerSignature(other, sig, k.publicKey)).toBe(false);
    const bad = sig.slice();
    bad[bad.length - 2]! ^= 0x10;
    expect(verifyOwnerSignature(th, bad, k.publicKey)).toBe(false);
    expect(verifyOwnerSignature(th, new Uint8Array(), k.publicKey)).toBe(false);
    expect(
      verifyOwnerSignature(th, sig, keys[0]![1] === k ? keys[1]![1].publicKey : keys[0]![1].publicKey),
    ).toBe(false);
  });

  it('signs the ASCII hex of the transition hash', () => {
    expect(new TextDecoder().decode(ownerSignedMessage(th))).toBe('5d'.repeat(32));
  });
});

describe.skipIf(!hasOpenssl)('owner signatures interoperate with openssl dgst', () => {
  const d = opensslDir();
  afterAll(() => d.cleanup());
  const th = sha('sha256', 'openssl transition');

  it.each([
    ['ec', ['ecparam', '-name', 'secp384r1', '-genkey', '-noout']],
    ['rsa', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048']],
  ])(
    '%s key made by openssl: openssl signs, we verify; we sign, openssl verifies; tampering fails both ways',
    (name, gen) => {
      d.runOk([...gen, '-out', `${name}.pem`]);
      d.runOk(['pkey', '-in', `${name}.pem`, '-pubout', '-out', `${name}.pub`]);
      d.file('next-transition', ownerSignedMessage(th)); // what `contrast sign --prepare` writes
      d.runOk(['dgst', '-sha256', '-sign', `${name}.pem`, '-out', `${name}.sig`, 'next-transition']);
      const pub = readFileSync(`${d.dir}/${name}.pub`, 'utf8');
      const priv = readFileSync(`${d.dir}/${name}.pem`, 'utf8');
      const theirs = new Uint8Array(readFileSync(`${d.dir}/${name}.sig`));
      expect(verifyOwnerSignature(th, theirs, pub)).toBe(true);
      const wrong = th.slice();
      wrong[0]! ^= 0xff;
      expect(verifyOwnerSignature(wrong, theirs, pub)).toBe(false);

      d.file(`${name}.ours.sig`, signTransitionAsOwner(th, priv));
      const ok = d.run([
        'dgst',
        '-sha256',
        '-verify',
        `${name}.pub`,
        '-signature',
        `${name}.ours.sig`,
        'next-transition',
      ]);
      expect(ok.out).toContain('Verified OK');
      d.file('tampered-transition', ownerSignedMessage(wrong));
      const bad = d.run([
        'dgst',
        '-sha256',
        '-verify',
        `${name}.pub`,
        '-signature',
        `${name}.ours.sig`,
        'tampered-transition',
      ]);
      expect(bad.status).not.toBe(0);
    },
  );

  it('openssl verifies the latest-transition signature as a raw-digest ECDSA signature (upstream format)', () => {
    const engine = SeedEngine.generate();
    const latest = signLatestTransition(th, engine.transactionSigningKey());
    d.file('tx.pub', engine.transactionSigningPublicKey().export({ type: 'spki', format: 'pem' }) as string);
    d.file('latest.sig', latest.signature);
    d.file('latest.bin', latest.transitionHash);
    const r = d.run([
      'pkeyutl',
      '-verify',
      '-pubin',
      '-inkey',
      'tx.pub',
      '-in',
      'latest.bin',
      '-sigfile',
      'latest.sig',
    ]);
    expect(r.out).toContain('Signature Verified Successfully');
    // and a signature openssl makes over the raw hash (as Go's ecdsa.SignASN1 does) verifies with us
    d.file('tx.pem', engine.transactionSigningKey().export({ type: 'pkcs8', format: 'pem' }) as string);
    d.runOk(['pkeyutl', '-sign', '-inkey', 'tx.pem', '-in', 'latest.bin', '-out', 'theirs.sig']);
    const theirs = new Uint8Array(readFileSync(`${d.dir}/theirs.sig`));
    expect(
      verifyLatestTransition({ transitionHash: th, signature: theirs }, engine.transactionSigningPublicKey()),
    ).toBe(true);
  });
});
