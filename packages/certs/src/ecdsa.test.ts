import {
  createECDH,
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fromHex, toHex } from '@contrast-cc/core';
import { afterAll, describe, expect, it } from 'vitest';
import {
  decodeSignatureDer,
  encodeSignatureDer,
  multiplyGeneratorForTest,
  P384,
  signDigestP384,
  verifyDigestP384,
} from './ecdsa.js';
import { p384PrivateKeyFromScalar } from './keygen.js';
import { hasOpenssl, opensslDir } from './test-support/openssl.js';

const big = (hex: string) => BigInt(`0x${hex}`);

describe('P-384 ECDSA over a given digest', () => {
  it('its point arithmetic agrees with node for random scalars and n-1', () => {
    for (let i = 0; i < 5; i++) {
      const k = randomBytes(48);
      k[0]! &= 0x7f;
      const ecdh = createECDH('secp384r1');
      ecdh.setPrivateKey(k);
      const pub = ecdh.getPublicKey();
      const ours = multiplyGeneratorForTest(big(k.toString('hex')));
      expect(ours.x.toString(16).padStart(96, '0')).toBe(pub.subarray(1, 49).toString('hex'));
      expect(ours.y.toString(16).padStart(96, '0')).toBe(pub.subarray(49).toString('hex'));
    }
    const ecdh = createECDH('secp384r1');
    ecdh.setPrivateKey(Buffer.from((P384.N - 1n).toString(16), 'hex'));
    const minusG = ecdh.getPublicKey();
    expect(big(minusG.subarray(1, 49).toString('hex'))).toBe(P384.G.x);
    expect(big(minusG.subarray(49).toString('hex'))).toBe(P384.P - P384.G.y);
  });

  it('matches the RFC 6979 A.2.6 P-384/SHA-384 "sample" vector', () => {
    const key = p384PrivateKeyFromScalar(
      fromHex(
        '6b9d3dad2e1b8c1c05b19875b6659f4de23c3b667bf297ba9aa47740787137d896d5724e4c70a825f872c9ea60d2edf5',
      ),
    );
    const digest = new Uint8Array(createHash('sha384').update('sample').digest());
    const sig = signDigestP384(key, digest, true);
    expect(sig.r.toString(16)).toBe(
      '94edbb92a5ecb8aad4736e56c691916b3f88140666ce9fa73d64c4ea95ad133c81a648152e44acf96e36dd1e80fabe46',
    );
    expect(sig.s.toString(16)).toBe(
      '99ef4aeb15f178cea1fe40db2603138f130e740a19624526203b6351d0a3a94fa329c145786e679e7b82c71a38628ac8',
    );
    expect(verifyDigestP384(createPublicKey(key), digest, sig.r, sig.s)).toBe(true);
  });

  it('round-trips, rejects tampering, and is randomized unless deterministic', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const digest = new Uint8Array(randomBytes(32));
    const a = signDigestP384(privateKey, digest);
    const b = signDigestP384(privateKey, digest);
    expect(a.r).not.toBe(b.r);
    expect(verifyDigestP384(publicKey, digest, a.r, a.s)).toBe(true);
    expect(verifyDigestP384(publicKey, digest, a.r, a.s + 1n)).toBe(false);
    const other = digest.slice();
    other[0]! ^= 1;
    expect(verifyDigestP384(publicKey, other, a.r, a.s)).toBe(false);
    expect(verifyDigestP384(publicKey, digest, 0n, a.s)).toBe(false);
    expect(verifyDigestP384(publicKey, digest, a.r, P384.N)).toBe(false);
    const d1 = signDigestP384(privateKey, digest, true);
    const d2 = signDigestP384(privateKey, digest, true);
    expect([d1.r, d1.s]).toEqual([d2.r, d2.s]);
    const der = encodeSignatureDer(a);
    expect(decodeSignatureDer(der)).toEqual(a);
    expect(decodeSignatureDer(der.subarray(0, der.length - 1))).toBeUndefined();
    expect(decodeSignatureDer(Uint8Array.of(0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x80))).toBeUndefined();
  });
});

describe.skipIf(!hasOpenssl)('raw-digest ECDSA interoperates with openssl pkeyutl', () => {
  const d = opensslDir();
  afterAll(() => d.cleanup());

  it('openssl signs, we verify; we sign, openssl verifies', () => {
    d.runOk(['ecparam', '-name', 'secp384r1', '-genkey', '-noout', '-out', 'k.pem']);
    d.runOk(['pkey', '-in', 'k.pem', '-pubout', '-out', 'k.pub']);
    const priv = createPrivateKey(readFileSync(`${d.dir}/k.pem`));
    const pub = createPublicKey(priv);
    const digest = new Uint8Array(randomBytes(32));
    d.file('digest.bin', digest);
    d.runOk(['pkeyutl', '-sign', '-inkey', 'k.pem', '-in', 'digest.bin', '-out', 'theirs.sig']);
    const theirs = decodeSignatureDer(new Uint8Array(readFileSync(`${d.dir}/theirs.sig`)));
    expect(theirs).toBeDefined();
    expect(verifyDigestP384(pub, digest, theirs!.r, theirs!.s)).toBe(true);
    d.file('ours.sig', encodeSignatureDer(signDigestP384(priv, digest)));
    const ok = d.run([
      'pkeyutl',
      '-verify',
      '-pubin',
      '-inkey',
      'k.pub',
      '-in',
      'digest.bin',
      '-sigfile',
      'ours.sig',
    ]);
    expect(ok.out).toContain('Signature Verified Successfully');
    const flipped = digest.slice();
    flipped[5]! ^= 1;
    d.file('flipped.bin', flipped);
    const bad = d.run([
      'pkeyutl',
      '-verify',
      '-pubin',
      '-inkey',
      'k.pub',
      '-in',
      'flipped.bin',
      '-sigfile',
      'ours.sig',
    ]);
    expect(bad.status).not.toBe(0);
    expect(toHex(digest)).toHaveLength(64);
  });
});
