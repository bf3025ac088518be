import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createServer as createTlsServer, type TLSSocket, type Server as TlsServer } from 'node:tls';
import { createCaHierarchy, SeedEngine } from '@contrast-cc/certs';
import { isContrastError } from '@contrast-cc/core';
import { FakeIssuer, FakeVerifier } from '@contrast-cc/core/testing';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectAttested } from './client.js';
import { createAttestedServer } from './server.js';

// Hostile peers for the client (a server that accepts TLS and never answers, one that answers
// forever) and hostile clients for the server (idle connections, too many connections).

const MEASUREMENT = 'ab'.repeat(48);
const verifier = new FakeVerifier({ measurement: MEASUREMENT });
const issuer = new FakeIssuer({ measurement: MEASUREMENT });

let id: { key: KeyObject; keyPem: string; cert: string };
beforeAll(async () => {
  const ca = await createCaHierarchy(SeedEngine.generate());
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const leaf = await ca.issueMeshCertificate({ publicKey, sans: ['127.0.0.1'] });
  id = {
    key: privateKey,
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    cert: leaf.pem,
  };
});

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

/** A TLS server that completes handshakes and then never writes a byte. */
async function silentServer(): Promise<number> {
  const sockets = new Set<TLSSocket>();
  const server: TlsServer = createTlsServer({ key: id.keyPem, cert: id.cert }, (s) => {
    sockets.add(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  return (server.address() as AddressInfo).port;
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return isContrastError(e) ? e.code : `not a ContrastError: ${String(e)}`;
  }
  throw new Error('expected a rejection');
}

describe('client deadlines', () => {
  it('gives up on a server that accepts TLS and never answers the attest request', async () => {
    const port = await silentServer();
    const code = await codeOf(
      connectAttested({ host: '127.0.0.1', port, verifiers: verifier, allowInsecure: true, timeoutMs: 300 }),
    );
    expect(code).toBe('unavailable');
  });

  it('gives up on a request after attestation when the server never answers it', async () => {
    const server = createAttestedServer({ issuer, key: id.key, cert: id.cert, handler: () => undefined });
    closers.push(() => server.close());
    const { port } = await server.listen();
    const conn = await connectAttested({
      host: '127.0.0.1',
      port,
      verifiers: verifier,
      allowInsecure: true,
      timeoutMs: 300,
    });
    expect(await codeOf(conn.fetch('/v1/state'))).toBe('unavailable');
  });

  it('refuses an endless response as a server fault (io-error), not as bad user input', async () => {
    const server = createAttestedServer({
      issuer,
      key: id.key,
      cert: id.cert,
      handler: (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        const chunk = Buffer.alloc(1024 * 1024, 0x20);
        const pump = () => {
          while (!res.destroyed && res.write(chunk));
          if (!res.destroyed) res.once('drain', pump);
        };
        res.on('error', () => undefined);
        pump();
      },
    });
    closers.push(() => server.close());
    const { port } = await server.listen();
    const conn = await connectAttested({ host: '127.0.0.1', port, verifiers: verifier, allowInsecure: true });
    expect(await codeOf(conn.fetch('/v1/state', { maxResponseBytes: 4 * 1024 * 1024 }))).toBe('io-error');
  });
});

describe('server connection hygiene', () => {
  it('closes a TLS connection that stays idle', async () => {
    const server = createAttestedServer({ issuer, key: id.key, cert: id.cert, idleTimeoutMs: 200 });
    closers.push(() => server.close());
    const { port } = await server.listen();
    const { connect } = await import('node:tls');
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    socket.on('error', () => undefined);
    await new Promise<void>((r) => socket.once('secureConnect', () => r()));
    // Sends nothing: the server must close it (the test's own timeout is the bound).
    await new Promise<void>((r) => socket.once('close', () => r()));
    expect(socket.destroyed).toBe(true);
  });

  it('keeps a connection open between two requests for the idle limit, not node keep-alive 5 s', async () => {
    // An initializer makes its evidence between the nonce challenge and the certificate request,
    // on one connection; on a loaded node that took more than 5 s and the second request met a
    // socket the server had closed ("socket hang up" under coordinator-load). 7 s here (node closes
    // at 5 s + a 1 s buffer): the gap only has to stay under the 30 s idle limit, however slow the
    // machine.
    const server = createAttestedServer({
      issuer,
      key: id.key,
      cert: id.cert,
      handler: (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('ok');
      },
    });
    closers.push(() => server.close());
    const { port } = await server.listen();
    const { Agent, request } = await import('node:https');
    const agent = new Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false });
    closers.push(() => agent.destroy());
    const get = () =>
      new Promise<{ status: number | undefined; socket: unknown }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/x', agent }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode, socket: req.socket }));
        });
        req.on('error', reject);
        req.end();
      });
    const first = await get();
    await new Promise((r) => setTimeout(r, 7_000));
    const second = await get();
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(second.socket).toBe(first.socket);
  }, 30_000);

  it('caps the number of open connections', async () => {
    const server = createAttestedServer({ issuer, key: id.key, cert: id.cert, maxConnections: 2 });
    closers.push(() => server.close());
    const { port } = await server.listen();
    const { connect } = await import('node:tls');
    const open = () => {
      const s = connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
      s.on('error', () => undefined);
      closers.push(() => void s.destroy());
      return s;
    };
    const first = [open(), open()];
    await Promise.all(first.map((s) => new Promise((r) => s.once('secureConnect', r))));
    const third = open();
    // The third is dropped by the server before or during the handshake.
    const outcome = await new Promise<string>((r) => {
      third.once('secureConnect', () => r('connected'));
      third.once('close', () => r('closed'));
    });
    expect(outcome).toBe('closed');
  });
});
