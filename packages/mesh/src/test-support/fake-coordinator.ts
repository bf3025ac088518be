import { createPublicKey, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { fromBase64, type MeshCertResponse, meshCertReportData } from '@contrast-cc/api';
import { createCaHierarchy, SeedEngine } from '@contrast-cc/certs';
import { FakeVerifier } from '@contrast-cc/core/testing';

/** The policy digest the fake Coordinator accepts (the tests' FakeIssuer binds it). */
export const POLICY = 'aa'.repeat(32);

/** A fresh P-256 TLS key with a certificate from a throwaway CA (the client checks no chain). */
async function tlsIdentity() {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const throwaway = await createCaHierarchy(SeedEngine.generate());
  const cert = await throwaway.issueMeshCertificate({
    publicKey: createPublicKey(privateKey),
    sans: ['fake-coordinator'],
  });
  return { key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, cert: cert.chainPem };
}

const PLACEHOLDER_ANSWER = {
  cert_chain: '-----BEGIN CERTIFICATE-----\nleaf\n-----END CERTIFICATE-----\n',
  mesh_ca: '-----BEGIN CERTIFICATE-----\nmesh\n-----END CERTIFICATE-----\n',
  root_ca: '-----BEGIN CERTIFICATE-----\nroot\n-----END CERTIFICATE-----\n',
  workload_secret: 'ab'.repeat(64),
};

/** Options of {@link fakeCoordinator}. */
export interface FakeCoordinatorOptions {
  /** Answer `no_manifest` to the first this many calls. */
  notReady?: number;
  /** Idle keep-alive connections are closed after this long (default: a minute, longer than a test). */
  keepAliveMs?: number;
  /**
   * Close the connection as soon as a `no_manifest` refusal is sent (no Connection header: the
   * client finds its idle connection gone, as after a keep-alive timeout, but without a race
   * between two timers on a busy machine).
   */
  closeIdle?: boolean;
  /** The certificate answer for an accepted request (default: placeholder PEMs, a fixed secret). */
  answer?: (publicKey: Uint8Array) => Promise<Omit<MeshCertResponse, 'version'>>;
}

/**
 * A loopback stand-in for the Coordinator's mesh-certificate endpoint: nonce challenge, evidence
 * checked by a FakeVerifier of {@link POLICY} against the REPORT_DATA the real Coordinator expects.
 */
export async function fakeCoordinator(options: FakeCoordinatorOptions = {}) {
  const notReady = options.notReady ?? 0;
  const { key, cert } = await tlsIdentity();
  const spki = new Uint8Array(new X509Certificate(cert).publicKey.export({ type: 'spki', format: 'der' }));
  const nonces = new Set<string>();
  const verifier = new FakeVerifier({ policyDigests: [POLICY] });
  let calls = 0;
  const issued: Uint8Array[] = [];
  const server: Server = createServer({ key, cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      calls++;
      if (calls <= notReady) {
        if (options.closeIdle) res.on('finish', () => req.socket.end());
        return send(412, { version: 'v1', code: 'no_manifest', error: 'no manifest configured' });
      }
      const body = JSON.parse(Buffer.concat(chunks).toString()) as {
        nonce?: string;
        public_key: string;
        evidence: { kind: string; data: string };
      };
      if (!body.nonce || !nonces.delete(body.nonce)) {
        const n = randomBytes(32).toString('base64');
        nonces.add(n);
        return send(401, { version: 'v1', code: 'challenge_required', error: 'nonce', nonce: n });
      }
      const publicKey = fromBase64(body.public_key);
      const rd = await meshCertReportData(fromBase64(body.nonce), publicKey, spki);
      const r = await verifier.verify(
        { kind: body.evidence.kind, data: fromBase64(body.evidence.data) },
        { reportData: rd },
      );
      if (!r.ok) return send(403, { version: 'v1', code: 'attestation_failed', error: r.reason.message });
      issued.push(publicKey);
      send(200, {
        version: 'v1',
        ...(options.answer ? await options.answer(publicKey) : PLACEHOLDER_ANSWER),
      });
    });
  });
  server.keepAliveTimeout = options.keepAliveMs ?? 60_000;
  let connections = 0;
  let resumed = 0;
  server.on('secureConnection', (socket) => {
    connections++;
    if (socket.isSessionReused()) resumed++;
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    server,
    port: (server.address() as AddressInfo).port,
    issued,
    calls: () => calls,
    connections: () => connections,
    resumed: () => resumed,
    /** Connections still open on the server side. */
    open: () => new Promise<number>((r, j) => server.getConnections((e, n) => (e ? j(e) : r(n)))),
  };
}
