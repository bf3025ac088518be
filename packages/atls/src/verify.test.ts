import { createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { FakeIssuer, FakeVerifier } from '@contrast-cc/core/testing';
import { describe, expect, it } from 'vitest';
import { reportDataFor } from './binding.js';
import { verifyBoundEvidence } from './verify.js';

const spki = () =>
  new Uint8Array(
    createPublicKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey).export({
      type: 'spki',
      format: 'der',
    }),
  );
const label = 'contrast-ts mesh cert v1';

describe('verifyBoundEvidence (evidence a client posts, e.g. for a mesh certificate)', () => {
  it('accepts evidence binding the label, nonce and key; rejects old nonces and other keys', async () => {
    const key = spki();
    const nonce = new Uint8Array(randomBytes(32));
    const evidence = await new FakeIssuer().issue(await reportDataFor({ label, nonce, publicKey: key }));
    const base = { evidence, verifiers: new FakeVerifier(), label, allowInsecure: true };
    await expect(verifyBoundEvidence({ ...base, nonce, publicKey: key })).resolves.toMatchObject({
      kind: 'fake',
    });
    await expect(
      verifyBoundEvidence({ ...base, nonce: new Uint8Array(randomBytes(32)), publicKey: key }),
    ).rejects.toMatchObject({ code: 'attestation-failed', cause: { code: 'report-data-mismatch' } });
    await expect(verifyBoundEvidence({ ...base, nonce, publicKey: spki() })).rejects.toMatchObject({
      cause: { code: 'report-data-mismatch' },
    });
    await expect(
      verifyBoundEvidence({ ...base, label: 'contrast-ts attested-tls v1', nonce, publicKey: key }),
    ).rejects.toMatchObject({ cause: { code: 'report-data-mismatch' } });
    await expect(
      verifyBoundEvidence({ ...base, allowInsecure: false, nonce, publicKey: key }),
    ).rejects.toMatchObject({
      cause: { code: 'insecure-platform' },
    });
  });
});
