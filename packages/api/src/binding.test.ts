import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { reportDataFor } from '@contrast-cc/atls';
import { isContrastError } from '@contrast-cc/core';
import { describe, expect, it } from 'vitest';
import {
  API_LABELS,
  coordinatorStateDigest,
  meshCertReportData,
  openRecoverySecret,
  recoverSignedMessage,
  sealRecoverySecret,
} from './binding.js';

const spki = (k: { export(o: { type: 'spki'; format: 'der' }): Buffer }) =>
  new Uint8Array(k.export({ type: 'spki', format: 'der' }));

describe('recovery sealing', () => {
  const coordinator = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const nonce = new Uint8Array(randomBytes(32));
  const seed = new Uint8Array(randomBytes(64));
  const salt = new Uint8Array(randomBytes(32));

  it('opens with the recipient key and returns seed and salt', () => {
    const sealed = sealRecoverySecret(spki(coordinator.publicKey), nonce, seed, salt);
    const opened = openRecoverySecret(coordinator.privateKey, nonce, sealed);
    expect(Buffer.from(opened.seed).equals(Buffer.from(seed))).toBe(true);
    expect(Buffer.from(opened.salt).equals(Buffer.from(salt))).toBe(true);
    // The seed never appears in clear in the sealed form.
    expect(Buffer.from(sealed.ciphertext).includes(Buffer.from(seed.subarray(0, 16)))).toBe(false);
  });

  it('refuses another key, another nonce and a flipped bit, without echoing the content', () => {
    const sealed = sealRecoverySecret(spki(coordinator.publicKey), nonce, seed, salt);
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const attempts = [
      () => openRecoverySecret(other.privateKey, nonce, sealed),
      () => openRecoverySecret(coordinator.privateKey, new Uint8Array(randomBytes(32)), sealed),
      () => {
        const c = sealed.ciphertext.slice();
        c[20]! ^= 1;
        return openRecoverySecret(coordinator.privateKey, nonce, { ...sealed, ciphertext: c });
      },
    ];
    for (const attempt of attempts) {
      try {
        attempt();
        expect.unreachable('must not open');
      } catch (e) {
        expect(isContrastError(e) && e.code).toBe('permission-denied');
        expect(String((e as Error).message)).not.toContain(Buffer.from(seed).toString('hex').slice(0, 16));
      }
    }
  });

  it('refuses a recipient key at the point at infinity (node would abort on its details)', () => {
    const infinity = new Uint8Array(
      Buffer.from('3019301306072a8648ce3d020106082a8648ce3d03010703020000', 'hex'),
    );
    expect(() => sealRecoverySecret(infinity, nonce, seed, salt)).toThrow(
      expect.objectContaining({ code: 'invalid-argument', field: 'recipientSpki' }),
    );
  });

  it('signs a message that covers force and the ciphertext', () => {
    const sealed = sealRecoverySecret(spki(coordinator.publicKey), nonce, seed, salt);
    const base = { nonce, coordinatorSpki: spki(coordinator.publicKey), sealed };
    const a = recoverSignedMessage({ ...base, force: false });
    const b = recoverSignedMessage({ ...base, force: true });
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
  });
});

describe('coordinatorStateDigest', () => {
  const base = {
    status: 'active' as const,
    transitionHash: 'ab'.repeat(32),
    rootCaDer: new Uint8Array([1, 2, 3]),
    meshCaDer: new Uint8Array([4, 5, 6]),
  };
  it('changes with every bound input', () => {
    const d = Buffer.from(coordinatorStateDigest(base)).toString('hex');
    const variants = [
      { ...base, status: 'stale' as const },
      { ...base, transitionHash: 'ac'.repeat(32) },
      { ...base, rootCaDer: new Uint8Array([1, 2, 4]) },
      { ...base, meshCaDer: new Uint8Array([4, 5, 7]) },
      { status: 'uninitialized' as const },
    ];
    for (const v of variants) expect(Buffer.from(coordinatorStateDigest(v)).toString('hex')).not.toBe(d);
    expect(Buffer.from(coordinatorStateDigest({ ...base })).toString('hex')).toBe(d);
  });
});

describe('meshCertReportData', () => {
  it('binds the nonce, the certificate key and the Coordinator key', async () => {
    const k1 = spki(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey);
    const k2 = spki(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey);
    const n1 = new Uint8Array(32).fill(1);
    const n2 = new Uint8Array(32).fill(2);
    const rd = Buffer.from(await meshCertReportData(n1, k1, k2)).toString('hex');
    expect(rd).toHaveLength(128);
    for (const other of [
      await meshCertReportData(n2, k1, k2),
      await meshCertReportData(n1, k2, k2),
      await meshCertReportData(n1, k1, k1),
    ]) {
      expect(Buffer.from(other).toString('hex')).not.toBe(rd);
    }
  });

  it('is the atls REPORT_DATA binding with the label and sha256 of the Coordinator key (synchronous hash, same bytes)', async () => {
    const k1 = spki(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey);
    const k2 = spki(generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey);
    const nonce = new Uint8Array(randomBytes(32));
    const viaAtls = await reportDataFor({
      label: API_LABELS.meshCert,
      nonce,
      publicKey: k1,
      stateDigest: new Uint8Array(createHash('sha256').update(k2).digest()),
    });
    // Written out by hand: SHA-512 over u32be-length-prefixed label, nonce, SPKI, sha256(Coordinator SPKI).
    const framed = Buffer.concat(
      [Buffer.from('contrast-ts mesh cert v1'), nonce, k1, createHash('sha256').update(k2).digest()].flatMap(
        (p) => {
          const len = Buffer.alloc(4);
          len.writeUInt32BE(p.length);
          return [len, Buffer.from(p)];
        },
      ),
    );
    const byHand = createHash('sha512').update(framed).digest('hex');
    const ours = Buffer.from(await meshCertReportData(nonce, k1, k2)).toString('hex');
    expect(ours).toBe(byHand);
    expect(Buffer.from(viaAtls).toString('hex')).toBe(byHand);
  });

  it('rejects (does not throw) a short nonce or a non-SPKI key, naming the field', async () => {
    const k = spki(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey);
    const short = meshCertReportData(new Uint8Array(8), k, k);
    expect(short).toBeInstanceOf(Promise);
    await expect(short).rejects.toMatchObject({ code: 'invalid-argument', field: 'nonce' });
    await expect(meshCertReportData(new Uint8Array(32), new Uint8Array([1, 2]), k)).rejects.toMatchObject({
      field: 'publicKey',
    });
  });
});
