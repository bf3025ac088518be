import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Agent, request } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import {
  createMeshCertAgent,
  evidenceToWire,
  fromBase64,
  meshCertChannelReportData,
  meshCertReportData,
  requestMeshCertificate,
  tlsExporterBinding,
  toBase64,
} from '@contrast-cc/api';
import { createAttestedServer } from '@contrast-cc/atls';
import { ContrastError, type Evidence, type Issuer, noopLogger } from '@contrast-cc/core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Authority } from '../authority.js';
import { deployment, podIssuer, registry, tempStore } from '../testing/index.js';
import { createApiHandler } from './http.js';
import { createMetrics } from './metrics.js';
import { createTlsIdentity } from './tls.js';

// Mesh certificates bound to the TLS connection (RFC 9266 tls-exporter) instead of a nonce: one
// request per certificate, no nonce minted, evidence useless on any other connection, one
// certificate per connection binding; and both directions of compatibility with the nonce flow.

const d = deployment(['web']);
const cleanup: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

const spkiOf = (k: ReturnType<typeof generateKeyPairSync>['publicKey']) =>
  new Uint8Array(k.export({ type: 'spki', format: 'der' }));
const freshKey = () => spkiOf(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey);

/** Counts the evidence it issues. */
class CountingIssuer implements Issuer {
  issued = 0;
  constructor(readonly inner: Issuer) {}
  get kind() {
    return this.inner.kind;
  }
  issue(reportData: Uint8Array): Promise<Evidence> {
    this.issued++;
    return this.inner.issue(reportData);
  }
}

interface Seen {
  path: string;
  socket: object;
}

/** An active Coordinator API (our handler behind the attested server) that records every request. */
async function coordinatorServer(options: { meshCertChannelBinding?: boolean } = {}) {
  const store = await tempStore();
  const tls = await createTlsIdentity();
  const authority = await Authority.open({
    store,
    platforms: registry(),
    channelKey: tls.key,
    allowInsecure: true,
  });
  await authority.setManifest({ manifest: d.manifest, policies: d.policies });
  const metrics = createMetrics({ generation: () => authority.generation, status: () => authority.status });
  const handler = createApiHandler(authority, metrics, noopLogger, options);
  const seen: Seen[] = [];
  const server = createAttestedServer({
    issuer: podIssuer(d.hashes.coordinator!),
    key: tls.key,
    cert: tls.certPem,
    handler: (req: IncomingMessage, res) => {
      seen.push({ path: (req.url ?? '').split('?')[0]!, socket: req.socket });
      handler(req, res);
    },
  });
  const { port } = await server.listen(0, '127.0.0.1');
  cleanup.push(
    () => server.close(),
    () => authority.close(),
    () => store.close(),
  );
  const minted = vi.spyOn(authority, 'createNonce');
  return {
    port,
    seen,
    minted,
    spki: server.spki,
    meshCerts: () => seen.filter((s) => s.path === '/v1/mesh/cert'),
  };
}

/** One TLS connection of our own (to compute its exporter) with requests over it (keep-alive). */
async function connection(port: number, maxVersion: 'TLSv1.2' | 'TLSv1.3' = 'TLSv1.3') {
  const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, maxVersion });
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  cleanup.push(() => void socket.destroy());
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  let handed = false;
  agent.createConnection = (() => {
    if (handed) throw new Error('the connection was closed');
    handed = true;
    return socket;
  }) as unknown as typeof agent.createConnection;
  const spki = new Uint8Array(
    socket.getPeerX509Certificate()!.publicKey.export({ type: 'spki', format: 'der' }),
  );
  const post = (body: unknown) =>
    new Promise<{ status: number; json: Record<string, unknown> }>((resolve, reject) => {
      const req = request(
        {
          agent,
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/v1/mesh/cert',
          headers: { 'content-type': 'application/json' },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode!, json: JSON.parse(Buffer.concat(chunks).toString()) }),
          );
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify(body));
    });
  // Node computes the exporter on TLS 1.2 too; the server must still refuse it there.
  const exporter = new Uint8Array(
    socket.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0)),
  );
  // The helper both ends use gives the same bytes, and nothing below TLS 1.3.
  const helper = tlsExporterBinding(socket);
  if (maxVersion === 'TLSv1.3')
    expect(helper && Buffer.from(helper).equals(Buffer.from(exporter))).toBe(true);
  else expect(helper).toBeUndefined();
  return { socket, spki, exporter, post };
}

/** A request bound to `exporter` (no nonce), for `publicKey`. */
async function boundRequest(exporter: Uint8Array, publicKey: Uint8Array, coordinatorSpki: Uint8Array) {
  const evidence = await podIssuer(d.hashes.web!).issue(
    await meshCertChannelReportData(exporter, publicKey, coordinatorSpki),
  );
  return { public_key: toBase64(publicKey), evidence: evidenceToWire(evidence) };
}

describe('mesh certificates bound to the TLS connection (tls-exporter)', () => {
  let server: Awaited<ReturnType<typeof coordinatorServer>>;
  beforeAll(async () => {
    server = await coordinatorServer();
  }, 30_000);

  it('issues a certificate with one request on the connection and mints no nonce', async () => {
    server.minted.mockClear();
    const before = server.meshCerts().length;
    const key = freshKey();
    // Slow evidence (as a TDX quote through the QGS): the body follows the headers later.
    const slow = new CountingIssuer(podIssuer(d.hashes.web!));
    const issuer: Issuer = {
      kind: slow.kind,
      issue: async (rd) => {
        await new Promise((r) => setTimeout(r, 300));
        return slow.issue(rd);
      },
    };
    const res = await requestMeshCertificate({
      host: '127.0.0.1',
      port: server.port,
      issuer,
      publicKey: key,
    });
    const leaf = new X509Certificate(res.cert_chain);
    expect(Buffer.from(leaf.publicKey.export({ type: 'spki', format: 'der' })).equals(Buffer.from(key))).toBe(
      true,
    );
    expect(leaf.verify(new X509Certificate(res.mesh_ca).publicKey)).toBe(true);
    expect(res.workload_secret).toMatch(/^[0-9a-f]{128}$/);
    expect(server.meshCerts().length - before).toBe(1);
    expect(server.minted).not.toHaveBeenCalled();
    expect(slow.issued).toBe(1);
  });

  it('sends nothing when the issuer fails, and fails with its error', async () => {
    const before = server.meshCerts().length;
    const failure = new ContrastError('unavailable', 'configfs-tsm: no report');
    const issuer: Issuer = { kind: 'fake', issue: () => Promise.reject(failure) };
    const err = await requestMeshCertificate({
      host: '127.0.0.1',
      port: server.port,
      issuer,
      publicKey: freshKey(),
    }).catch((e: unknown) => e);
    expect(err).toBe(failure);
    expect(server.meshCerts().length).toBe(before);
  });

  it('refuses evidence bound to another connection (a relay) and a second certificate on one binding', async () => {
    const a = await connection(server.port);
    const b = await connection(server.port);
    expect(Buffer.from(a.exporter).equals(Buffer.from(b.exporter))).toBe(false);
    const body = await boundRequest(a.exporter, freshKey(), a.spki);

    // Connection B is another channel: the report data does not match its exporter.
    const relayed = await b.post(body);
    expect(relayed.status).toBe(403);
    expect(relayed.json.code).toBe('attestation_failed');

    // Evidence for the nonce mode (its label) with A's exporter in the nonce's place: refused.
    const key = freshKey();
    const otherMode = await podIssuer(d.hashes.web!).issue(await meshCertReportData(a.exporter, key, a.spki));
    const confused = await a.post({ public_key: toBase64(key), evidence: evidenceToWire(otherMode) });
    expect(confused.status).toBe(403);
    expect(confused.json.code).toBe('attestation_failed');

    // On A it buys one certificate; the same evidence again gets the nonce challenge.
    const ok = await a.post(body);
    expect(ok.status).toBe(200);
    const again = await a.post(body);
    expect(again.status).toBe(401);
    expect(again.json.code).toBe('challenge_required');
    expect(again.json.nonce).toEqual(expect.any(String));
    expect(again.json.error).toMatch(/channel binding was used/);
    // That nonce works on the same connection (the client's fallback).
    const nonce = fromBase64(again.json.nonce as string);
    const k2 = freshKey();
    const ev = await podIssuer(d.hashes.web!).issue(await meshCertReportData(nonce, k2, a.spki));
    const second = await a.post({
      nonce: again.json.nonce,
      public_key: toBase64(k2),
      evidence: evidenceToWire(ev),
    });
    expect(second.status).toBe(200);
    // Tampered: a flipped byte of the evidence on a fresh connection is refused.
    const c = await connection(server.port);
    const good = await boundRequest(c.exporter, freshKey(), c.spki);
    const data = Buffer.from(good.evidence.data, 'base64');
    data[data.length - 3]! ^= 1;
    const tampered = await c.post({ ...good, evidence: { ...good.evidence, data: data.toString('base64') } });
    expect(tampered.status).toBe(403);
    // A failed attempt does not use up the binding: the genuine evidence still works on C.
    expect((await c.post(good)).status).toBe(200);
  });

  it('answers the nonce challenge on TLS 1.2, and the client gets its certificate that way', async () => {
    const old = await connection(server.port, 'TLSv1.2');
    expect(old.socket.getProtocol()).toBe('TLSv1.2');
    const refused = await old.post(await boundRequest(old.exporter, freshKey(), old.spki));
    expect(refused.status).toBe(401);
    expect(refused.json.code).toBe('challenge_required');

    server.minted.mockClear();
    const before = server.meshCerts().length;
    const agent = new Agent({
      keepAlive: true,
      maxSockets: 1,
      rejectUnauthorized: false,
      maxVersion: 'TLSv1.2',
    });
    const issuer = new CountingIssuer(podIssuer(d.hashes.web!));
    try {
      const res = await requestMeshCertificate({
        host: '127.0.0.1',
        port: server.port,
        issuer,
        publicKey: freshKey(),
        agent,
      });
      expect(res.cert_chain).toContain('BEGIN CERTIFICATE');
    } finally {
      agent.destroy();
    }
    // The client saw TLS 1.2 and asked for the challenge: evidence made once, one nonce.
    expect(issuer.issued).toBe(1);
    expect(server.minted).toHaveBeenCalledTimes(1);
    expect(server.meshCerts().length - before).toBe(2);
  });

  it('serves the nonce flow of older clients (POST {} first)', async () => {
    const c = await connection(server.port);
    const challenge = await c.post({});
    expect(challenge.status).toBe(401);
    const key = freshKey();
    const ev = await podIssuer(d.hashes.web!).issue(
      await meshCertReportData(fromBase64(challenge.json.nonce as string), key, c.spki),
    );
    const ok = await c.post({
      nonce: challenge.json.nonce,
      public_key: toBase64(key),
      evidence: evidenceToWire(ev),
    });
    expect(ok.status).toBe(200);
  });

  it('a second certificate over one kept-alive connection uses the nonce flow without wasted evidence', async () => {
    server.minted.mockClear();
    const agent = createMeshCertAgent();
    const issuer = new CountingIssuer(podIssuer(d.hashes.web!));
    const sockets = new Set<object>();
    const before = server.meshCerts().length;
    try {
      for (let i = 0; i < 2; i++) {
        await requestMeshCertificate({
          host: '127.0.0.1',
          port: server.port,
          issuer,
          publicKey: freshKey(),
          agent,
        });
      }
    } finally {
      agent.destroy();
    }
    const mine = server.meshCerts().slice(before);
    for (const s of mine) sockets.add(s.socket);
    expect(sockets.size).toBe(1);
    // First: one bound request; second: {} -> challenge -> nonce request.
    expect(mine).toHaveLength(3);
    expect(server.minted).toHaveBeenCalledTimes(1);
    expect(issuer.issued).toBe(2);
  });
});

describe('a new client against a server without channel binding', () => {
  it('falls back to the nonce it is given (evidence made twice), once', async () => {
    const server = await coordinatorServer({ meshCertChannelBinding: false });
    const issuer = new CountingIssuer(podIssuer(d.hashes.web!));
    const res = await requestMeshCertificate({
      host: '127.0.0.1',
      port: server.port,
      issuer,
      publicKey: freshKey(),
    });
    expect(res.cert_chain).toContain('BEGIN CERTIFICATE');
    expect(issuer.issued).toBe(2);
    expect(server.meshCerts()).toHaveLength(2);
    expect(new Set(server.meshCerts().map((s) => s.socket)).size).toBe(1);
    expect(server.minted).toHaveBeenCalledTimes(1);
  }, 30_000);
});
