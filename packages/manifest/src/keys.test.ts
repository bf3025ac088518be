import { createHash, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { seedshareOwnerKeyHex, workloadOwnerKeyDigest, workloadOwnerKeyHex } from './keys.js';
import { testKeys } from './test-support/fixtures.js';

describe('owner key encodings', () => {
  it('workload owner: PKIX DER hex of the public half, from private or public PEM', () => {
    const keys = testKeys();
    expect(workloadOwnerKeyHex(keys.ecPem)).toBe(keys.ecHex);
    const pub = `-----BEGIN PUBLIC KEY-----\n${Buffer.from(keys.ecHex, 'hex').toString('base64')}\n-----END PUBLIC KEY-----\n`;
    expect(workloadOwnerKeyHex(pub)).toBe(keys.ecHex);
    expect(keys.ecHex.startsWith('3076301006072a8648ce3d020106052b81040022036200')).toBe(true);
    expect(workloadOwnerKeyDigest(keys.ecPem)).toBe(
      createHash('sha256').update(Buffer.from(keys.ecHex, 'hex')).digest('hex'),
    );
  });

  it('seed-share owner: PKCS#1 DER hex of the RSA public key', () => {
    const keys = testKeys();
    expect(seedshareOwnerKeyHex(keys.rsaPem)).toBe(keys.rsaHex);
    expect(keys.rsaHex.startsWith('3082010a02820101')).toBe(true);
  });

  it('refuses the wrong key type and garbage without quoting the input', () => {
    const keys = testKeys();
    expect(() => workloadOwnerKeyHex(keys.rsaPem)).toThrow(/must be an ECDSA key/);
    expect(() => seedshareOwnerKeyHex(keys.ecPem)).toThrow(/must be an RSA key/);
    const ed = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    expect(() => workloadOwnerKeyHex(ed)).toThrow(/ECDSA/);
    try {
      workloadOwnerKeyHex('secret-material-not-a-key');
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message).not.toContain('secret-material');
    }
  });
});
