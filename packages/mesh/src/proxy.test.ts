import { createServer, connect as netConnect, type Server } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { createCaHierarchy, SeedEngine } from '@contrast-cc/certs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseHostPort } from './address.js';
import { parseEgressConfig, parseIngressConfig } from './annotations.js';
import { type MeshProxy, startMeshProxy } from './proxy.js';
import { issueMeshCredentials } from './test-support/mesh-identity.js';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const credentials = issueMeshCredentials;

/** Echoes with a prefix, so a test sees which workload answered. */
function echoServer(prefix: string): Server {
  return createServer((s) => s.on('data', (d) => s.write(`${prefix}:${d.toString()}`)));
}

function exchange(socket: import('node:net').Socket, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    socket.once('data', (d) => {
      resolve(d.toString());
      socket.destroy();
    });
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('closed without an answer')));
    socket.write(text);
  });
}

// Pod A serves on port pA (workload on 127.0.0.1, its proxy on 127.0.0.2 — "the pod IP").
// Pod B's app talks to 127.0.0.3:pE; B's proxy opens mTLS to A's proxy.
let ca: Awaited<ReturnType<typeof createCaHierarchy>>;
let foreignCa: Awaited<ReturnType<typeof createCaHierarchy>>;
const workloads: Server[] = [];
const proxies: MeshProxy[] = [];
let pA: number;
let pTls: number;
let pPlain: number;
let pE: number;

beforeAll(async () => {
  ca = await createCaHierarchy(SeedEngine.generate());
  foreignCa = await createCaHierarchy(SeedEngine.generate());
  [pA, pTls, pPlain, pE] = [await freePort(), await freePort(), await freePort(), await freePort()];
  for (const [port, prefix] of [
    [pA, 'a'],
    [pTls, 'a-tls'],
    [pPlain, 'a-plain'],
  ] as const) {
    const w = echoServer(prefix);
    await new Promise<void>((r) => w.listen(port, '127.0.0.1', r));
    workloads.push(w);
  }
  proxies.push(
    await startMeshProxy({
      credentials: await credentials(ca, 'a'),
      ingress: parseIngressConfig(`web#${pTls}#false##metrics#${pPlain}#true`, [pA])!,
      egress: [],
      ingressListenHost: '127.0.0.2',
    }),
  );
  proxies.push(
    await startMeshProxy({
      credentials: await credentials(ca, 'b'),
      ingress: [],
      egress: parseEgressConfig(`a#127.0.0.3:${pE}#127.0.0.2:${pA}`),
      ingressListenHost: '127.0.0.2',
    }),
  );
});

afterAll(async () => {
  for (const p of proxies) await p.close();
  for (const w of workloads) w.close();
});

describe('service mesh proxies on loopback', () => {
  it('carries traffic from pod B through both proxies to pod A over mTLS', async () => {
    expect(await exchange(netConnect({ host: '127.0.0.3', port: pE }), 'hello')).toBe('a:hello');
  });

  it('refuses a client without a mesh certificate on an mTLS port', async () => {
    const s = tlsConnect({ host: '127.0.0.2', port: pA, rejectUnauthorized: false });
    await expect(exchange(s, 'hello')).rejects.toThrow();
  });

  it('refuses a client with a certificate from another CA', async () => {
    const creds = await credentials(foreignCa, 'mallory');
    const s = tlsConnect({
      host: '127.0.0.2',
      port: pA,
      key: creds.keyPem,
      cert: creds.certChainPem,
      rejectUnauthorized: false,
    });
    await expect(exchange(s, 'hello')).rejects.toThrow();
  });

  it('egress refuses a server outside the mesh', async () => {
    const rogue = await startMeshProxy({
      credentials: await credentials(foreignCa, 'rogue'),
      ingress: [{ name: 'rogue', port: pA, mode: 'tls' }],
      egress: [],
      ingressListenHost: '127.0.0.4',
    });
    const pR = await freePort();
    const egress = await startMeshProxy({
      credentials: await credentials(ca, 'b'),
      ingress: [],
      egress: parseEgressConfig(`rogue#127.0.0.3:${pR}#127.0.0.4:${pA}`),
      ingressListenHost: '127.0.0.2',
    });
    try {
      await expect(exchange(netConnect({ host: '127.0.0.3', port: pR }), 'secret')).rejects.toThrow();
    } finally {
      await egress.close();
      await rogue.close();
    }
  });

  it('serves TLS without client certificates and plain TCP where the ingress entry says so', async () => {
    const tls = tlsConnect({
      host: '127.0.0.2',
      port: pTls,
      ca: ca.meshCa.pem,
      checkServerIdentity: () => undefined,
    });
    expect(await exchange(tls, 'x')).toBe('a-tls:x');
    expect(await exchange(netConnect({ host: '127.0.0.2', port: pPlain }), 'y')).toBe('a-plain:y');
  });
});

describe('annotation grammar', () => {
  it('parses ingress and egress entries as upstream writes them', () => {
    expect(parseIngressConfig('DISABLED')).toBeNull();
    expect(parseIngressConfig('')).toEqual([]);
    expect(parseIngressConfig('web#8080#false##admin#9901#true', [443])).toEqual([
      { name: 'mtls-443', port: 443, mode: 'mtls' },
      { name: 'web', port: 8080, mode: 'tls' },
      { name: 'admin', port: 9901, mode: 'plain' },
    ]);
    expect(parseEgressConfig('db#127.137.0.1:5432#db.default.svc:5432')).toEqual([
      {
        name: 'db',
        listenHost: '127.137.0.1',
        listenPort: 5432,
        remoteHost: 'db.default.svc',
        remotePort: 5432,
      },
    ]);
  });

  it('names the bad entry', () => {
    expect(() => parseIngressConfig('web#8080')).toThrow(
      expect.objectContaining({ field: 'CONTRAST_INGRESS_PROXY_CONFIG[0]' }),
    );
    expect(() => parseIngressConfig('web#8080#false##x#99999#true')).toThrow(
      expect.objectContaining({ field: 'CONTRAST_INGRESS_PROXY_CONFIG[1]' }),
    );
    expect(() => parseIngressConfig('web#8080#maybe')).toThrow(/disableTLS/);
    expect(() => parseIngressConfig('a#80#false##b#80#true')).toThrow(/twice/);
    expect(() => parseEgressConfig('db#10.0.0.1:5432#db:5432')).toThrow(/127\.0\.0\.0\/8/);
    expect(() => parseEgressConfig('db#127.0.0.1:5432')).toThrow(
      expect.objectContaining({ field: 'CONTRAST_EGRESS_PROXY_CONFIG[0]' }),
    );
  });
});

describe('addresses', () => {
  it('parses host:port and [v6]:port and names the field of a bad one', () => {
    expect(parseHostPort('coordinator-ready:1314', 'X')).toEqual({ host: 'coordinator-ready', port: 1314 });
    expect(parseHostPort('[::1]:80', 'X')).toEqual({ host: '::1', port: 80 });
    expect(() => parseHostPort('coordinator', 'X')).toThrow(expect.objectContaining({ field: 'X' }));
    expect(() => parseHostPort('h:0', 'X')).toThrow(/1-65535/);
    expect(() => parseHostPort('::1:80', 'X')).toThrow(/host:port/);
  });
});

describe('service mesh proxy connections: half-close, idle and connect timeouts', () => {
  /** Counts the bytes until the client ends its side, then answers and ends its own. */
  const counter = (): Server =>
    createServer({ allowHalfOpen: true }, (s) => {
      let n = 0;
      s.on('data', (d) => {
        n += d.length;
      });
      s.on('end', () => s.end(`got ${n}`));
    });
  /** Sends `text`, ends its sending side, and collects the answer until the connection closes. */
  const askAndHalfClose = (host: string, port: number, text: string) =>
    new Promise<string>((resolve) => {
      const c = netConnect({ host, port, allowHalfOpen: true });
      let out = '';
      c.on('data', (d) => {
        out += d;
      });
      c.on('close', () => resolve(out));
      c.on('error', (e) => resolve(`error: ${e.message}`));
      c.end(text);
    });
  const local: MeshProxy[] = [];
  const servers: Server[] = [];
  afterAll(async () => {
    for (const p of local) await p.close();
    for (const s of servers) s.close();
  });

  it('passes a half-close on: the client that ends its sending side still gets the answer', async () => {
    const mca = await createCaHierarchy(SeedEngine.generate());
    const [pM, pT, pP, pE] = [await freePort(), await freePort(), await freePort(), await freePort()];
    for (const port of [pM, pT, pP]) {
      const w = counter();
      await new Promise<void>((r) => w.listen(port, '127.0.0.1', r));
      servers.push(w);
    }
    local.push(
      await startMeshProxy({
        credentials: await credentials(mca, 'a'),
        ingress: parseIngressConfig(`t#${pT}#false##p#${pP}#true`, [pM])!,
        egress: [],
        ingressListenHost: '127.0.0.2',
      }),
      await startMeshProxy({
        credentials: await credentials(mca, 'b'),
        ingress: [],
        egress: parseEgressConfig(`a#127.0.0.3:${pE}#127.0.0.2:${pM}`),
        ingressListenHost: '127.0.0.2',
      }),
    );
    const text = 'x'.repeat(100_000);
    // Plain TCP through the ingress proxy; mTLS from B's egress to A's ingress.
    expect(await askAndHalfClose('127.0.0.2', pP, text)).toBe('got 100000');
    expect(await askAndHalfClose('127.0.0.3', pE, text)).toBe('got 100000');
    // TLS (no client certificate) straight to the ingress proxy.
    const answer = await new Promise<string>((resolve) => {
      const c = tlsConnect({ host: '127.0.0.2', port: pT, rejectUnauthorized: false });
      let out = '';
      c.on('data', (d) => {
        out += d;
      });
      c.on('close', () => resolve(out));
      c.on('secureConnect', () => {
        c.allowHalfOpen = true;
        c.end(text);
      });
    });
    expect(answer).toBe('got 100000');
  });

  it('closes a connection idle for idleTimeoutMs, and an egress whose remote never completes the handshake', async () => {
    const mca = await createCaHierarchy(SeedEngine.generate());
    const [pW, pE, pSilent, pE2] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const w = echoServer('w');
    await new Promise<void>((r) => w.listen(pW, '127.0.0.1', r));
    // Accepts TCP and never says a word: a TLS handshake with it never ends.
    const silent = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(pSilent, '127.0.0.1', r));
    servers.push(w, silent);
    local.push(
      await startMeshProxy({
        credentials: await credentials(mca, 'a'),
        ingress: parseIngressConfig('', [pW])!,
        egress: [],
        ingressListenHost: '127.0.0.2',
        idleTimeoutMs: 2000,
      }),
      await startMeshProxy({
        credentials: await credentials(mca, 'b'),
        ingress: [],
        egress: parseEgressConfig(
          `a#127.0.0.3:${pE}#127.0.0.2:${pW}##silent#127.0.0.3:${pE2}#127.0.0.1:${pSilent}`,
        ),
        ingressListenHost: '127.0.0.2',
        idleTimeoutMs: 2000,
        connectTimeoutMs: 2000,
      }),
    );
    // One exchange, then silence: the proxies close it (without the timeout it stays open and
    // this test runs into vitest's own).
    const closed = await new Promise<string>((resolve) => {
      const c = netConnect({ host: '127.0.0.3', port: pE });
      c.once('data', (d) => resolve(`answered ${d}, then `));
      c.write('ping');
    }).then(
      (first) =>
        new Promise<string>((resolve) => {
          const c = netConnect({ host: '127.0.0.3', port: pE });
          c.once('data', () => undefined);
          c.on('close', () => resolve(`${first}closed`));
          c.write('ping');
        }),
    );
    expect(closed).toBe('answered w:ping, then closed');
    // The silent remote: the local connection is closed once connectTimeoutMs has passed.
    const cut = await new Promise<string>((resolve) => {
      const c = netConnect({ host: '127.0.0.3', port: pE2 });
      c.on('close', () => resolve('closed'));
      c.on('error', () => undefined);
      c.write('hello?');
    });
    expect(cut).toBe('closed');
    expect(local.at(-1)!.stats.silent).toEqual({ forwarded: 0, refused: 1 });
  });
});
