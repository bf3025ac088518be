// `contrast evidence verify --online`: real SNP reports and TDX quotes, with their certificates and
// collateral served by loopback stand-ins of AMD KDS and Intel PCS (the vendors' paths and headers).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseSnpReport } from '@contrast-cc/attestation/snp';
import { collateralRequestOf, parseTdxQuote } from '@contrast-cc/attestation/tdx';
import {
  hasSnpVectors,
  hasTdxVectors,
  snpVectors,
  startFakeKds,
  startFakePcs,
  TDX_VECTORS,
  tdxVectorCollateral,
  tdxVectorQuote,
  tdxVectorsDir,
} from '@contrast-cc/attestation/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { captureIo } from '../test-support/harness.js';
import { createEvidenceCommand } from './evidence.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'contrast-evidence-online-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function evidence(args: string[], env: Record<string, string> = {}) {
  const c = captureIo();
  c.io.env = { ...c.io.env, ...env };
  const code = await createEvidenceCommand().run(['verify', ...args], c.io);
  return { code, out: c.out(), err: c.err() };
}

const PRODUCTS = ['Milan', 'Genoa', 'Turin'] as const;

const tdxOnline = (file: string, at: string, pcsUrl: string) => [
  ...['--tdx-quote', file, '--at', at],
  ...['--online', '--pcs-url', pcsUrl, '--json'],
];

if (!hasSnpVectors) console.warn('NOTICE: ../shared/testvectors/snp absent: SNP --online tests skipped');
if (!hasTdxVectors) console.warn('NOTICE: ../shared/testvectors/tdx absent: TDX --online tests skipped');

describe.skipIf(!hasSnpVectors)('evidence verify --snp-report --online (loopback KDS)', () => {
  const vectors = snpVectors().filter((v) => v.report && v.expected.leaf_cert.file.startsWith('vcek'));
  const productOf = (v: (typeof vectors)[number]) =>
    PRODUCTS.find((p) => String(v.expected.leaf_cert_extensions.productName).startsWith(p))!;

  it('verifies every VCEK-signed real report with the VCEK and chain KDS serves; a KDS without a CRL refuses unless --no-crl-check', async () => {
    const kds = await startFakeKds(
      PRODUCTS.map((product) => ({
        product,
        certChain: vectors.find((v) => productOf(v) === product)!.certChain,
        vceks: vectors
          .filter((v) => productOf(v) === product)
          .map((v) => ({ report: v.report!, vcek: v.leaf })),
      })),
    );
    try {
      for (const v of vectors) {
        const file = path.join(tmp, `${v.name}.bin`);
        writeFileSync(file, v.report!);
        const at = v.verifyAt.toISOString();
        const base = ['--snp-report', file, '--at', at, '--online', '--kds-url', kds.url, '--json'];
        const r = await evidence([...base, '--no-crl-check']);
        expect(r.code, `${v.name}: ${r.out}${r.err}`).toBe(0);
        const json = JSON.parse(r.out) as {
          ok: boolean;
          claims: { revocation: string; measurement: string };
        };
        expect(json.claims.revocation).toBe('not-checked');
        expect(json.claims.measurement).toBe(v.expected.report.measurement);
        // The fake has no CRL (no AMD-signed CRL exists in the vectors): online, that is a refusal.
        const strict = await evidence(base);
        expect(strict.code, v.name).toBe(1);
        expect(JSON.parse(strict.out).reason).toMatchObject({ code: 'collateral-unavailable', field: 'crl' });
        expect(JSON.parse(strict.out).reason.message).toContain(
          `${kds.url}/vcek/v1/${productOf(v)}/crl: HTTP 404`,
        );
      }
      const hwids = vectors.map((v) => {
        const chip = Buffer.from(parseSnpReport(v.report!, { product: productOf(v) }).chipId).toString('hex');
        return productOf(v) === 'Turin' ? chip.slice(0, 16) : chip;
      });
      for (const h of hwids) expect(kds.requests.some((p) => p.includes(`/${h}?`))).toBe(true);
    } finally {
      await kds.close();
    }
  });

  it('429, 500 and a KDS that never answers: exit 1 with collateral-unavailable naming the URL and status', async () => {
    const v = vectors[0]!;
    const kds = await startFakeKds([]);
    const file = path.join(tmp, 'report.bin');
    writeFileSync(file, v.report!);
    try {
      for (const [failure, shows] of [
        [429, 'HTTP 429'],
        [500, 'HTTP 500'],
        ['hang', 'no answer within 300 ms'],
      ] as const) {
        kds.failWith = failure;
        const r = await evidence(
          [
            '--snp-report',
            file,
            '--at',
            v.verifyAt.toISOString(),
            '--online',
            '--kds-url',
            kds.url,
            '--json',
          ],
          { CONTRAST_COLLATERAL_TIMEOUT_MS: '300' },
        );
        expect(r.code).toBe(1);
        const reason = JSON.parse(r.out).reason as { code: string; message: string };
        expect(reason.code).toBe('collateral-unavailable');
        expect(reason.message).toContain(`${kds.url}/vcek/v1/`);
        expect(reason.message).toContain(shows);
      }
    } finally {
      await kds.close();
    }
  });

  it('refuses --kds-url without --online and a non-URL (exit 2)', async () => {
    expect((await evidence(['--snp-report', 'x', '--kds-url', 'http://127.0.0.1:1'])).err).toContain(
      'needs --online',
    );
    expect((await evidence(['--snp-report', 'x', '--online', '--kds-url', 'nope'])).err).toContain(
      'not a URL',
    );
    expect(
      (await evidence(['--snp-report', 'x', '--online', '--pcs-url', 'http://127.0.0.1:1'])).err,
    ).toContain('--pcs-url goes with --tdx-quote');
  });
});

describe.skipIf(!hasTdxVectors)('evidence verify --tdx-quote --online (loopback PCS)', () => {
  // Vectors with the full PCS set (trustee-gnr ships no CRLs; the quote-only ones no collateral).
  const withCollateral = TDX_VECTORS.filter(
    (v) => v.collateralDir && v.name !== 'trustee-gnr-v4-tcbinfo',
  ).concat(TDX_VECTORS.filter((v) => v.name === 'gotdx-emr-v5'));

  it('verifies every quote with the collateral PCS serves; the TCB status equals the offline run', async () => {
    expect(withCollateral.length).toBe(4);
    for (const v of withCollateral) {
      const quote = tdxVectorQuote(v.name, v.quote);
      const collateral = await tdxVectorCollateral(v.name);
      const pcs = await startFakePcs([
        { fmspc: collateralRequestOf(parseTdxQuote(quote)).fmspc, collateral },
      ]);
      try {
        const file = path.join(tdxVectorsDir, v.name, v.quote);
        const online = await evidence(tdxOnline(file, v.at, pcs.url));
        const dir = path.join(tmp, `offline-${v.name}`);
        mkdirSync(dir, { recursive: true });
        for (const [name, bytes] of Object.entries({
          'tcb_info.json': collateral.tcbInfo,
          'tcb_info_issuer_chain.pem': collateral.tcbInfoIssuerChain,
          'qe_identity.json': collateral.qeIdentity,
          'qe_identity_issuer_chain.pem': collateral.qeIdentityIssuerChain,
          'pck_crl.der': collateral.pckCrl,
          'root_ca_crl.der': collateral.rootCaCrl,
        })) {
          if (bytes) writeFileSync(path.join(dir, name), bytes);
        }
        const offline = await evidence(['--tdx-quote', file, '--at', v.at, '--collateral', dir, '--json']);
        const status = (out: string) => {
          const j = JSON.parse(out) as {
            ok: boolean;
            claims?: { tcb?: { status: string } };
            tcb?: { status: string };
            reason?: { code: string };
          };
          return j.claims?.tcb?.status ?? j.tcb?.status ?? j.reason?.code;
        };
        expect(status(online.out), v.name).toBe(v.expectedTcb);
        expect(status(online.out), v.name).toBe(status(offline.out));
        expect(online.code, v.name).toBe(offline.code);
        expect(pcs.requests).toContain('/tdx/certification/v4/qe/identity');
        expect(pcs.requests.some((p) => p.startsWith('/sgx/certification/v4/pckcrl?ca='))).toBe(true);
      } finally {
        await pcs.close();
      }
    }
  });

  it('a PCS answering 503 or 500: exit 1, collateral-unavailable naming the URL and status', async () => {
    const v = TDX_VECTORS.find((x) => x.name === 'dcapqvl-v4-uptodate')!;
    const pcs = await startFakePcs([]);
    try {
      for (const failure of [503, 500]) {
        pcs.failWith = failure;
        const r = await evidence(tdxOnline(path.join(tdxVectorsDir, v.name, v.quote), v.at, pcs.url));
        expect(r.code).toBe(1);
        const reason = JSON.parse(r.out).reason as { code: string; message: string };
        expect(reason.code).toBe('collateral-unavailable');
        expect(reason.message).toMatch(new RegExp(`${pcs.url}/(tdx|sgx)/certification/v4/.*HTTP ${failure}`));
      }
    } finally {
      await pcs.close();
    }
  });
});
