import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, randomBytes, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fromBase64, meshCertReportData } from '@contrast-cc/api';
import { FakeIssuer, FakeVerifier } from '@contrast-cc/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { type InitializerOptions, runInitializer } from './initializer.js';

const POLICY = 'aa'.repeat(32);

function selfSigned(dir: string) {
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      path.join(dir, 'k.pem'),
      '-out',
      path.join(dir, 'c.pem'),
      '-subj',
      '/CN=fake-coordinator',
      '-days',
      '1',
    ],
    { stdio: 'ignore' },
  );
  return {
    key: readFileSync(path.join(dir, 'k.pem'), 'utf8'),
    cert: readFileSync(path.join(dir, 'c.pem'), 'utf8'),
  };
}

/**
 * A loopback stand-in for the Coordinator's mesh API: no manifest for the first `notReady` calls.
 * Idle keep-alive connections are closed after `keepAliveMs` (default: a minute, longer than a test).
 */
async function fakeCoordinator(notReady: number, keepAliveMs = 60_000) {
  const dir = await mkdtemp(path.join(tmpdir(), 'fake-coord-'));
  const { key, cert } = selfSigned(dir);
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
      if (calls <= notReady)
        return send(412, { version: 'v1', code: 'no_manifest', error: 'no manifest configured' });
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
        cert_chain: '-----BEGIN CERTIFICATE-----\nleaf\n-----END CERTIFICATE-----\n',
        mesh_ca: '-----BEGIN CERTIFICATE-----\nmesh\n-----END CERTIFICATE-----\n',
        root_ca: '-----BEGIN CERTIFICATE-----\nroot\n-----END CERTIFICATE-----\n',
        workload_secret: 'ab'.repeat(64),
      });
    });
  });
  server.keepAliveTimeout = keepAliveMs;
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

/** Waits up to `ms` for the server to have no open connection; returns how many are left. */
async function drained(fake: { open: () => Promise<number> }, ms: number): Promise<number> {
  const until = Date.now() + ms;
  let n = await fake.open();
  while (n > 0 && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 10));
    n = await fake.open();
  }
  return n;
}

const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** A fake Coordinator closed after the test. */
async function coordinator(notReady: number, keepAliveMs?: number) {
  const fake = await fakeCoordinator(notReady, keepAliveMs);
  servers.push(fake.server);
  return fake;
}

/** runInitializer against `fake` with the test defaults (issuer of POLICY, fresh outDir, 20 ms). */
async function initialize(fake: { port: number }, options: Partial<InitializerOptions> = {}) {
  const outDir = await mkdtemp(path.join(tmpdir(), 'contrast-'));
  const run = runInitializer({
    host: '127.0.0.1',
    port: fake.port,
    issuer: new FakeIssuer({ policyDigest: POLICY }),
    outDir,
    initialDelayMs: 20,
    ...options,
  });
  return { outDir, run };
}

describe('runInitializer', () => {
  it('retries while the Coordinator has no manifest, then writes all files atomically', async () => {
    const fake = await coordinator(2);
    const { outDir, run } = await initialize(fake);
    const result = await run;
    expect(result.attempts).toBe(3);
    // Two refusals, the challenge and the certificate request: all on one kept-alive connection,
    // closed by the initializer when it is done (the server would keep it open for a minute).
    expect(fake.calls()).toBe(4);
    expect(fake.connections()).toBe(1);
    expect(await drained(fake, 2000)).toBe(0);
    expect(result.files).toContain('tls-config/certChain.pem');
    const keyPem = await readFile(path.join(outDir, 'tls-config/key.pem'), 'utf8');
    const spki = createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' });
    expect(Buffer.from(fake.issued[0]!).equals(spki)).toBe(true);
    expect((await stat(path.join(outDir, 'tls-config/key.pem'))).mode & 0o777).toBe(0o600);
    expect(await readFile(path.join(outDir, 'secrets/workload-secret-seed'), 'utf8')).toBe('ab'.repeat(64));
    expect((await stat(path.join(outDir, 'secrets/workload-secret-seed'))).mode & 0o777).toBe(0o600);
    for (const f of ['mesh-ca.pem', 'coordinator-root-ca.pem', 'certChain.pem']) {
      expect(await readFile(path.join(outDir, 'tls-config', f), 'utf8')).toContain('BEGIN CERTIFICATE');
    }
  });

  it('gives up at the deadline (closing its connection) and refuses evidence the Coordinator rejects', async () => {
    const fake = await coordinator(1000);
    const err = await (await initialize(fake, { deadlineMs: 300 })).run.catch((e) => e);
    expect(err.code).toBe('unavailable');
    expect(err.message).toContain('no_manifest');
    expect(fake.calls()).toBeGreaterThan(1);
    expect(fake.connections()).toBe(1);
    expect(await drained(fake, 2000)).toBe(0);

    const strict = await coordinator(0);
    const issuer = new FakeIssuer({ policyDigest: 'bb'.repeat(32) });
    const wrong = await (await initialize(strict, { issuer, deadlineMs: 300 })).run.catch((e) => e);
    expect(wrong.message).toContain('attestation_failed');
    expect(strict.issued).toHaveLength(0);
  });

  it('opens a new connection (full handshake) when the Coordinator closed the idle one between retries', async () => {
    const fake = await coordinator(2, 100);
    const result = await (await initialize(fake, { initialDelayMs: 400, deadlineMs: 20_000 })).run;
    expect(result.attempts).toBe(3);
    // Each retry came after the server had closed the idle connection. A resumed session would
    // present no certificate, so the Coordinator's key could not be bound: full handshakes only.
    expect(fake.connections()).toBeGreaterThanOrEqual(3);
    expect(fake.resumed()).toBe(0);
    expect(fake.issued).toHaveLength(1);
    expect(await drained(fake, 2000)).toBe(0);
  });
});
