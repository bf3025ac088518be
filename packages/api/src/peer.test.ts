import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { reportDataFor } from '@contrast-cc/atls';
import { isContrastError } from '@contrast-cc/core';
import { describe, expect, it } from 'vitest';
import { meshCertReportData } from './binding.js';
import {
  openPeerSecret,
  PEER_RECOVER_LABEL,
  PeerRecoverRequestSchema,
  PeerRecoverResponseSchema,
  peerRecoverReportData,
  sealPeerSecret,
} from './peer.js';

const spki = (k: { export(o: { type: 'spki'; format: 'der' }): Buffer }) =>
  new Uint8Array(k.export({ type: 'spki', format: 'der' }));

describe('peer secret sealing', () => {
  const recipient = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const nonce = new Uint8Array(randomBytes(32));
  const secret = {
    seed: new Uint8Array(randomBytes(64)),
    salt: new Uint8Array(randomBytes(32)),
    meshCaKey: new Uint8Array(
      generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ type: 'pkcs8', format: 'der' }),
    ),
  };

  it('round-trips seed, salt and mesh CA key; nothing readable in the sealed form', () => {
    const sealed = sealPeerSecret(spki(recipient.publicKey), nonce, secret);
    const opened = openPeerSecret(recipient.privateKey, nonce, sealed);
    expect(Buffer.from(opened.seed).equals(Buffer.from(secret.seed))).toBe(true);
    expect(Buffer.from(opened.salt).equals(Buffer.from(secret.salt))).toBe(true);
    expect(Buffer.from(opened.meshCaKey).equals(Buffer.from(secret.meshCaKey))).toBe(true);
    const c = Buffer.from(sealed.ciphertext);
    expect(c.includes(Buffer.from(secret.seed.subarray(0, 16)))).toBe(false);
    expect(c.includes(Buffer.from(secret.meshCaKey.subarray(-16)))).toBe(false);
  });

  it('refuses another key, another nonce and a flipped bit with permission-denied', () => {
    const sealed = sealPeerSecret(spki(recipient.publicKey), nonce, secret);
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const flipped = sealed.ciphertext.slice();
    flipped[40]! ^= 1;
    for (const attempt of [
      () => openPeerSecret(other.privateKey, nonce, sealed),
      () => openPeerSecret(recipient.privateKey, new Uint8Array(randomBytes(32)), sealed),
      () => openPeerSecret(recipient.privateKey, nonce, { ...sealed, ciphertext: flipped }),
    ]) {
      let error: unknown;
      try {
        attempt();
      } catch (e) {
        error = e;
      }
      expect(isContrastError(error) && error.code).toBe('permission-denied');
      expect(String((error as Error).message)).not.toContain(
        Buffer.from(secret.seed).toString('hex').slice(0, 16),
      );
    }
  });

  it('refuses to seal a seed or salt of the wrong length, naming the field', () => {
    const recipientSpki = spki(recipient.publicKey);
    expect(() =>
      sealPeerSecret(recipientSpki, nonce, { ...secret, seed: secret.seed.subarray(0, 32) }),
    ).toThrow(expect.objectContaining({ field: 'seed' }));
    expect(() =>
      sealPeerSecret(recipientSpki, nonce, { ...secret, salt: secret.salt.subarray(0, 16) }),
    ).toThrow(expect.objectContaining({ field: 'salt' }));
  });

  it('refuses a sealed secret without a mesh CA key', () => {
    // sealed with the plain recovery layout (salt || seed): no key after the seed
    const sealed = sealPeerSecret(spki(recipient.publicKey), nonce, {
      ...secret,
      meshCaKey: new Uint8Array(),
    });
    expect(() => openPeerSecret(recipient.privateKey, nonce, sealed)).toThrow(
      expect.objectContaining({ code: 'permission-denied', field: 'sealed_secret' }),
    );
  });
});

describe('peer recovery REPORT_DATA', () => {
  const nonce = new Uint8Array(randomBytes(32));
  const eph = spki(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey);
  const responder = spki(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey);

  it('binds the label, the nonce, the ephemeral key and the responder key', async () => {
    const rd = await peerRecoverReportData(nonce, eph, responder);
    expect(rd.length).toBe(64);
    const other = spki(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey);
    const variants = [
      await peerRecoverReportData(new Uint8Array(randomBytes(32)), eph, responder),
      await peerRecoverReportData(nonce, other, responder),
      await peerRecoverReportData(nonce, eph, other),
      // the same inputs as a mesh-certificate request must not collide (label)
      await meshCertReportData(nonce, eph, responder),
    ];
    for (const v of variants) expect(Buffer.from(v).equals(Buffer.from(rd))).toBe(false);
    expect(PEER_RECOVER_LABEL).toBe('contrast-ts peer recover v1');
    const again = await reportDataFor({
      label: PEER_RECOVER_LABEL,
      nonce,
      publicKey: eph,
      stateDigest: new Uint8Array(createHash('sha256').update(responder).digest()),
    });
    expect(Buffer.from(again).equals(Buffer.from(rd))).toBe(true);
  });
});

describe('peer recovery schemas', () => {
  it('accept the challenge form and refuse unknown fields naming them', () => {
    expect(PeerRecoverRequestSchema.safeParse({}).success).toBe(true);
    const bad = PeerRecoverRequestSchema.safeParse({ nonce: 'AAAA', seed: 'AAAA' });
    expect(bad.success).toBe(false);
    const bad2 = PeerRecoverRequestSchema.safeParse({ nonce: 'not base64!' });
    expect(bad2.success).toBe(false);
    expect(bad2.error?.issues[0]?.path).toEqual(['nonce']);
    const res = PeerRecoverResponseSchema.safeParse({
      version: 'v1',
      transition_hash: 'AB'.repeat(32),
      root_ca: '-----BEGIN CERTIFICATE-----',
      mesh_ca: '-----BEGIN CERTIFICATE-----',
      sealed_ephemeral_public_key: 'AAAA',
      sealed_secret: 'AAAA',
    });
    expect(res.success).toBe(false);
    expect(res.error?.issues[0]?.path).toEqual(['transition_hash']);
  });

  it('the response may carry the intermediate CA (optional: older peers send none); it must be PEM', () => {
    const base = {
      version: 'v1',
      transition_hash: 'ab'.repeat(32),
      root_ca: '-----BEGIN CERTIFICATE-----',
      mesh_ca: '-----BEGIN CERTIFICATE-----',
      sealed_ephemeral_public_key: 'AAAA',
      sealed_secret: 'AAAA',
    };
    expect(PeerRecoverResponseSchema.safeParse(base).success).toBe(true);
    const withIntermediate = PeerRecoverResponseSchema.safeParse({
      ...base,
      intermediate_ca: '-----BEGIN CERTIFICATE-----',
    });
    expect(withIntermediate.data?.intermediate_ca).toBe('-----BEGIN CERTIFICATE-----');
    const bad = PeerRecoverResponseSchema.safeParse({ ...base, intermediate_ca: 'MIIB' });
    expect(bad.error?.issues[0]?.path).toEqual(['intermediate_ca']);
  });
});
