// The browser entry: (1) it runs the same verification as the Node entries and gives the same
// verdicts and claims on the real SNP reports and TDX quotes of ../shared/testvectors (WebCrypto
// in Node); (2) bundled for the browser by esbuild (no node: module can resolve there) it runs in a
// bare JavaScript realm that has WebCrypto but no Buffer, process or require, and still accepts a
// real report and refuses a tampered one.

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { verifySnpReportAsync, verifyTdxQuoteAsync } from './browser.js';
import { verifySnpReport } from './snp/verify-node.js';
import { loadCollateralDir } from './tdx/collateral-dir.js';
import { verifyTdxQuote } from './tdx/verify-node.js';
import { hasSnpVectors, snpVectors } from './testing/snp-vectors.js';
import { haveVectors, TDX_VECTORS, tdxVectorsDir, vectorQuote } from './testing/tdx-vectors.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const json = (x: unknown) => JSON.parse(JSON.stringify(x, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)));

/** A copy with one byte flipped. */
function flip(bytes: Uint8Array, at: number): Uint8Array {
  const out = new Uint8Array(bytes);
  out[at]! ^= 0x01;
  return out;
}

describe.skipIf(!hasSnpVectors)(
  'SNP: WebCrypto and node:crypto give the same verdicts on real reports',
  () => {
    for (const v of snpVectors().filter((x) => x.report)) {
      it(v.name, async () => {
        const options = { vcek: v.leaf, certChain: v.certChain, now: v.verifyAt };
        const node = verifySnpReport(v.report!, options);
        const web = await verifySnpReportAsync(v.report!, options);
        expect(node.ok).toBe(true);
        expect(json(web)).toEqual(json(node));
        for (const at of [0x50, 0x2a0]) {
          const bad = flip(v.report!, at);
          const nodeBad = verifySnpReport(bad, options);
          expect(nodeBad.ok).toBe(false);
          expect(await verifySnpReportAsync(bad, options)).toEqual(nodeBad);
        }
      });
    }
  },
);

describe.skipIf(!haveVectors)('TDX: WebCrypto and node:crypto give the same verdicts on real quotes', () => {
  for (const v of TDX_VECTORS.filter((x) => x.collateralDir)) {
    it(`${v.name} with its collateral`, async () => {
      const quote = vectorQuote(v.name, v.quote);
      const collateral = await loadCollateralDir(path.join(tdxVectorsDir, v.name, v.collateralDir!));
      const options = {
        collateral,
        now: new Date(v.at),
        acceptedTcbStatuses: ['UpToDate', 'OutOfDate', 'no-matching-tcb-level'] as const,
      };
      const node = verifyTdxQuote(quote, options);
      expect(node.ok, JSON.stringify(node.ok ? '' : node.reason)).toBe(true);
      expect(json(await verifyTdxQuoteAsync(quote, options))).toEqual(json(node));
      const badQuote = flip(quote, 100);
      const nodeBad = verifyTdxQuote(badQuote, options);
      expect(nodeBad.ok).toBe(false);
      expect(json(await verifyTdxQuoteAsync(badQuote, options))).toEqual(json(nodeBad));
      const tcbInfo = collateral.tcbInfo!;
      const badCollateral = { ...collateral, tcbInfo: flip(tcbInfo, tcbInfo.length - 40) };
      const nodeColl = verifyTdxQuote(quote, { ...options, collateral: badCollateral });
      expect(nodeColl).toMatchObject({ ok: false, reason: { code: 'collateral-invalid' } });
      expect(json(await verifyTdxQuoteAsync(quote, { ...options, collateral: badCollateral }))).toEqual(
        json(nodeColl),
      );
    });
  }
});

describe('the browser bundle', () => {
  it('builds for platform "browser" (no node: module resolves) and verifies in a realm without Buffer', async () => {
    const out = await build({
      entryPoints: [path.join(here, 'browser.ts')],
      bundle: true,
      write: false,
      platform: 'browser',
      format: 'iife',
      globalName: 'contrastAttestation',
      conditions: ['@contrast-cc/source'],
      target: 'es2022',
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(out.metafile.inputs);
    expect(inputs.filter((i) => i.startsWith('node:') || i.includes('crypto-node'))).toEqual([]);
    const code = out.outputFiles[0]!.text;
    expect(code).not.toMatch(/require\(["']node:/);

    // A bare realm: WebCrypto and the text codecs, as in a browser; no Buffer, process, require.
    const realm = vm.createContext({ crypto: globalThis.crypto, TextEncoder, TextDecoder });
    vm.runInContext(code, realm);
    expect(vm.runInContext('typeof Buffer + typeof process + typeof require', realm)).toBe(
      'undefinedundefinedundefined',
    );
    if (!hasSnpVectors) {
      process.emitWarning('skipping the bundled-verifier run: ../shared/testvectors/snp not found');
      return;
    }
    const v =
      snpVectors().find((x) => x.report && x.name === 'oak-milan-v3-vcek') ??
      snpVectors().find((x) => x.report)!;
    realm.input = {
      report: Array.from(v.report!),
      vcek: Array.from(v.leaf),
      chain: Array.from(v.certChain),
      at: v.verifyAt.toISOString(),
    };
    const run = (flipAt: number) =>
      vm.runInContext(
        `(async () => {
          const r = new Uint8Array(input.report);
          if (${flipAt} >= 0) r[${flipAt}] ^= 1;
          const result = await contrastAttestation.verifySnpReportAsync(r, {
            vcek: new Uint8Array(input.vcek), certChain: new Uint8Array(input.chain), now: new Date(input.at),
          });
          return JSON.stringify(result.ok ? { ok: true, measurement: result.claims.measurement } : result);
        })()`,
        realm,
      ) as Promise<string>;
    const good = JSON.parse(await run(-1));
    const expected = verifySnpReport(v.report!, { vcek: v.leaf, certChain: v.certChain, now: v.verifyAt });
    expect(expected.ok).toBe(true);
    expect(good).toEqual({ ok: true, measurement: expected.ok ? expected.claims.measurement : '' });
    const bad = JSON.parse(await run(0x90));
    expect(bad).toMatchObject({ ok: false, reason: { code: 'signature-invalid', field: 'signature' } });
  });
});

describe('ECDSA signature encodings (node: r||s to DER; WebCrypto: DER to r||s)', () => {
  it('round-trip for P-256, P-384 and P-521 sizes, with leading zeros and high bits', async () => {
    const { rsToDer } = await import('./common/crypto-node.js');
    const { derToRs } = await import('./common/crypto-web.js');
    for (const half of [32, 48, 66]) {
      for (const fill of [0x00, 0x01, 0x7f, 0x80, 0xff]) {
        const rs = new Uint8Array(2 * half).map((_, i) => (i % half < 3 ? fill : (i * 37 + half) & 0xff));
        const der = rsToDer(rs)!;
        expect(der[0]).toBe(0x30);
        expect(derToRs(der, half)).toEqual(rs);
      }
    }
  });
});
