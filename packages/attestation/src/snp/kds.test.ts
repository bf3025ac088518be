import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createMemoryLogger } from '@contrast-cc/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiskCache, RateLimitedFetcher } from '../common/cache.js';
import { hasSnpVectors, snpVectors } from '../testing/snp-vectors.js';
import { KdsClient } from './kds.js';
import { parseSnpReport } from './report.js';
import {
  certificateSerial,
  createSimulatedSnpChain,
  createSimulatedSnpIssuer,
  type SimulatedSnpIssuer,
} from './simulator.js';
import { createSnpVerifier } from './verifier.js';

/** A loopback fake of AMD KDS: fixed routes, request log, optional 429s. */
interface FakeKds {
  url: string;
  routes: Map<string, { body: Uint8Array | string; type: string }>;
  log: { path: string; at: number }[];
  throttleOnce: Set<string>;
  close(): Promise<void>;
}

async function startFakeKds(): Promise<FakeKds> {
  const routes = new Map<string, { body: Uint8Array | string; type: string }>();
  const log: { path: string; at: number }[] = [];
  const throttleOnce = new Set<string>();
  const server: Server = createServer((req, res) => {
    const p = req.url ?? '';
    log.push({ path: p, at: Date.now() });
    if (throttleOnce.delete(p)) {
      res.writeHead(429, { 'retry-after': '0' }).end('slow down');
      return;
    }
    const r = routes.get(p);
    if (!r) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': r.type }).end(r.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    routes,
    log,
    throttleOnce,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

let kds: FakeKds;
let dir: string;
beforeAll(async () => {
  kds = await startFakeKds();
  dir = mkdtempSync(path.join(tmpdir(), 'kds-cache-'));
});
afterAll(async () => {
  await kds.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('KdsClient URLs', () => {
  it('builds VCEK URLs with the report TCB (Milan/Genoa and Turin layouts)', () => {
    const c = new KdsClient();
    const chip = new Uint8Array(64).fill(0xab);
    expect(c.vcekUrl('Milan', chip, { raw: '', bootloader: 2, tee: 0, snp: 5, microcode: 68 })).toBe(
      `https://kdsintf.amd.com/vcek/v1/Milan/${'ab'.repeat(64)}?blSPL=02&teeSPL=00&snpSPL=05&ucodeSPL=68`,
    );
    expect(c.vcekUrl('Turin', chip, { raw: '', fmc: 1, bootloader: 1, tee: 0, snp: 2, microcode: 71 })).toBe(
      `https://kdsintf.amd.com/vcek/v1/Turin/${'ab'.repeat(8)}?fmcSPL=01&blSPL=01&teeSPL=00&snpSPL=02&ucodeSPL=71`,
    );
    expect(() =>
      c.vcekUrl('Milan', new Uint8Array(3), { raw: '', bootloader: 0, tee: 0, snp: 0, microcode: 0 }),
    ).toThrow(expect.objectContaining({ field: 'chip_id' }));
  });
});

describe.skipIf(!hasSnpVectors)('online verification against a loopback KDS (real Milan vector)', () => {
  it('fetches the VCEK and chain once, then serves them from the disk cache', async () => {
    const v = snpVectors().find((x) => x.name === 'gsg-milan-v2-vcek')!;
    const report = parseSnpReport(v.report!, { product: 'Milan' });
    const client = new KdsClient({ baseUrl: kds.url, cacheDir: dir, minIntervalMs: 10 });
    const vcekPath =
      new URL(client.vcekUrl('Milan', report.chipId, report.reportedTcb)).pathname +
      new URL(client.vcekUrl('Milan', report.chipId, report.reportedTcb)).search;
    kds.routes.set(vcekPath, { body: v.leaf, type: 'application/pkix-cert' });
    kds.routes.set('/vcek/v1/Milan/cert_chain', { body: v.certChain, type: 'application/x-pem-file' });
    const before = kds.log.length;
    const verifier = createSnpVerifier({ kds: client, checkRevocation: false, product: 'Milan' });
    const r = await verifier.verify(
      { kind: 'snp-report', data: v.report! },
      { reportData: report.reportData, now: v.verifyAt },
    );
    if (!r.ok) throw new Error(r.reason.message);
    expect(kds.log.length - before).toBe(2);
    // A fresh client on the same cache directory makes no request.
    const again = createSnpVerifier({
      kds: new KdsClient({ baseUrl: kds.url, cacheDir: dir }),
      checkRevocation: false,
      product: 'Milan',
    });
    const r2 = await again.verify(
      { kind: 'snp-report', data: v.report! },
      { reportData: report.reportData, now: v.verifyAt },
    );
    expect(r2.ok).toBe(true);
    expect(kds.log.length - before).toBe(2);
  });
});

describe('online verification with CRL (simulated chain served by the loopback KDS)', () => {
  let issuer: SimulatedSnpIssuer;
  beforeAll(async () => {
    const chain = await createSimulatedSnpChain({ product: 'Genoa' });
    issuer = await createSimulatedSnpIssuer({ chain });
    const report = parseSnpReport(issuer.report(new Uint8Array(64)));
    const u = new URL(new KdsClient().vcekUrl('Genoa', report.chipId, report.reportedTcb));
    kds.routes.set(u.pathname + u.search, { body: chain.vcekDer, type: 'application/pkix-cert' });
    kds.routes.set('/vcek/v1/Genoa/cert_chain', { body: chain.certChainPem, type: 'application/x-pem-file' });
  }, 120_000);

  it('fetches VCEK, chain and CRL; a CRL revoking the VCEK rejects, a clean one accepts', async () => {
    const chain = issuer.chain;
    const reportData = new Uint8Array(64).fill(3);
    const data = issuer.report(reportData);
    const { logger, records } = createMemoryLogger();
    const make = () =>
      createSnpVerifier({
        kds: new KdsClient({ baseUrl: kds.url, minIntervalMs: 1, logger }),
        trustAnchors: [chain.trustAnchor],
        logger,
      });
    kds.routes.set('/vcek/v1/Genoa/crl', {
      body: chain.signCrl([certificateSerial(chain.vcekDer)]),
      type: 'application/pkix-crl',
    });
    const revoked = await make().verify({ kind: 'snp-report', data }, { reportData });
    expect(revoked).toMatchObject({ ok: false, reason: { code: 'revoked', field: 'vcek' } });
    kds.routes.set('/vcek/v1/Genoa/crl', { body: chain.signCrl([]), type: 'application/pkix-crl' });
    const good = await make().verify({ kind: 'snp-report', data }, { reportData });
    expect(good.ok && good.claims.details.revocation).toBe('checked');
    expect(good.ok && good.claims.insecure).toBe(true);
    expect(records.some((r) => r.message.includes('KDS request'))).toBe(true);
  });

  it('KDS without the VCEK (404) or unreachable: collateral-unavailable', async () => {
    const chain = issuer.chain;
    const data = issuer.report(new Uint8Array(64));
    const other = await createSimulatedSnpIssuer({ chain: { ...chain, chipId: new Uint8Array(64).fill(9) } });
    const missing = await createSnpVerifier({
      kds: new KdsClient({ baseUrl: kds.url, minIntervalMs: 1 }),
      trustAnchors: [chain.trustAnchor],
    }).verify(
      { kind: 'snp-report', data: other.report(new Uint8Array(64)) },
      { reportData: new Uint8Array(64) },
    );
    expect(missing).toMatchObject({ ok: false, reason: { code: 'collateral-unavailable', field: 'vcek' } });
    const closed = await startFakeKds();
    await closed.close();
    const down = await createSnpVerifier({
      kds: new KdsClient({ baseUrl: closed.url, minIntervalMs: 1, sleep: async () => {} }),
      trustAnchors: [chain.trustAnchor],
    }).verify({ kind: 'snp-report', data }, { reportData: new Uint8Array(64) });
    expect(down).toMatchObject({ ok: false, reason: { code: 'collateral-unavailable' } });
  });

  it('refuses other evidence kinds', async () => {
    const r = await createSnpVerifier().verify(
      { kind: 'tdx-quote', data: new Uint8Array(1) },
      { reportData: new Uint8Array(64) },
    );
    expect(r).toMatchObject({ ok: false, reason: { code: 'unsupported-evidence-kind' } });
  });
});

describe('KdsClient in-process cache', () => {
  it('without a cache directory, a second request for the same URL is served from memory', async () => {
    kds.routes.set('/vcek/v1/Turin/cert_chain', {
      body: kds.routes.get('/vcek/v1/Genoa/cert_chain')!.body,
      type: 'application/x-pem-file',
    });
    const client = new KdsClient({ baseUrl: kds.url, minIntervalMs: 1 });
    const before = kds.log.length;
    const a = await client.getCertChain('Turin');
    const b = await client.getCertChain('Turin');
    expect(a).toBe(b);
    expect(a).toContain('BEGIN CERTIFICATE');
    expect(kds.log.length - before).toBe(1);
  });
});

describe('RateLimitedFetcher', () => {
  it('spaces requests to one host by the minimum interval (default 10 s), other hosts independent', async () => {
    let t = 1_000_000;
    const sleeps: number[] = [];
    const f = new RateLimitedFetcher({
      fetch: async () => new Response('ok'),
      now: () => t,
      sleep: async (ms) => {
        sleeps.push(ms);
        t += ms;
      },
    });
    await Promise.all([
      f.get('https://kds.example/a'),
      f.get('https://kds.example/b'),
      f.get('https://other.example/c'),
    ]);
    expect(sleeps).toEqual([10_000]);
    await f.get('https://kds.example/d');
    expect(sleeps).toEqual([10_000, 10_000]);
  });

  it('queues real requests on loopback at least minIntervalMs apart and retries a 429', async () => {
    // Real requests, virtual time: the limiter's clock only moves when it sleeps, so the spacing
    // it enforces is asserted exactly (with the wall clock, a loaded machine measured 149 ms).
    let t = 0;
    const started: number[] = [];
    const f = new RateLimitedFetcher({
      minIntervalMs: 150,
      backoffMs: 10,
      now: () => t,
      sleep: async (ms) => {
        t += ms;
      },
      fetch: (url, init) => {
        started.push(t);
        return globalThis.fetch(url, init);
      },
    });
    kds.routes.set('/rl/1', { body: 'one', type: 'text/plain' });
    kds.routes.set('/rl/2', { body: 'two', type: 'text/plain' });
    kds.throttleOnce.add('/rl/2');
    const start = kds.log.length;
    const bodies = await Promise.all([f.get(`${kds.url}/rl/1`), f.get(`${kds.url}/rl/2`)]);
    expect(bodies.map((b) => new TextDecoder().decode(b.body))).toEqual(['one', 'two']);
    const hits = kds.log.slice(start);
    expect(hits.map((h) => h.path)).toEqual(['/rl/1', '/rl/2', '/rl/2']);
    expect(started).toHaveLength(3);
    for (let i = 1; i < started.length; i++)
      expect(started[i]! - started[i - 1]!).toBeGreaterThanOrEqual(150);
  });

  it('waits the Retry-After a server asks for, as seconds or an HTTP date, and refuses a longer one than it waits for', async () => {
    let t = Date.parse('2026-12-07T10:00:00Z');
    const sleeps: number[] = [];
    const answers = [
      new Response('slow down', { status: 429, headers: { 'retry-after': '7' } }),
      new Response('busy', { status: 503, headers: { 'retry-after': 'Mon, 07 Dec 2026 10:00:45 GMT' } }),
      new Response('ok'),
      // An hour: held, the queue of this host (every verification that needs it) would wait that long.
      new Response('slow down', { status: 429, headers: { 'retry-after': '3600' } }),
    ];
    const f = new RateLimitedFetcher({
      minIntervalMs: 1,
      fetch: async () => answers.shift() ?? new Response('ok'),
      now: () => t,
      sleep: async (ms) => {
        sleeps.push(ms);
        t += ms;
      },
    });
    expect(new TextDecoder().decode((await f.get('https://kds.example/a')).body)).toBe('ok');
    // 7 s; then until 10:00:45, 38 s after the first wait ended at 10:00:07.
    expect(sleeps).toEqual([7000, 38_000]);
    const refused = await f.get('https://kds.example/b').catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'unavailable', status: 429 });
    expect((refused as Error).message).toContain('asked to retry in 3600 s (more than the 60 s waited for)');
    // Only the 1 ms spacing before the second request: no wait for the hour.
    expect(sleeps).toEqual([7000, 38_000, 1]);
  });

  it('retries an answer cut off mid-body, and refuses one over 32 MiB without reading it', async () => {
    const sleeps: number[] = [];
    let calls = 0;
    const cutOff = () =>
      new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(new TextEncoder().encode('half of a VC'));
          c.error(Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }));
        },
      });
    const f = new RateLimitedFetcher({
      minIntervalMs: 1,
      backoffMs: 5,
      fetch: async (url) => {
        calls++;
        if (String(url).endsWith('/huge')) {
          return new Response('x', { headers: { 'content-length': String(40 * 1024 * 1024) } });
        }
        return calls === 1 ? new Response(cutOff()) : new Response('whole VCEK');
      },
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    });
    expect(new TextDecoder().decode((await f.get('https://kds.example/vcek')).body)).toBe('whole VCEK');
    expect(calls).toBe(2);
    expect(sleeps).toContain(5);
    await expect(f.get('https://kds.example/huge')).rejects.toMatchObject({
      code: 'unavailable',
      message: `GET https://kds.example/huge: the answer is larger than ${32 * 1024 * 1024} bytes`,
    });
    expect(calls).toBe(3);
  });

  it('gives up with unavailable after the retries', async () => {
    let t = 0;
    const sleeps: number[] = [];
    let calls = 0;
    const f = new RateLimitedFetcher({
      maxRetries: 2,
      fetch: async () => {
        calls++;
        return new Response('busy', { status: 503 });
      },
      now: () => t,
      sleep: async (ms) => {
        sleeps.push(ms);
        t += ms;
      },
    });
    await expect(f.get('https://kds.example/x')).rejects.toMatchObject({ code: 'unavailable' });
    expect(calls).toBe(3);
    // backoff 10 s then 20 s (each also satisfies the 10 s spacing)
    expect(sleeps).toEqual([10_000, 20_000]);
  });
});

describe('DiskCache', () => {
  it('stores, expires, and keeps keys apart', async () => {
    let t = 0;
    const cache = new DiskCache(path.join(dir, 'dc'), { now: () => t });
    await cache.set('k1', new Uint8Array([1, 2]), { ttlMs: 100 });
    await cache.set('k2', new Uint8Array([3]));
    expect((await cache.get('k1'))?.body).toEqual(new Uint8Array([1, 2]));
    t = 100;
    expect(await cache.get('k1')).toBeUndefined();
    expect((await cache.get('k2'))?.body).toEqual(new Uint8Array([3]));
    expect(await cache.get('k3')).toBeUndefined();
  });
});
