import { createHash, createPublicKey, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { createCaHierarchy, readMeshCertificate, SeedEngine } from '@contrast-cc/certs';
import { bytesEqual, concatBytes } from '@contrast-cc/core';
import { FakeIssuer, FakeVerifier } from '@contrast-cc/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { reportDataFor } from './binding.js';
import { connectAttested } from './client.js';
import { createAttestedServer } from './server.js';
import { verifyBoundEvidence } from './verify.js';

const sha256 = (b: Uint8Array) => new Uint8Array(createHash('sha256').update(b).digest());
const MESH_LABEL = 'contrast-ts mesh cert v1';

describe('a Coordinator-like flow built from certs and atls', () => {
  const closers: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of closers) await c();
  });

  it('attests the server state, then issues a mesh certificate for attested workload evidence', async () => {
    const engine = SeedEngine.generate();
    const ca = await createCaHierarchy(engine);
    const coordinatorKey = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const serverCert = await ca.issueMeshCertificate({
      publicKey: coordinatorKey.publicKey,
      sans: ['coordinator', '127.0.0.1'],
    });
    const rootDer = ca.root.der;
    const meshDer = ca.meshCa.der;
    const digest = sha256(concatBytes(sha256(rootDer), sha256(meshDer)));
    const coordinatorVerifier = new FakeVerifier({ measurement: '11'.repeat(48) });

    const server = createAttestedServer({
      issuer: new FakeIssuer({ measurement: '11'.repeat(48) }),
      key: coordinatorKey.privateKey,
      cert: serverCert.chainPem,
      state: () => ({ digest, fields: { root_ca: ca.root.pem, mesh_ca: ca.meshCa.pem } }),
    });
    closers.push(() => server.close());
    const { port } = await server.listen();

    // The user side: attest, then check the returned CAs against the attested digest.
    const conn = await connectAttested({
      host: '127.0.0.1',
      port,
      verifiers: coordinatorVerifier,
      allowInsecure: true,
    });
    const root = new X509Certificate(conn.attestResponse.root_ca as string);
    const mesh = new X509Certificate(conn.attestResponse.mesh_ca as string);
    expect(bytesEqual(sha256(concatBytes(sha256(root.raw), sha256(mesh.raw))), conn.stateDigest!)).toBe(true);
    // The attested TLS certificate chains to the attested root.
    const presented = new X509Certificate(serverCert.pem);
    expect(presented.verify(mesh.publicKey)).toBe(true);
    expect(
      bytesEqual(conn.spki, new Uint8Array(presented.publicKey.export({ type: 'spki', format: 'der' }))),
    ).toBe(true);

    // The workload side: evidence bound to its own key and the Coordinator's nonce.
    const workload = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const workloadSpki = new Uint8Array(
      createPublicKey(workload.privateKey).export({ type: 'spki', format: 'der' }),
    );
    const nonce = new Uint8Array(randomBytes(32));
    const evidence = await new FakeIssuer({
      measurement: '22'.repeat(48),
      policyDigest: 'ab'.repeat(32),
    }).issue(await reportDataFor({ label: MESH_LABEL, nonce, publicKey: workloadSpki }));
    const claims = await verifyBoundEvidence({
      evidence,
      verifiers: new FakeVerifier({ policyDigests: ['ab'.repeat(32)] }),
      nonce,
      publicKey: workloadSpki,
      label: MESH_LABEL,
      allowInsecure: true,
    });
    const leaf = await ca.issueMeshCertificate({
      publicKey: workloadSpki,
      sans: ['db', 'db.default.svc.cluster.local'],
      workloadSecretId: 'db',
      claims,
    });
    const read = readMeshCertificate(leaf.pem);
    expect(read.workloadSecretId).toBe('db');
    expect(read.claims?.policyDigest).toBe('ab'.repeat(32));
    expect(bytesEqual(read.claims!.reportData, claims.reportData)).toBe(true);
    expect(new X509Certificate(leaf.pem).verify(root.publicKey)).toBe(false); // leaves hang below the mesh CA
    expect(new X509Certificate(leaf.pem).verify(mesh.publicKey)).toBe(true);
    expect(new X509Certificate(ca.intermediate.pem).verify(root.publicKey)).toBe(true);
  });
});
