import path from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { haveVectors, tdxVectorsDir, vectorQuote } from '../testing/tdx-vectors.js';
import type { TdxCollateral } from './collateral.js';
import { loadCollateralDir } from './collateral-dir.js';
import { parseTdxQuote, QUOTE_HEADER_LENGTH } from './quote.js';
import { rebuildQuote } from './test-support/rebuild.js';
import type { TdxVerifyOptions } from './verify.js';
import { verifyTdxQuote } from './verify-node.js';

const V = 'dcapqvl-v4-uptodate';
const AT = new Date('2025-07-19T10:00:34Z');

function flip(bytes: Uint8Array, at: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  out[at] = out[at]! ^ 0x01;
  return out;
}

describe.skipIf(!haveVectors)(`tampering with ${V}`, () => {
  let quote: Uint8Array;
  let collateral: TdxCollateral;
  let sigStart: number;
  beforeAll(async () => {
    quote = vectorQuote(V);
    collateral = await loadCollateralDir(path.join(tdxVectorsDir, V));
    sigStart = parseTdxQuote(quote).signedBytes.length + 4;
  });
  const run = (q: Uint8Array, extra: Partial<TdxVerifyOptions> = {}) => {
    const r = verifyTdxQuote(q, { now: AT, collateral, ...extra });
    return r.ok ? { ok: true, status: r.claims.details.tcbStatus } : r.reason;
  };

  it('accepts the untouched quote with its collateral: UpToDate, no advisories', () => {
    const r = verifyTdxQuote(quote, { now: AT, collateral });
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.claims.details.tcbStatus).toBe('UpToDate');
      expect(r.claims.details.advisoryIds).toEqual([]);
      expect(r.claims.tcb?.tdxModule).toMatchObject({ id: 'TDX_01', status: 'UpToDate' });
      expect(r.claims.tcb?.qe?.status).toBe('UpToDate');
      expect(r.claims.details.collateralNextUpdate).toBe('2025-07-19T10:00:35.000Z');
    }
  });

  it('rejects a flipped body byte (MRTD) and a flipped header byte', () => {
    expect(run(flip(quote, QUOTE_HEADER_LENGTH + 136))).toMatchObject({
      code: 'signature-invalid',
      field: 'signature',
    });
    expect(run(flip(quote, 30))).toMatchObject({ code: 'signature-invalid', field: 'signature' });
  });

  it('rejects a flipped quote signature byte', () => {
    expect(run(flip(quote, sigStart + 5))).toMatchObject({ code: 'signature-invalid', field: 'signature' });
  });

  it('rejects a flipped QE report byte and QE report signature byte', () => {
    const qeReportAt = sigStart + 64 + 64 + 6;
    expect(run(flip(quote, qeReportAt + 10))).toMatchObject({
      code: 'signature-invalid',
      field: 'qe_report_signature',
    });
    expect(run(flip(quote, qeReportAt + 384 + 3))).toMatchObject({
      code: 'signature-invalid',
      field: 'qe_report_signature',
    });
  });

  it('rejects changed QE auth data and a changed attestation key (the binding breaks)', () => {
    const authAt = sigStart + 64 + 64 + 6 + 384 + 64 + 2;
    expect(run(flip(quote, authAt))).toMatchObject({
      code: 'signature-invalid',
      field: 'qe_report.report_data',
    });
    const r = run(flip(quote, sigStart + 64 + 10));
    expect(r).toMatchObject({ code: 'signature-invalid' });
  });

  it('rejects the PCK certificate chain of another platform', () => {
    const other = parseTdxQuote(vectorQuote('trustee-gnr-v4-tcbinfo')).signatureData.pckChainPem;
    expect(run(rebuildQuote(quote, { chain: other }), { collateral: {} })).toMatchObject({
      code: 'signature-invalid',
      field: 'qe_report_signature',
    });
  });

  it('rejects a flipped byte in the signed TCB info and QE identity', () => {
    const tcb = new TextDecoder().decode(collateral.tcbInfo);
    const bad = new TextEncoder().encode(
      tcb.replace('"tcbEvaluationDataNumber":17', '"tcbEvaluationDataNumber":18'),
    );
    expect(run(quote, { collateral: { ...collateral, tcbInfo: bad } })).toMatchObject({
      code: 'collateral-invalid',
      field: 'tcb_info.signature',
    });
    // Whitespace is signed too: the bytes are verified as received, never re-serialised.
    const spaced = new TextEncoder().encode(tcb.replace('"version":3', '"version": 3'));
    expect(run(quote, { collateral: { ...collateral, tcbInfo: spaced } })).toMatchObject({
      code: 'collateral-invalid',
      field: 'tcb_info.signature',
    });
    const qe = new TextDecoder().decode(collateral.qeIdentity);
    const badQe = new TextEncoder().encode(qe.replace('"isvprodid":2', '"isvprodid":3'));
    expect(run(quote, { collateral: { ...collateral, qeIdentity: badQe } })).toMatchObject({
      code: 'collateral-invalid',
      field: 'qe_identity.signature',
    });
  });

  it('re-verifies when a remembered collateral object gets another byte array', () => {
    const c: TdxCollateral = { ...collateral };
    expect(run(quote, { collateral: c })).toMatchObject({ ok: true, status: 'UpToDate' });
    const tcb = new TextDecoder().decode(collateral.tcbInfo);
    c.tcbInfo = new TextEncoder().encode(tcb.replace('"pceId":"0000"', '"pceId":"0001"'));
    expect(run(quote, { collateral: c })).toMatchObject({
      code: 'collateral-invalid',
      field: 'tcb_info.signature',
    });
  });

  it('rejects flipped CRL bytes', () => {
    const pck = collateral.pckCrl!;
    expect(run(quote, { collateral: { ...collateral, pckCrl: flip(pck, pck.length - 20) } })).toMatchObject({
      code: 'collateral-invalid',
      field: 'pck_crl',
    });
    const root = collateral.rootCaCrl!;
    expect(
      run(quote, { collateral: { ...collateral, rootCaCrl: flip(root, root.length - 20) } }),
    ).toMatchObject({
      code: 'collateral-invalid',
      field: 'root_ca_crl',
    });
  });

  it('rejects expired collateral and an expired PCK chain', () => {
    const later = new Date('2025-07-20T00:00:00Z');
    expect(run(quote, { now: later })).toMatchObject({
      code: 'collateral-invalid',
      field: 'pck_crl.nextUpdate',
    });
    const { tcbInfo, tcbInfoIssuerChain } = collateral;
    expect(run(quote, { now: later, collateral: { tcbInfo, tcbInfoIssuerChain } })).toMatchObject({
      code: 'collateral-invalid',
      field: 'tcb_info.nextUpdate',
    });
    const { qeIdentity, qeIdentityIssuerChain } = collateral;
    expect(run(quote, { now: later, collateral: { qeIdentity, qeIdentityIssuerChain } })).toMatchObject({
      code: 'collateral-invalid',
      field: 'qe_identity.nextUpdate',
    });
    expect(run(quote, { now: new Date('2053-07-01T00:00:00Z'), collateral: {} })).toMatchObject({
      code: 'certificate-expired',
    });
  });

  it('requires the issuer chain of signed collateral and rejects TCB info of another FMSPC', () => {
    expect(run(quote, { collateral: { tcbInfo: collateral.tcbInfo } })).toMatchObject({
      code: 'collateral-missing',
      field: 'tcb_info_issuer_chain',
    });
    const gnr = path.join(tdxVectorsDir, 'trustee-gnr-v4-tcbinfo');
    return loadCollateralDir(gnr).then((c) => {
      expect(
        run(quote, {
          now: new Date('2025-11-01T00:00:00Z'),
          collateral: { tcbInfo: c.tcbInfo, tcbInfoIssuerChain: c.tcbInfoIssuerChain },
        }),
      ).toMatchObject({ code: 'collateral-invalid', field: 'tcb_info.fmspc' });
    });
  });

  it('rejects TCB statuses outside the accepted set with the evaluation attached', async () => {
    const gnr = 'trustee-gnr-v4-tcbinfo';
    const r = verifyTdxQuote(vectorQuote(gnr), {
      now: new Date('2025-11-01T00:00:00Z'),
      collateral: await loadCollateralDir(path.join(tdxVectorsDir, gnr)),
    });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.reason).toMatchObject({ code: 'tcb-status-rejected', field: 'tcbStatus' });
      expect(r.tcb?.status).toBe('OutOfDate');
      // PCESVN 11 < 13 of the UpToDate level: the PCESVN>=5 level (2018-01-04) matches.
      expect(r.tcb?.platform).toMatchObject({ status: 'OutOfDate', tcbDate: '2018-01-04T00:00:00Z' });
      expect(r.tcb?.tdxModule).toMatchObject({ id: 'TDX_03', status: 'UpToDate' });
    }
    const spr = 'gotdx-spr-v4-fullcollateral';
    const s = verifyTdxQuote(vectorQuote(spr), {
      now: new Date('2023-07-01T01:00:00Z'),
      collateral: await loadCollateralDir(path.join(tdxVectorsDir, spr)),
    });
    expect(s.ok ? 'ok' : s.reason.message).toBe('no TCB level matches the platform');
    expect(s.ok ? undefined : s.tcb?.status).toBe('no-matching-tcb-level');
  });

  it('requires collateral when asked to', () => {
    expect(run(quote, { collateral: {}, requireCollateral: true })).toMatchObject({
      code: 'collateral-missing',
      field: 'tcb_info',
    });
  });

  it('rejects every truncation with a typed failure, never a throw', () => {
    const declared = parseTdxQuote(quote).length;
    for (let len = 0; len < declared; len += 7) {
      const r = verifyTdxQuote(quote.subarray(0, len), { now: AT });
      expect(r.ok ? `ok at ${len}` : r.reason.code).toBe('malformed');
    }
  });

  it('property: random bytes and random mutations never throw out of the verifier', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 6000 }), (bytes) => {
        const r = verifyTdxQuote(bytes, { now: AT });
        return r.ok === false && typeof r.reason.code === 'string';
      }),
      { numRuns: 300 },
    );
    // Every byte of the quote counts: signed, bound by a signed hash, a declared length, or the
    // PCK chain, whose PEM text must be exact (a changed padding bit or line break is refused).
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: quote.length - 1 }),
        fc.integer({ min: 1, max: 255 }),
        (at, x) => {
          const q = Uint8Array.from(quote);
          q[at] = q[at]! ^ x;
          const r = verifyTdxQuote(q, { now: AT, collateral });
          return r.ok === false;
        },
      ),
      { numRuns: 300 },
    );
  });
});
