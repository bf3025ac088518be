import { spawn } from 'node:child_process';
import { createPublicKey, generateKeyPairSync, type KeyObject, X509Certificate } from 'node:crypto';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createCaHierarchy, SeedEngine } from '@contrast-cc/certs';
import { type Evidence, type Issuer, toHex } from '@contrast-cc/core';
import { FakeIssuer, FakeVerifier } from '@contrast-cc/core/testing';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ATLS_LABELS, reportDataFor } from './binding.js';
import { connectAttested } from './client.js';
import { createAttestedServer } from './server.js';
import { hasOpenssl } from './test-support/openssl.js';

const MEASUREMENT = 'ab'.repeat(48);
const verifier = new FakeVerifier({ measurement: MEASUREMENT });
const issuer = new FakeIssuer({ measurement: MEASUREMENT, policyDigest: 'cd'.repeat(32) });

interface ServerIdentity {
  key: KeyObject;
  keyPem: string;
  cert: string;
}

let ca: Awaited<ReturnType<typeof createCaHierarchy>>;
async function identity(): Promise<ServerIdentity> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const leaf = await ca.issueMeshCertificate({ publicKey, sans: ['coordinator', '127.0.0.1'] });
  return {
    key: privateKey,
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    cert: leaf.pem,
  };
}

const running: { close(): Promise<void> | void }[] = [];
afterEach(async () => {
  for (const s of running.splice(0)) await s.close();
});

async function start(options: Partial<Parameters<typeof createAttestedServer>[0]> & { id: ServerIdentity }) {
  const { id, ...rest } = options;
  const server = createAttestedServer({
    issuer,
    key: id.key,
    cert: id.cert,
    handler: (req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`hello ${req.method} ${req.url}`);
    },
    ...rest,
  });
  running.push(server);
  const { port } = await server.listen(0, '127.0.0.1');
  return { server, port };
}

/** A plain HTTPS server (the attacker) answering /v1/attest with whatever `answer` returns. */
async function rogue(id: ServerIdentity, answer: (nonce: string) => Promise<unknown>) {
  const server = createHttpsServer({ key: id.keyPem, cert: id.cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const { nonce } = JSON.parse(Buffer.concat(chunks).toString()) as { nonce: string };
      const body = JSON.stringify(await answer(nonce));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  running.push({ close });
  return { port: (server.address() as AddressInfo).port };
}

/** Posts a nonce to an attested server directly (what a relaying attacker does). */
function postAttest(port: number, nonce: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ nonce });
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        path: '/v1/attest',
        method: 'POST',
        rejectUnauthorized: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString())));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

beforeAll(async () => {
  ca = await createCaHierarchy(SeedEngine.generate());
});

describe('attested channel', () => {
  it('attests the server, binds its TLS key and returns a pinned fetch', async () => {
    const id = await identity();
    const { server, port } = await start({ id });
    const conn = await connectAttested({ host: '127.0.0.1', port, verifiers: verifier, allowInsecure: true });
    expect(conn.claims).toMatchObject({
      kind: 'fake',
      measurement: MEASUREMENT,
      policyDigest: 'cd'.repeat(32),
    });
    expect(toHex(conn.spki)).toBe(toHex(server.spki));
    const spkiOfCert = new X509Certificate(id.cert).publicKey.export({ type: 'spki', format: 'der' });
    expect(toHex(conn.spki)).toBe(spkiOfCert.toString('hex'));
    const res = await conn.fetch('/v1/manifest?x=1');
    expect(res.status).toBe(200);
    expect(res.text()).toBe('hello GET /v1/manifest?x=1');
    const posted = await conn.fetch('/echo', { method: 'PUT', body: 'x' });
    expect(posted.text()).toBe('hello PUT /echo');
  });

  it('binds a state digest and checks the expected one', async () => {
    let state = new Uint8Array(32).fill(1);
    const { port } = await start({
      id: await identity(),
      state: () => ({ digest: state, fields: { root_ca: 'PEM', manifests: ['m1'] } }),
    });
    const conn = await connectAttested({
      host: '127.0.0.1',
      port,
      verifiers: [verifier],
      allowInsecure: true,
      expectedStateDigest: new Uint8Array(32).fill(1),
    });
    expect(toHex(conn.stateDigest!)).toBe('01'.repeat(32));
    expect(conn.attestResponse).toMatchObject({ version: 'v1', root_ca: 'PEM', manifests: ['m1'] });
    state = new Uint8Array(32).fill(2);
    const err = await connectAttested({
      host: '127.0.0.1',
      port,
      verifiers: [verifier],
      allowInsecure: true,
      expectedStateDigest: new Uint8Array(32).fill(1),
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'attestation-failed', field: 'stateDigest' });
  });

  it('refuses insecure evidence unless allowed, wrong measurements and failing claim checks', async () => {
    const { port } = await start({ id: await identity() });
    await expect(connectAttested({ host: '127.0.0.1', port, verifiers: verifier })).rejects.toMatchObject({
      code: 'attestation-failed',
      cause: { code: 'insecure-platform' },
    });
    await expect(
      connectAttested({
        host: '127.0.0.1',
        port,
        verifiers: new FakeVerifier({ measurement: 'ff'.repeat(48) }),
        allowInsecure: true,
      }),
    ).rejects.toMatchObject({ code: 'attestation-failed', cause: { code: 'measurement-mismatch' } });
    await expect(
      connectAttested({
        host: '127.0.0.1',
        port,
        verifiers: verifier,
        allowInsecure: true,
        checkClaims: (c) => (c.policyDigest === '00'.repeat(32) ? undefined : 'not the coordinator policy'),
      }),
    ).rejects.toMatchObject({ cause: { code: 'field-mismatch', message: 'not the coordinator policy' } });
  });

  it('rejects replayed evidence (old evidence, new nonce)', async () => {
    const id = await identity();
    const { port: honest } = await start({ id });
    const recorded = await postAttest(honest, Buffer.alloc(32, 9).toString('base64'));
    // The attacker has the server's certificate and key material in TLS but no TEE: it replays.
    const { port } = await rogue(id, async () => recorded);
    await expect(
      connectAttested({ host: '127.0.0.1', port, verifiers: verifier, allowInsecure: true }),
    ).rejects.toMatchObject({ code: 'attestation-failed', cause: { code: 'report-data-mismatch' } });
  });

  it('rejects evidence bound to another key (relay to a genuine server)', async () => {
    const { port: honest } = await start({ id: await identity() });
    // The attacker terminates TLS with its own key and relays the client's nonce to the TEE.
    const { port } = await rogue(await identity(), (nonce) => postAttest(honest, nonce));
    await expect(
      connectAttested({ host: '127.0.0.1', port, verifiers: verifier, allowInsecure: true }),
    ).rejects.toMatchObject({ code: 'attestation-failed', cause: { code: 'report-data-mismatch' } });
  });

  it('rejects an issuer that binds another key than its TLS key', async () => {
    const other = await identity();
    const otherSpki = new Uint8Array(createPublicKey(other.key).export({ type: 'spki', format: 'der' }));
    const lying: Issuer = {
      kind: 'fake',
      issue: async (reportData) => {
        void reportData;
        // evidence for the same nonce would need the nonce; bind a fixed one to another key
        return issuer.issue(
          await reportDataFor({
            label: ATLS_LABELS.channel,
            nonce: new Uint8Array(32),
            publicKey: otherSpki,
          }),
        );
      },
    };
    const { port } = await start({ id: await identity(), issuer: lying });
    await expect(
      connectAttested({ host: '127.0.0.1', port, verifiers: verifier, allowInsecure: true }),
    ).rejects.toMatchObject({ cause: { code: 'report-data-mismatch' } });
  });

  it('pins the attested key: a server with another key on the same address is refused', async () => {
    const { server, port } = await start({ id: await identity() });
    const conn = await connectAttested({ host: '127.0.0.1', port, verifiers: verifier, allowInsecure: true });
    expect((await conn.fetch('/ok')).status).toBe(200);
    await server.close();
    const impostor = createAttestedServer({
      issuer,
      ...(await identity().then((i) => ({ key: i.key, cert: i.cert }))),
    });
    running.push(impostor);
    await impostor.listen(port, '127.0.0.1');
    await expect(conn.fetch('/ok')).rejects.toMatchObject({ code: 'attestation-failed', field: 'spki' });
  });

  it('refuses a label mismatch and other evidence kinds', async () => {
    const { port } = await start({ id: await identity(), label: 'contrast-ts other purpose v1' });
    await expect(
      connectAttested({ host: '127.0.0.1', port, verifiers: verifier, allowInsecure: true }),
    ).rejects.toMatchObject({ cause: { code: 'report-data-mismatch' } });
    const { port: p2 } = await start({
      id: await identity(),
      issuer: { kind: 'snp-report', issue: async () => ({ kind: 'snp-report', data: new Uint8Array(10) }) },
    });
    await expect(
      connectAttested({ host: '127.0.0.1', port: p2, verifiers: verifier, allowInsecure: true }),
    ).rejects.toMatchObject({ cause: { code: 'unsupported-evidence-kind' } });
  });

  it('works over IPv6 loopback', async (ctx) => {
    const server = createAttestedServer({
      issuer,
      ...(await identity().then((i) => ({ key: i.key, cert: i.cert }))),
    });
    running.push(server);
    const port = await server.listen(0, '::1').then(
      (a) => a.port,
      () => undefined,
    );
    if (port === undefined) {
      console.warn('skipping IPv6 test: ::1 is not available');
      return ctx.skip();
    }
    const conn = await connectAttested({ host: '::1', port, verifiers: verifier, allowInsecure: true });
    expect(conn.claims.kind).toBe('fake');
    expect((await conn.fetch('/six')).status).toBe(404); // no handler: the attested server's own 404
  });

  it('server validates the challenge request', async () => {
    const { port } = await start({ id: await identity() });
    const call = (method: string, type: string, body: string) =>
      new Promise<string>((resolve, reject) => {
        const req = httpsRequest(
          {
            host: '127.0.0.1',
            port,
            path: '/v1/attest',
            method,
            rejectUnauthorized: false,
            headers: { 'content-type': type },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => {
              const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { code?: string };
              resolve(`${res.statusCode} ${body.code ?? 'ok'}`);
            });
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    const good = JSON.stringify({ nonce: Buffer.alloc(32, 1).toString('base64') });
    expect(await call('POST', 'application/json', good)).toBe('200 ok');
    // The same codes as the Coordinator API answers with for the same statuses.
    expect(await call('POST', 'text/plain', good)).toBe('415 unsupported_media_type');
    expect(await call('GET', 'application/json', '')).toBe('405 method_not_allowed');
    expect(await call('POST', 'application/json', JSON.stringify({ nonce: 'AAAA' }))).toBe(
      '400 invalid_argument',
    );
    expect(await call('POST', 'application/json', '{')).toBe('400 invalid_argument');
    expect(await call('POST', 'application/json', 'x'.repeat(2000))).toBe('413 payload_too_large');
  });

  it('refuses to let state fields shadow the attested ones', async () => {
    const { port } = await start({
      id: await identity(),
      state: () => ({ fields: { stateDigest: 'forged' } }),
    });
    await expect(
      connectAttested({ host: '127.0.0.1', port, verifiers: verifier, allowInsecure: true }),
    ).rejects.toMatchObject({ code: 'attestation-failed', message: expect.stringContaining('HTTP 500') });
  });

  it('refuses a certificate that is not for the key', async () => {
    const a = await identity();
    const b = await identity();
    expect(() => createAttestedServer({ issuer, key: a.key, cert: b.cert })).toThrow(
      expect.objectContaining({ field: 'cert' }),
    );
  });

  it('reports an unreachable server as unavailable', async () => {
    const { server, port } = await start({ id: await identity() });
    await server.close();
    await expect(
      connectAttested({ host: '127.0.0.1', port, verifiers: verifier, timeoutMs: 2000 }),
    ).rejects.toMatchObject({ code: 'unavailable' });
  });
});

function sClient(port: number, input: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(
      'openssl',
      ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'coordinator', '-ign_eof'],
      {
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    let out = '';
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    p.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const timer = setTimeout(() => p.kill(), 10_000);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
    p.stdin.end(input);
  });
}

describe.skipIf(!hasOpenssl)('openssl s_client against the attested server', () => {
  it('completes a handshake, sees the expected certificate and gets evidence', async () => {
    const id = await identity();
    const { port } = await start({ id });
    const body = JSON.stringify({ nonce: Buffer.alloc(32, 7).toString('base64') });
    const request = [
      'POST /v1/attest HTTP/1.1',
      'Host: coordinator',
      'Content-Type: application/json',
      `Content-Length: ${body.length}`,
      'Connection: close',
      '',
      body,
    ].join('\r\n');
    const { code, out } = await sClient(port, request);
    expect(code).toBe(0);
    const pem = out.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/)?.[0];
    expect(pem).toBeDefined();
    expect(new X509Certificate(pem!).fingerprint256).toBe(new X509Certificate(id.cert).fingerprint256);
    expect(out).toMatch(/subject=CN ?= ?coordinator/);
    expect(out).toContain('HTTP/1.1 200 OK');
    const at = out.indexOf('{"version"');
    const end = out.indexOf('\n', at);
    const line = out.slice(at, end < 0 ? undefined : end);
    const json = JSON.parse(line.slice(0, line.lastIndexOf('}') + 1)) as { evidence: Evidence };
    expect(json.evidence.kind).toBe('fake');
    // the evidence openssl fetched verifies against the binding of that very certificate's key
    const reportData = await reportDataFor({
      label: ATLS_LABELS.channel,
      nonce: Buffer.alloc(32, 7),
      publicKey: new Uint8Array(new X509Certificate(pem!).publicKey.export({ type: 'spki', format: 'der' })),
    });
    const ev = json.evidence as unknown as { kind: string; data: string };
    const result = await verifier.verify(
      { kind: ev.kind, data: Buffer.from(ev.data, 'base64') },
      { reportData },
    );
    expect(result.ok).toBe(true);
  });
});
