import { createHash, generateKeyPairSync, sign, X509Certificate } from 'node:crypto';
import { isContrastError } from '@contrast-cc/core';
import {
  basicConstraintsExtension,
  commonNameDer,
  KEY_USAGE,
  keyUsageExtension,
} from '@contrast-cc/core/x509';
import { beforeAll, describe, expect, it } from 'vitest';
import { type CaHierarchy, createCaHierarchy, type RestoreCaInput, restoreCaHierarchy } from './ca.js';
import { certificateDer, tbsCertificate } from './certificate.js';
import { spkiDer } from './keys.js';
import { SeedEngine } from './seed-engine.js';

const sha = (alg: string, text: string) => new Uint8Array(createHash(alg).update(text).digest());
const engine = new SeedEngine(sha('sha512', 'restore test seed'), sha('sha256', 'restore test salt'));
const other = new SeedEngine(sha('sha512', 'another seed'), sha('sha256', 'another salt'));
const now = new Date('2026-11-27T08:00:00Z');
const later = new Date('2026-11-28T08:00:00Z');

/** What restoreCaHierarchy throws (or undefined when it succeeds). */
async function refusal(engineUsed: SeedEngine, input: RestoreCaInput) {
  try {
    await restoreCaHierarchy(engineUsed, input);
    return undefined;
  } catch (e) {
    if (!isContrastError(e)) throw e;
    return { code: e.code, field: e.field, message: e.message };
  }
}

describe('restoreCaHierarchy', () => {
  let ca: CaHierarchy;
  let input: RestoreCaInput;
  beforeAll(async () => {
    ca = await createCaHierarchy(engine, { now });
    input = {
      root: ca.root.der,
      intermediate: ca.intermediate.der,
      meshCa: ca.meshCa.der,
      meshCaKey: ca.meshCaKey(),
      now: later,
    };
  });

  it('reconstructing from the issued certificates gives the same bytes (DER and PEM)', async () => {
    for (const given of [
      input,
      { ...input, root: ca.root.pem, intermediate: ca.intermediate.pem, meshCa: ca.meshCa.pem },
    ]) {
      const restored = await restoreCaHierarchy(engine, given);
      expect(restored.root.der).toEqual(ca.root.der);
      expect(restored.intermediate.der).toEqual(ca.intermediate.der);
      expect(restored.meshCa.der).toEqual(ca.meshCa.der);
      expect(restored.root.pem).toBe(ca.root.pem);
      expect(restored.intermediate.pem).toBe(ca.intermediate.pem);
      expect(restored.meshCa.pem).toBe(ca.meshCa.pem);
    }
  });

  it('issues mesh certificates that chain to the restored CAs', async () => {
    const restored = await restoreCaHierarchy(engine, input);
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const leaf = new X509Certificate(
      (await restored.issueMeshCertificate({ publicKey, sans: ['web'], now: later })).pem,
    );
    expect(leaf.verify(new X509Certificate(ca.meshCa.pem).publicKey)).toBe(true);
    expect(leaf.checkIssued(new X509Certificate(ca.intermediate.pem))).toBe(true);
  });

  it('without an intermediate: keeps root and mesh CA, issues a new intermediate signed by the root', async () => {
    const { intermediate: _, ...rest } = input;
    const restored = await restoreCaHierarchy(engine, rest);
    expect(restored.meshCa.der).toEqual(ca.meshCa.der);
    expect(restored.root.der).toEqual(ca.root.der);
    expect(restored.intermediate.der).not.toEqual(ca.intermediate.der);
    const inter = new X509Certificate(restored.intermediate.pem);
    expect(inter.verify(new X509Certificate(ca.root.pem).publicKey)).toBe(true);
    expect(inter.publicKey.equals(new X509Certificate(ca.meshCa.pem).publicKey)).toBe(true);
    expect(inter.validFrom).toBe(new X509Certificate(ca.meshCa.pem).validFrom);
    // and it is one a later restore accepts
    await restoreCaHierarchy(engine, { ...input, intermediate: restored.intermediate.der });
  });

  it('refuses a mesh CA or intermediate certificate for another key', async () => {
    const foreign = await createCaHierarchy(engine, { now });
    expect(await refusal(engine, { ...input, meshCa: foreign.meshCa.der })).toEqual({
      code: 'permission-denied',
      field: 'meshCa',
      message: 'the certificate is for another key than the mesh CA key',
    });
    expect(await refusal(engine, { ...input, intermediate: foreign.intermediate.der })).toMatchObject({
      code: 'permission-denied',
      field: 'intermediate',
      message: 'the certificate is for another key than the mesh CA key',
    });
    // the mesh CA key of another hierarchy with this one's certificates
    expect(await refusal(engine, { ...input, meshCaKey: foreign.meshCaKey() })).toMatchObject({
      code: 'permission-denied',
      field: 'meshCa',
    });
  });

  it('refuses an intermediate signed by another root, and a root the seed does not reproduce', async () => {
    const otherRoot = await createCaHierarchy(other, { now, meshCaKey: ca.meshCaKey() });
    expect(await refusal(engine, { ...input, intermediate: otherRoot.intermediate.der })).toEqual({
      code: 'permission-denied',
      field: 'intermediate',
      message: 'the certificate is not signed by the root CA',
    });
    expect(await refusal(engine, { ...input, root: otherRoot.root.der })).toMatchObject({
      code: 'permission-denied',
      field: 'root',
    });
    // the other seed with this hierarchy's certificates
    expect(await refusal(other, input)).toMatchObject({ code: 'permission-denied', field: 'root' });
  });

  it('refuses a tampered signature and a certificate that does not parse', async () => {
    const tampered = Uint8Array.from(ca.meshCa.der);
    tampered[tampered.length - 5]! ^= 0x01;
    expect(await refusal(engine, { ...input, meshCa: tampered })).toMatchObject({
      code: 'permission-denied',
      field: 'meshCa',
      message: 'the certificate is not signed by the mesh CA key (self-signed)',
    });
    expect(await refusal(engine, { ...input, intermediate: 'not a certificate' })).toMatchObject({
      code: 'invalid-argument',
      field: 'intermediate',
    });
  });

  it('refuses a certificate with the right key and signature but not our profile', async () => {
    // The mesh CA key self-signs a CA certificate without SubjectKeyIdentifier: key and signature
    // are right, the extensions are not what the hierarchy issues.
    const meshName = commonNameDer('system:coordinator:intermediate');
    const tbs = tbsCertificate({
      serial: Uint8Array.of(0x41, 2, 3, 4),
      issuer: meshName,
      notBefore: new Date(now.getTime() - 3_600_000),
      notAfter: new Date(now.getTime() + 86_400_000 * 365),
      subject: meshName,
      spki: spkiDer(ca.meshCaKey()),
      extensions: [
        basicConstraintsExtension(true),
        keyUsageExtension([KEY_USAGE.digitalSignature, KEY_USAGE.keyCertSign]),
      ],
    });
    const signature = new Uint8Array(sign('sha384', tbs, { key: ca.meshCaKey(), dsaEncoding: 'der' }));
    expect(await refusal(engine, { ...input, meshCa: certificateDer(tbs, signature) })).toEqual({
      code: 'permission-denied',
      field: 'meshCa',
      message: 'the certificate is not one the CA hierarchy issues (names, extensions or encoding differ)',
    });
  });

  it('refuses certificates that are not valid now', async () => {
    expect(await refusal(engine, { ...input, now: new Date('2040-01-01T00:00:00Z') })).toMatchObject({
      code: 'permission-denied',
      field: 'root',
      message: expect.stringContaining('not valid now'),
    });
    expect(await refusal(engine, { ...input, now: new Date('2026-11-27T06:00:00Z') })).toMatchObject({
      code: 'permission-denied',
      message: expect.stringContaining('not valid now'),
    });
    // a mesh CA that expired while the root is still valid
    const short = await createCaHierarchy(engine, { now, validity: { caMs: 86_400_000 } });
    const root = await createCaHierarchy(engine, { now, validity: { caMs: 86_400_000 * 30 } });
    expect(
      await refusal(engine, {
        root: root.root.der,
        meshCa: short.meshCa.der,
        meshCaKey: short.meshCaKey(),
        now: new Date(now.getTime() + 86_400_000 * 2),
        validity: { caMs: 86_400_000 * 30 },
      }),
    ).toMatchObject({
      code: 'permission-denied',
      field: 'meshCa',
      message: expect.stringContaining('not valid now'),
    });
  });

  it('never puts the mesh CA key into an error', async () => {
    const pem = ca.meshCaKey().export({ type: 'pkcs8', format: 'pem' }).toString();
    const e = await refusal(engine, { ...input, meshCa: 'x' });
    expect(JSON.stringify(e)).not.toContain(pem.split('\n')[1]);
  });
});
