import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveVectors, tdxVectorsDir, vectorQuote } from '../testing/tdx-vectors.js';
import type { TdxCollateral } from './collateral.js';
import { loadCollateralDir } from './collateral-dir.js';
import { PcsClient } from './pcs.js';
import { createTdxVerifier } from './verifier.js';

const V = 'dcapqvl-v4-uptodate';
const AT = new Date('2025-07-19T10:00:34Z');

/** A loopback fake of the four Intel PCS v4 endpoints, serving one vector's collateral. */
async function fakePcs(c: TdxCollateral) {
  const seen: string[] = [];
  let down = false;
  const server: Server = createServer((req, res) => {
    seen.push(req.url ?? '');
    if (down) {
      res.writeHead(503).end();
      return;
    }
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const send = (body: Uint8Array | undefined, headers: Record<string, string> = {}) => {
      if (!body) return res.writeHead(404).end();
      res.writeHead(200, headers).end(Buffer.from(body));
    };
    const chain = (b: Uint8Array | undefined) => encodeURIComponent(new TextDecoder().decode(b));
    if (
      url.pathname === '/tdx/certification/v4/tcb' &&
      url.searchParams.get('fmspc') === 'B0C06F000000' &&
      ['17', null].includes(url.searchParams.get('tcbEvaluationDataNumber'))
    ) {
      return send(c.tcbInfo, { 'TCB-Info-Issuer-Chain': chain(c.tcbInfoIssuerChain) });
    }
    if (url.pathname === '/tdx/certification/v4/qe/identity') {
      return send(c.qeIdentity, { 'SGX-Enclave-Identity-Issuer-Chain': chain(c.qeIdentityIssuerChain) });
    }
    if (url.pathname === '/sgx/certification/v4/pckcrl' && url.searchParams.get('ca') === 'platform') {
      return send(c.pckCrl, { 'SGX-PCK-CRL-Issuer-Chain': chain(c.pckCrlIssuerChain) });
    }
    if (url.pathname === '/sgx/certification/v4/rootcacrl') {
      // PCS has served this one as hex text: the client accepts both.
      return send(new TextEncoder().encode(Buffer.from(c.rootCaCrl!).toString('hex')));
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    seen,
    setDown: (d: boolean) => {
      down = d;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe.skipIf(!haveVectors)('PcsClient against a loopback fake PCS', () => {
  let pcs: Awaited<ReturnType<typeof fakePcs>>;
  let cacheDir: string;
  let collateral: TdxCollateral;
  beforeAll(async () => {
    collateral = await loadCollateralDir(path.join(tdxVectorsDir, V));
    pcs = await fakePcs(collateral);
    cacheDir = await mkdtemp(path.join(tmpdir(), 'tdx-pcs-'));
  });
  afterAll(async () => {
    await pcs.close();
    await rm(cacheDir, { recursive: true, force: true });
  });

  it('fetches all collateral byte-exactly and the verifier reaches UpToDate with it', async () => {
    const client = new PcsClient({ baseUrl: pcs.baseUrl, cacheDir, now: () => AT });
    const got = await client.getCollateral({ fmspc: 'b0c06f000000', ca: 'platform' });
    expect(Buffer.from(got.tcbInfo!).equals(Buffer.from(collateral.tcbInfo!))).toBe(true);
    expect(Buffer.from(got.rootCaCrl!).equals(Buffer.from(collateral.rootCaCrl!))).toBe(true);
    expect(new TextDecoder().decode(got.tcbInfoIssuerChain)).toBe(
      new TextDecoder().decode(collateral.tcbInfoIssuerChain),
    );
    expect(client.requests).toBe(4);

    const verifier = createTdxVerifier({
      collateral: (req) => client.getCollateral(req),
      requireCollateral: true,
    });
    const quote = vectorQuote(V);
    const reportData = quote.subarray(48 + 520, 48 + 584);
    const r = await verifier.verify({ kind: 'tdx-quote', data: quote }, { reportData, now: AT });
    expect(r.ok ? r.claims.details['tcbStatus'] : r.reason).toBe('UpToDate');
    expect(client.requests).toBe(4); // served from the memory cache
  });

  it('serves a second client from the disk cache without touching the network, also offline', async () => {
    const before = pcs.seen.length;
    const client = new PcsClient({ baseUrl: pcs.baseUrl, cacheDir, now: () => AT });
    await client.getCollateral({ fmspc: 'b0c06f000000', ca: 'platform' });
    expect(client.requests).toBe(0);
    const offline = new PcsClient({ baseUrl: 'http://127.0.0.1:9', cacheDir, offline: true, now: () => AT });
    await offline.getQeIdentity();
    expect(pcs.seen.length).toBe(before);
  });

  it('refetches stale entries, and serves the stale copy when PCS is down', async () => {
    const later = new Date(AT.getTime() + 2 * 86_400_000);
    const client = new PcsClient({ baseUrl: pcs.baseUrl, cacheDir, now: () => later });
    await client.getQeIdentity();
    expect(client.requests).toBe(1);
    pcs.setDown(true);
    const down = new PcsClient({
      baseUrl: pcs.baseUrl,
      cacheDir,
      now: () => new Date(later.getTime() + 2 * 86_400_000),
    });
    const doc = await down.getQeIdentity();
    expect(down.requests).toBe(1);
    expect(doc.body.length).toBeGreaterThan(0);
    pcs.setDown(false);
  });

  it('asks for TCB info at the reference MinTCBEvaluationDataNumber and enforces it', async () => {
    const client = new PcsClient({ baseUrl: pcs.baseUrl, now: () => AT });
    const quote = vectorQuote(V);
    const reportData = quote.subarray(48 + 520, 48 + 584);
    const ok = createTdxVerifier({
      collateral: (req) => client.getCollateral(req),
      referenceValues: { MinTCBEvaluationDataNumber: 17 },
    });
    const r = await ok.verify({ kind: 'tdx-quote', data: quote }, { reportData, now: AT });
    expect(r.ok ? 'ok' : r.reason).toBe('ok');
    expect(pcs.seen.some((u) => u.includes('tcbEvaluationDataNumber=17'))).toBe(true);
    const tooNew = createTdxVerifier({
      collateral: (req) => client.getCollateral(req),
      referenceValues: { MinTCBEvaluationDataNumber: 18 },
    });
    const t = await tooNew.verify({ kind: 'tdx-quote', data: quote }, { reportData, now: AT });
    // PCS (the fake) has no TCB info at 18: the fetch fails and the verifier refuses it as unavailable collateral.
    expect(t.ok ? 'ok' : t.reason).toMatchObject({ code: 'collateral-unavailable' });
  });

  it('de-duplicates concurrent requests and reports unavailability as a typed error', async () => {
    const client = new PcsClient({ baseUrl: pcs.baseUrl, now: () => AT });
    await Promise.all([
      client.getPckCrl('platform'),
      client.getPckCrl('platform'),
      client.getPckCrl('platform'),
    ]);
    expect(client.requests).toBe(1);
    await expect(client.getTcbInfo('000000000000')).rejects.toMatchObject({ code: 'not-found' });
    const offline = new PcsClient({ offline: true });
    await expect(offline.getRootCaCrl()).rejects.toMatchObject({ code: 'unavailable' });
    expect(() => client.getTcbInfo('xyz')).toThrowError(expect.objectContaining({ field: 'fmspc' }));
  });
});
