// The collateral sources every app builds (createCollateralSources) against loopback stand-ins of
// AMD KDS and Intel PCS with the vendors' paths and headers: real vectors' certificates and
// collateral, simulated chains (where a test can sign a CRL), failures, the offline directory.
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { toHex } from '@contrast-cc/core';
import { afterAll, describe, expect, it } from 'vitest';
import { createCollateralSources, SNP_COLLATERAL_FILES, TDX_COLLATERAL_FILES } from './collateral.js';
import { parseSnpReport } from './snp/report.js';
import { certificateSerial, createSimulatedSnpChain, createSimulatedSnpIssuer } from './snp/simulator.js';
import { createSnpVerifier } from './snp/verifier.js';
import { parseTdxQuote } from './tdx/quote.js';
import { createSimulatedTdxIssuer } from './tdx/simulator.js';
import { collateralRequestOf, createTdxVerifier } from './tdx/verifier.js';
import type { TdxVerifyResult } from './tdx/verify.js';
import { startFakeKds, startFakePcs } from './testing/index.js';
import { hasSnpVectors, snpVectors } from './testing/snp-vectors.js';
import {
  haveVectors as haveTdxVectors,
  TDX_VECTORS,
  vectorCollateral,
  vectorQuote,
} from './testing/tdx-vectors.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'contrast-collateral-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const zero = new Uint8Array(64);
// One RSA key for the simulated ARK and ASK (fast; the chain is still RSA-PSS signed and checked).
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const keys = { ark: rsa, ask: rsa };

if (!hasSnpVectors) console.warn('NOTICE: ../shared/testvectors/snp absent; real-vector KDS tests skipped');
if (!haveTdxVectors) console.warn('NOTICE: ../shared/testvectors/tdx absent; real-vector PCS tests skipped');

describe.skipIf(!hasSnpVectors)('SNP: real reports with the VCEK and chain from a loopback KDS', () => {
  const vectors = snpVectors().filter((v) => v.report && v.expected.leaf_cert.file.startsWith('vcek'));
  const productOf = (v: (typeof vectors)[number]) =>
    (['Milan', 'Genoa', 'Turin'] as const).find((p) =>
      v.expected.leaf_cert_extensions.productName.startsWith(p),
    )!;

  it('every VCEK-signed vector verifies with what KDS serves, fetched by its exact paths', async () => {
    expect(vectors.length).toBeGreaterThanOrEqual(8);
    const kds = await startFakeKds(
      (['Milan', 'Genoa', 'Turin'] as const).map((product) => ({
        product,
        certChain: vectors.find((v) => productOf(v) === product)?.certChain ?? '',
        vceks: vectors
          .filter((v) => productOf(v) === product)
          .map((v) => ({ report: v.report!, vcek: v.leaf })),
      })),
    );
    try {
      const sources = createCollateralSources({ kdsUrl: kds.url });
      for (const v of vectors) {
        const product = productOf(v);
        const verifier = createSnpVerifier({ kds: sources.snp!, checkRevocation: false, product });
        const r = await verifier.verify(
          { kind: 'snp-report', data: v.report! },
          { reportData: parseSnpReport(v.report!, { product }).reportData, now: v.verifyAt },
        );
        expect(r.ok ? 'ok' : `${v.name}: ${r.reason.code} ${r.reason.message}`).toBe('ok');
        const chip = toHex(parseSnpReport(v.report!, { product }).chipId);
        const hwid = product === 'Turin' ? chip.slice(0, 16) : chip;
        expect(kds.requests.some((p) => p.startsWith(`/vcek/v1/${product}/${hwid}?`))).toBe(true);
      }
      expect(kds.requests.filter((p) => p.endsWith('/cert_chain')).length).toBeLessThanOrEqual(3);
      // A tampered report still fails with the fetched VCEK.
      const v = vectors[0]!;
      const bad = Uint8Array.from(v.report!);
      bad[0x90] = bad[0x90]! ^ 1;
      const r = await createSnpVerifier({ kds: sources.snp!, checkRevocation: false }).verify(
        { kind: 'snp-report', data: bad },
        { reportData: parseSnpReport(bad).reportData, now: v.verifyAt },
      );
      expect(r.ok ? 'ok' : r.reason.code).toBe('signature-invalid');
    } finally {
      await kds.close();
    }
  });
});

describe('SNP: simulated chain through a loopback KDS (CRL signed by the simulated ARK)', () => {
  it('fetches VCEK, chain and CRL; a CRL listing the VCEK is revoked; failures are collateral-unavailable naming URL and status', async () => {
    const chain = await createSimulatedSnpChain({ product: 'Genoa', keys });
    const issuer = await createSimulatedSnpIssuer({ chain });
    const report = issuer.report(zero);
    const product = {
      product: 'Genoa' as const,
      certChain: chain.certChainPem,
      vceks: [{ report, vcek: chain.vcekDer }],
    };
    const kds = await startFakeKds([{ ...product, crl: chain.signCrl([]) }]);
    const revoking = await startFakeKds([
      { ...product, crl: chain.signCrl([certificateSerial(chain.vcekDer)]) },
    ]);
    try {
      const verify = (url: string, timeoutMs?: number) =>
        createSnpVerifier({
          kds: createCollateralSources({ kdsUrl: url, maxRetries: 1, ...(timeoutMs ? { timeoutMs } : {}) })
            .snp!,
          trustAnchors: [chain.trustAnchor],
        }).verify({ kind: 'snp-report', data: report }, { reportData: zero });

      // Two concurrent verifications share one request per document (one in flight per key).
      const both = await Promise.all([verify(kds.url), verify(kds.url)].map((p) => p));
      expect(both.map((r) => (r.ok ? r.claims.details.revocation : r.reason.code))).toEqual([
        'checked',
        'checked',
      ]);
      const client = createCollateralSources({ kdsUrl: kds.url }).snp!;
      kds.requests.length = 0;
      const parsed = parseSnpReport(report);
      await Promise.all([
        client.collateralFor(parsed),
        client.collateralFor(parsed),
        client.getCrl('Genoa'),
        client.getCrl('Genoa'),
      ]);
      expect(kds.requests.filter((p) => p.includes('?blSPL')).length).toBe(1);
      expect(kds.requests.filter((p) => p.endsWith('/crl')).length).toBe(1);

      const revoked = await verify(revoking.url);
      expect(revoked.ok ? 'ok' : `${revoked.reason.code}:${revoked.reason.field}`).toBe('revoked:vcek');

      for (const failure of [429, 500] as const) {
        kds.failWith = failure;
        const r = await verify(kds.url);
        expect(r.ok ? 'ok' : r.reason.code).toBe('collateral-unavailable');
        if (!r.ok) {
          expect(r.reason.message).toContain(`${kds.url}/vcek/v1/Genoa/`);
          expect(r.reason.message).toContain(`HTTP ${failure}`);
        }
      }
      kds.failWith = 'hang';
      const hung = await verify(kds.url, 200);
      expect(hung.ok ? 'ok' : hung.reason.message).toMatch(/no answer within 200 ms/);
      kds.failWith = undefined;
      await kds.stop();
      const down = await verify(kds.url);
      expect(down.ok ? 'ok' : down.reason.message).toMatch(/ECONNREFUSED/);
      await kds.start();
      expect((await verify(kds.url)).ok).toBe(true);
    } finally {
      await kds.close();
      await revoking.close();
    }
  });

  it('reads the offline collateral directory (flat, ConfigMap-friendly) before the network', async () => {
    const chain = await createSimulatedSnpChain({ product: 'Milan', keys });
    const issuer = await createSimulatedSnpIssuer({ chain });
    const report = issuer.report(zero);
    const dir = path.join(tmp, 'snp-offline');
    const verify = () =>
      createSnpVerifier({
        kds: createCollateralSources({ dir }).snp!,
        trustAnchors: [chain.trustAnchor],
      }).verify({ kind: 'snp-report', data: report }, { reportData: zero });
    mkdirSync(dir, { recursive: true });
    const missing = await verify();
    expect(missing.ok ? 'ok' : `${missing.reason.code}: ${missing.reason.message}`).toMatch(
      /^collateral-unavailable: .*snp-vcek-/,
    );
    writeFileSync(path.join(dir, `${SNP_COLLATERAL_FILES.vcekPrefix}a.der`), chain.vcekDer);
    writeFileSync(path.join(dir, SNP_COLLATERAL_FILES.certChain('Milan')), chain.certChainPem);
    const noCrl = await verify();
    expect(noCrl.ok ? 'ok' : `${noCrl.reason.code}:${noCrl.reason.field}: ${noCrl.reason.message}`).toMatch(
      /^collateral-unavailable:crl: .*snp-Milan-crl\.der: no such file/,
    );
    writeFileSync(path.join(dir, SNP_COLLATERAL_FILES.crl('Milan')), chain.signCrl([]));
    expect((await verify()).ok).toBe(true);
    writeFileSync(
      path.join(dir, SNP_COLLATERAL_FILES.crl('Milan')),
      chain.signCrl([certificateSerial(chain.vcekDer)]),
    );
    const r = await verify();
    expect(r.ok ? 'ok' : r.reason.code).toBe('revoked');
  });
});

describe.skipIf(!haveTdxVectors)('TDX: real quotes with collateral from a loopback PCS', () => {
  // PCS always serves CRLs; trustee-gnr-v4-tcbinfo ships none, so a faithful PCS cannot serve it
  // (checked below: refused as collateral-unavailable naming the PCK CRL URL).
  const withCollateral = TDX_VECTORS.filter((v) => v.expectedTcb && v.name !== 'trustee-gnr-v4-tcbinfo');

  it('every quote with collateral verifies with the documents PCS serves; the TCB status equals the offline run', async () => {
    const platforms = await Promise.all(
      withCollateral.map(async (v) => {
        const quote = vectorQuote(v.name, v.quote);
        return {
          fmspc: collateralRequestOf(parseTdxQuote(quote)).fmspc,
          collateral: await vectorCollateral(v.name),
        };
      }),
    );
    expect(withCollateral.map((v) => v.name)).toEqual([
      'dcapqvl-v4-uptodate',
      'dcapqvl-v5-no-tcb-match',
      'gotdx-emr-v5',
      'gotdx-spr-v4-fullcollateral',
    ]);
    for (const [i, v] of withCollateral.entries()) {
      // One PCS per vector: QE identity and CRLs differ by date between vectors.
      const pcs = await startFakePcs([platforms[i]!]);
      try {
        const quote = vectorQuote(v.name, v.quote);
        const expected = { reportData: parseTdxQuote(quote).body.reportData, now: new Date(v.at) };
        const online = await createTdxVerifier({
          collateral: createCollateralSources({ pcsUrl: pcs.url }).tdx!,
          requireCollateral: true,
          acceptedTcbStatuses: ['UpToDate', 'OutOfDate', 'SWHardeningNeeded', 'ConfigurationNeeded'],
        }).verify({ kind: 'tdx-quote', data: quote }, expected);
        const offline = await createTdxVerifier({
          collateral: platforms[i]!.collateral,
          requireCollateral: true,
          acceptedTcbStatuses: ['UpToDate', 'OutOfDate', 'SWHardeningNeeded', 'ConfigurationNeeded'],
        }).verify({ kind: 'tdx-quote', data: quote }, expected);
        const status = (r: TdxVerifyResult) =>
          r.ok ? r.claims.tcb?.status : (r.tcb?.status ?? r.reason.code);
        expect(status(online), v.name).toBe(status(offline));
        expect(status(online), v.name).toBe(v.expectedTcb);
        expect(pcs.requests.some((p) => p.startsWith('/tdx/certification/v4/tcb?fmspc='))).toBe(true);
        expect(pcs.requests).toContain('/tdx/certification/v4/qe/identity');
      } finally {
        await pcs.close();
      }
    }
  });

  it('a PCS that lacks a document (trustee-gnr has no CRLs) refuses with collateral-unavailable naming the URL', async () => {
    const quote = vectorQuote('trustee-gnr-v4-tcbinfo');
    const fmspc = collateralRequestOf(parseTdxQuote(quote)).fmspc;
    const pcs = await startFakePcs([{ fmspc, collateral: await vectorCollateral('trustee-gnr-v4-tcbinfo') }]);
    try {
      const r = await createTdxVerifier({
        collateral: createCollateralSources({ pcsUrl: pcs.url }).tdx!,
        requireCollateral: true,
      }).verify(
        { kind: 'tdx-quote', data: quote },
        { reportData: parseTdxQuote(quote).body.reportData, now: new Date('2025-11-01T00:00:00Z') },
      );
      expect(r.ok ? 'ok' : `${r.reason.code}: ${r.reason.message}`).toMatch(
        /^collateral-unavailable: .*\/sgx\/certification\/v4\/(pckcrl\?ca=platform&encoding=der|rootcacrl): HTTP 404/,
      );
    } finally {
      await pcs.close();
    }
  });
});

describe('TDX: simulated platform through a loopback PCS and the offline directory', () => {
  it('verifies with served collateral, refuses tampered collateral, and refuses with collateral-unavailable when PCS fails', async () => {
    const sim = await createSimulatedTdxIssuer();
    const collateral = await sim.createCollateral();
    const quote = sim.quote(zero);
    const fmspc = collateralRequestOf(parseTdxQuote(quote)).fmspc;
    const pcs = await startFakePcs([{ fmspc, collateral }]);
    const tampered = Uint8Array.from(collateral.tcbInfo);
    tampered[tampered.indexOf(0x55 /* U of UpToDate */)] = 0x75;
    const badPcs = await startFakePcs([{ fmspc, collateral: { ...collateral, tcbInfo: tampered } }]);
    try {
      const verify = (url: string) =>
        createTdxVerifier({
          collateral: createCollateralSources({ pcsUrl: url, maxRetries: 0 }).tdx!,
          trustAnchors: sim.trustAnchors,
          requireCollateral: true,
        }).verify({ kind: 'tdx-quote', data: quote }, { reportData: zero });
      const ok = await verify(pcs.url);
      expect(ok.ok ? ok.claims.tcb?.status : ok.reason).toBe('UpToDate');
      const bad = await verify(badPcs.url);
      expect(bad.ok ? 'ok' : bad.reason.code).toBe('collateral-invalid');
      // Fresh client: nothing cached, PCS answers 500.
      pcs.failWith = 500;
      const down = await verify(pcs.url);
      expect(down.ok ? 'ok' : `${down.reason.code}: ${down.reason.message}`).toMatch(
        new RegExp(`^collateral-unavailable: .*${pcs.url}/.*HTTP 500`),
      );
    } finally {
      await pcs.close();
      await badPcs.close();
    }

    const dir = path.join(tmp, 'tdx-offline');
    mkdirSync(dir, { recursive: true });
    const f = TDX_COLLATERAL_FILES;
    for (const [name, bytes] of [
      [f.tcbInfo(fmspc), collateral.tcbInfo],
      [f.tcbInfoIssuerChain, collateral.tcbInfoIssuerChain],
      [f.qeIdentity, collateral.qeIdentity],
      [f.qeIdentityIssuerChain, collateral.qeIdentityIssuerChain],
      [f.pckCrl('platform'), collateral.pckCrl],
      [f.rootCaCrl, collateral.rootCaCrl],
    ] as const) {
      writeFileSync(path.join(dir, name), bytes);
    }
    const offline = createTdxVerifier({
      collateral: createCollateralSources({ dir }).tdx!,
      trustAnchors: sim.trustAnchors,
      requireCollateral: true,
    });
    const r = await offline.verify({ kind: 'tdx-quote', data: quote }, { reportData: zero });
    expect(r.ok ? r.claims.tcb?.status : r.reason).toBe('UpToDate');
    rmSync(path.join(dir, f.rootCaCrl));
    const gone = await offline.verify({ kind: 'tdx-quote', data: quote }, { reportData: zero });
    expect(gone.ok ? 'ok' : `${gone.reason.code}: ${gone.reason.message}`).toMatch(
      /^collateral-unavailable: .*tdx-root_ca_crl\.der: no such file/,
    );
    expect(readFileSync(path.join(dir, f.tcbInfo(fmspc))).length).toBeGreaterThan(0);
  });
});
