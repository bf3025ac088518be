import { createHash, createPublicKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { type EvidenceClaims, toHex } from '@contrast-cc/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CA_NAMES, type CaHierarchy, createCaHierarchy } from './ca.js';
import { MESH_CERT_OIDS } from './extensions.js';
import { spkiDer } from './keys.js';
import { readMeshCertificate } from './read.js';
import { SeedEngine } from './seed-engine.js';
import { golden } from './test-support/golden.js';
import { hasOpenssl, opensslDir } from './test-support/openssl.js';

const sha = (alg: string, text: string) => new Uint8Array(createHash(alg).update(text).digest());
const engine = new SeedEngine(sha('sha512', 'ca test seed'), sha('sha256', 'ca test salt'));
const claims: EvidenceClaims = {
  kind: 'snp-report',
  reportData: new Uint8Array(64).fill(7),
  measurement: 'ab'.repeat(48),
  policyDigest: 'cd'.repeat(32),
  insecure: false,
  details: { tcb: { snp: 22, bootloader: 10 }, chipId: 'ee'.repeat(64) },
};

describe('CA hierarchy', () => {
  let ca: CaHierarchy;
  beforeAll(async () => {
    ca = await createCaHierarchy(engine, { now: new Date('2026-11-27T00:00:00Z') });
  });

  it('has the upstream names, validity and CA constraints', () => {
    const root = new X509Certificate(ca.root.pem);
    const inter = new X509Certificate(ca.intermediate.pem);
    const mesh = new X509Certificate(ca.meshCa.pem);
    expect(root.subject).toBe(`CN=${CA_NAMES.root}`);
    expect(root.ca && inter.ca && mesh.ca).toBe(true);
    expect(inter.subject).toBe(`CN=${CA_NAMES.intermediate}`);
    expect(inter.issuer).toBe(`CN=${CA_NAMES.root}`);
    expect(mesh.issuer).toBe(`CN=${CA_NAMES.intermediate}`);
    expect(new Date(root.validFrom).toISOString()).toBe('2026-11-26T23:00:00.000Z');
    expect(new Date(root.validTo).toISOString()).toBe('2036-11-26T23:00:00.000Z');
    expect(inter.checkIssued(root) && inter.verify(root.publicKey)).toBe(true);
    expect(mesh.verify(mesh.publicKey)).toBe(true);
    expect(inter.publicKey.equals(mesh.publicKey)).toBe(true);
    expect(root.publicKey.equals(engine.transactionSigningPublicKey())).toBe(false);
  });

  it('keeps the root key and serial with the seed, rotates the mesh CA', async () => {
    const again = await createCaHierarchy(engine);
    const a = new X509Certificate(ca.root.pem);
    const b = new X509Certificate(again.root.pem);
    expect(a.publicKey.equals(b.publicKey)).toBe(true);
    expect(a.serialNumber).toBe(b.serialNumber);
    expect(
      new X509Certificate(again.meshCa.pem).publicKey.equals(new X509Certificate(ca.meshCa.pem).publicKey),
    ).toBe(false);
    const shared = await createCaHierarchy(engine, { meshCaKey: ca.meshCaKey() });
    expect(
      new X509Certificate(shared.meshCa.pem).publicKey.equals(new X509Certificate(ca.meshCa.pem).publicKey),
    ).toBe(true);
  });

  it('makes the root certificate byte-deterministic from the seed (RFC 6979), golden', async () => {
    const rootNotBefore = new Date('2026-01-01T00:00:00Z');
    const a = await createCaHierarchy(engine, { rootNotBefore });
    const b = await createCaHierarchy(engine, { rootNotBefore, now: new Date('2027-05-05T00:00:00Z') });
    expect(a.root.pem).toBe(b.root.pem);
    const root = new X509Certificate(a.root.pem);
    expect(root.verify(root.publicKey)).toBe(true);
    expect(root.publicKey.equals(createPublicKey(engine.rootCaKey()))).toBe(true);
    expect({ rootNotBefore: rootNotBefore.toISOString(), rootPem: a.root.pem }).toEqual(
      golden('root-ca.json', { rootNotBefore: rootNotBefore.toISOString(), rootPem: a.root.pem }),
    );
    // another notBefore gives another certificate with the same key
    const c = await createCaHierarchy(engine, { rootNotBefore: new Date('2026-01-02T00:00:00Z') });
    expect(c.root.pem).not.toBe(a.root.pem);
  });

  it('issues a mesh certificate with SANs, WorkloadSecretID and claim extensions', async () => {
    const leafKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const cert = await ca.issueMeshCertificate({
      publicKey: leafKey.publicKey,
      sans: ['web', 'web.default.svc.cluster.local', '*.web', '10.0.0.7', '::1', 'spiffe://cluster/ns/web'],
      workloadSecretId: 'web-secret',
      claims,
      now: new Date('2026-11-27T00:00:00Z'),
    });
    const x = new X509Certificate(cert.pem);
    expect(x.subject).toBe('CN=web');
    expect(x.subjectAltName).toBe(
      'DNS:web, DNS:web.default.svc.cluster.local, DNS:*.web, IP Address:10.0.0.7, IP Address:0:0:0:0:0:0:0:1, URI:spiffe://cluster/ns/web',
    );
    expect(new Date(x.validTo).toISOString()).toBe('2027-11-26T23:00:00.000Z');
    expect(x.ca).toBe(false);
    expect(x.keyUsage).toEqual(expect.arrayContaining(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']));
    expect(x.publicKey.equals(leafKey.publicKey)).toBe(true);
    expect(x.verify(new X509Certificate(ca.meshCa.pem).publicKey)).toBe(true);
    const read = readMeshCertificate(cert.der);
    expect(read.subjectCommonName).toBe('web');
    expect(read.sans).toEqual([
      'web',
      'web.default.svc.cluster.local',
      '*.web',
      '10.0.0.7',
      '0:0:0:0:0:0:0:1',
      'spiffe://cluster/ns/web',
    ]);
    expect(read.notAfter.toISOString()).toBe('2027-11-26T23:00:00.000Z');
    expect(read.notBefore.getTime()).toBe(new Date(x.validFrom).getTime());
    expect(readMeshCertificate(cert.pem)).toEqual(read);
    expect(() => readMeshCertificate(cert.der.subarray(0, 100))).toThrow(
      expect.objectContaining({ code: 'invalid-argument', field: 'certificate' }),
    );
    expect(read.workloadSecretId).toBe('web-secret');
    expect(read.claims).toEqual({ ...claims, reportData: claims.reportData });
    expect(toHex(read.spki)).toBe(toHex(spkiDer(leafKey.publicKey)));
    expect(cert.chainPem).toBe(cert.pem + ca.intermediate.pem);
  });

  it('configurable validity and no claims', async () => {
    const short = await createCaHierarchy(engine, {
      now: new Date('2026-01-01T00:00:00Z'),
      validity: { caMs: 86_400_000, leafMs: 3_600_000, backdateMs: 0 },
    });
    expect(new X509Certificate(short.root.pem).validTo).toBe('Jan  2 00:00:00 2026 GMT');
    const leaf = await short.issueMeshCertificate({
      publicKey: generateKeyPairSync('ed25519').publicKey,
      sans: ['a.example'],
      now: new Date('2026-01-01T00:00:00Z'),
    });
    expect(new X509Certificate(leaf.pem).validTo).toBe('Jan  1 01:00:00 2026 GMT');
    const read = readMeshCertificate(leaf.pem);
    expect(read.claims).toBeUndefined();
    expect(read.workloadSecretId).toBeUndefined();
  });

  it('accepts the bare "*" SAN upstream manifests carry, and no other lone wildcard form', async () => {
    const pub = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    const issued = await ca.issueMeshCertificate({ publicKey: pub, sans: ['web', '*'] });
    expect(new X509Certificate(issued.pem).subjectAltName).toBe('DNS:web, DNS:*');
    for (const bad of ['**', '*.', 'a.*', '*a']) {
      await expect(ca.issueMeshCertificate({ publicKey: pub, sans: [bad] })).rejects.toMatchObject({
        field: 'sans[0]',
      });
    }
  });

  it('gives each SAN list its own names when lists alternate (names are encoded once per list)', async () => {
    const pub = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    const lists = [['web', '10.0.0.7'], ['db'], ['10.0.0.8'], [], ['web', '10.0.0.7', 'spiffe://x/y']];
    for (const sans of [...lists, ...lists.reverse()]) {
      const leaf = new X509Certificate((await ca.issueMeshCertificate({ publicKey: pub, sans })).pem);
      expect(readMeshCertificate(leaf.raw).sans).toEqual(sans);
      expect(leaf.subject).toBe(`CN=${sans[0] ?? 'contrast-workload'}`);
    }
    for (let i = 0; i < 2; i++) {
      await expect(
        ca.issueMeshCertificate({ publicKey: pub, sans: ['ok', 'bad name!'] }),
      ).rejects.toMatchObject({
        field: 'sans[1]',
      });
    }
  });

  it('rejects bad input naming the field', async () => {
    const pub = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    await expect(
      ca.issueMeshCertificate({ publicKey: pub, sans: ['ok', 'bad name!'] }),
    ).rejects.toMatchObject({
      code: 'invalid-argument',
      field: 'sans[1]',
    });
    await expect(ca.issueMeshCertificate({ publicKey: 'nope', sans: [] })).rejects.toMatchObject({
      field: 'publicKey',
    });
    await expect(
      ca.issueMeshCertificate({ publicKey: pub, sans: [], claims: { ...claims, measurement: 'xyz' } }),
    ).rejects.toMatchObject({ field: 'claims.measurement' });
    await expect(
      createCaHierarchy(engine, { meshCaKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey }),
    ).rejects.toMatchObject({ field: 'key' });
  });

  it('uses the documented OIDs', () => {
    expect(MESH_CERT_OIDS.workloadSecretId).toBe('1.3.9901.3.1');
  });
});

describe.skipIf(!hasOpenssl)('openssl verify accepts every chain we issue', () => {
  const d = opensslDir();
  afterAll(() => d.cleanup());
  const verify = (args: string[]) => d.run(['verify', '-x509_strict', '-purpose', 'sslserver', ...args]);

  it('root -> intermediate -> leaf and mesh CA -> leaf, across manifest updates', async () => {
    const ca1 = await createCaHierarchy(engine);
    const ca2 = await createCaHierarchy(engine); // a manifest update: new mesh CA, same root
    const key = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const leaf1 = await ca1.issueMeshCertificate({
      publicKey: key.publicKey,
      sans: ['svc', '127.0.0.1'],
      claims,
      workloadSecretId: 'x',
    });
    const leaf2 = await ca2.issueMeshCertificate({ publicKey: key.publicKey, sans: ['svc'] });
    d.file('root.pem', ca1.root.pem);
    d.file('root2.pem', ca2.root.pem);
    d.file('inter1.pem', ca1.intermediate.pem);
    d.file('inter2.pem', ca2.intermediate.pem);
    d.file('mesh1.pem', ca1.meshCa.pem);
    d.file('mesh2.pem', ca2.meshCa.pem);
    d.file('leaf1.pem', leaf1.pem);
    d.file('leaf2.pem', leaf2.pem);
    d.file('chain1.pem', leaf1.chainPem);

    for (const args of [
      ['-CAfile', 'root.pem', '-untrusted', 'inter1.pem', 'leaf1.pem'],
      ['-CAfile', 'mesh1.pem', 'leaf1.pem'],
      ['-CAfile', 'root.pem', 'inter1.pem'],
      ['-CAfile', 'root.pem', '-untrusted', 'chain1.pem', 'leaf1.pem'],
      // the old root file still anchors the new generation (root stable across updates)
      ['-CAfile', 'root.pem', '-untrusted', 'inter2.pem', 'leaf2.pem'],
      ['-CAfile', 'root2.pem', '-untrusted', 'inter1.pem', 'leaf1.pem'],
      ['-CAfile', 'mesh2.pem', 'leaf2.pem'],
    ]) {
      const r = verify(args);
      expect(r.out, args.join(' ')).toContain('OK');
      expect(r.status, r.out).toBe(0);
    }
    // negatives: the mesh CA of one generation does not accept the other's leaves; no chain, no trust
    for (const args of [
      ['-CAfile', 'mesh2.pem', 'leaf1.pem'],
      ['-CAfile', 'root.pem', 'leaf1.pem'],
      ['-CAfile', 'root.pem', '-untrusted', 'inter2.pem', 'leaf1.pem'],
    ]) {
      expect(verify(args).status, args.join(' ')).not.toBe(0);
    }
  });

  it('rejects a chain from another seed and an expired leaf', async () => {
    const other = await createCaHierarchy(SeedEngine.generate());
    const ca = await createCaHierarchy(engine, { validity: { leafMs: 60_000, backdateMs: 0 } });
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const foreign = await other.issueMeshCertificate({ publicKey: key.publicKey, sans: ['a'] });
    const shortLived = await ca.issueMeshCertificate({ publicKey: key.publicKey, sans: ['a'] });
    d.file('r.pem', ca.root.pem);
    d.file('i.pem', ca.intermediate.pem);
    d.file('oi.pem', other.intermediate.pem);
    d.file('foreign.pem', foreign.pem);
    d.file('short.pem', shortLived.pem);
    expect(verify(['-CAfile', 'r.pem', '-untrusted', 'oi.pem', 'foreign.pem']).status).not.toBe(0);
    expect(verify(['-CAfile', 'r.pem', '-untrusted', 'i.pem', 'short.pem']).status).toBe(0);
    const later = String(Math.floor(Date.now() / 1000) + 3600);
    const expired = verify(['-attime', later, '-CAfile', 'r.pem', '-untrusted', 'i.pem', 'short.pem']);
    expect(expired.status).not.toBe(0);
    expect(expired.out).toMatch(/expired/);
  });

  it('openssl reads our extensions and SANs', async () => {
    const ca = await createCaHierarchy(engine);
    const leaf = await ca.issueMeshCertificate({
      publicKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey,
      sans: ['db', '10.1.2.3'],
      workloadSecretId: 'db-secret',
      claims,
    });
    d.file('ext.pem', leaf.pem);
    const text = d.runOk(['x509', '-in', 'ext.pem', '-noout', '-text']);
    expect(text).toContain('DNS:db, IP Address:10.1.2.3');
    expect(text).toContain('1.3.9901.3.1');
    expect(text).toContain('1.3.9901.4.2');
    expect(text).toContain('TLS Web Client Authentication, TLS Web Server Authentication');
  });
});
