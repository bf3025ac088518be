import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { openRecoverySecret, sealBytes, sealRecoverySecret } from './binding.js';
import { openRecoveryShares, type ReleasedSeedShareWire, sealRecoveryShares } from './recover-shares.js';
import { API_LABELS } from './state.js';

const spki = (k: { export(o: { type: 'spki'; format: 'der' }): Buffer }) =>
  new Uint8Array(k.export({ type: 'spki', format: 'der' }));
const b64 = (n: number) => randomBytes(n).toString('base64');

describe('k-of-n recovery: sealed released shares', () => {
  const coordinator = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const nonce = new Uint8Array(randomBytes(32));
  const shares: ReleasedSeedShareWire[] = [1, 2].map(() => ({
    version: 'v1',
    salt: b64(32),
    owner: randomBytes(270).toString('hex'),
    share: b64(83),
    signature: b64(256),
  }));

  it('open with the Coordinator key and this nonce only; the share bytes never appear in clear', () => {
    const sealed = sealRecoveryShares(spki(coordinator.publicKey), nonce, shares);
    expect(openRecoveryShares(coordinator.privateKey, nonce, sealed)).toEqual(shares);
    const raw = Buffer.from(sealed.ciphertext);
    for (const s of shares) expect(raw.includes(Buffer.from(s.share, 'base64').subarray(0, 16))).toBe(false);
    expect(raw.toString('latin1')).not.toContain(shares[0]!.share.slice(0, 16));
    const other = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    expect(() => openRecoveryShares(other.privateKey, nonce, sealed)).toThrow(
      expect.objectContaining({ code: 'permission-denied' }),
    );
    expect(() => openRecoveryShares(coordinator.privateKey, new Uint8Array(randomBytes(32)), sealed)).toThrow(
      expect.objectContaining({ code: 'permission-denied' }),
    );
  });

  it('a sealed seed and a sealed share set are not interchangeable (separate labels)', () => {
    const seed = sealRecoverySecret(
      spki(coordinator.publicKey),
      nonce,
      new Uint8Array(64),
      new Uint8Array(32),
    );
    expect(() => openRecoveryShares(coordinator.privateKey, nonce, seed)).toThrow(
      expect.objectContaining({ code: 'permission-denied' }),
    );
    const set = sealRecoveryShares(spki(coordinator.publicKey), nonce, shares);
    expect(() => openRecoverySecret(coordinator.privateKey, nonce, set)).toThrow(
      expect.objectContaining({ code: 'permission-denied' }),
    );
  });

  it('a payload that opens but is not a share set: invalid-argument naming the field, not the content', () => {
    const seal = (value: unknown) =>
      sealBytes(
        spki(coordinator.publicKey),
        nonce,
        new TextEncoder().encode(JSON.stringify(value)),
        API_LABELS.recoverSharesSeal,
      );
    const cases: [unknown, string][] = [
      [{ shares: [{ ...shares[0], share: 'not base64!' }] }, 'shares[0].share'],
      [{ shares: [{ ...shares[0], extra: 1 }] }, 'shares[0]'],
      [{ shares: 'x' }, 'shares'],
      [[[[[[[1]]]]]], 'shares'],
    ];
    for (const [value, field] of cases) {
      try {
        openRecoveryShares(coordinator.privateKey, nonce, seal(value));
        expect.unreachable();
      } catch (e) {
        expect(e).toMatchObject({ code: 'invalid-argument', field });
        expect((e as Error).message).not.toContain(shares[0]!.signature.slice(0, 12));
      }
    }
  });
});
