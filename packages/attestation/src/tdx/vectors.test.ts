import path from 'node:path';
import { toHex } from '@contrast-cc/core';
import { describe, expect, it } from 'vitest';
import { loadCertificates } from '../common/x509.js';
import {
  haveVectors,
  TDX_VECTORS,
  tdxVectorsDir,
  vectorFile,
  vectorJson,
  vectorQuote,
} from '../testing/tdx-vectors.js';
import type { TdxCollateral } from './collateral.js';
import { loadCollateralDir } from './collateral-dir.js';
import { parseTdxQuote } from './quote.js';
import { collateralRequestOf } from './verifier.js';
import { verifyTdxQuote } from './verify-node.js';

interface Expected {
  pck_chain: { cn: string; notBefore: string; notAfter: string; serial: string }[];
  pck_issuer: string;
  quote: Record<string, unknown>;
  td_quote_body: Record<string, string>;
  qe_report: Record<string, string | number>;
  qe_auth_data: string;
  pck_cert_sgx_extensions: Record<string, unknown>;
}

async function collateralOf(v: (typeof TDX_VECTORS)[number]): Promise<TdxCollateral | undefined> {
  const dir = path.join(tdxVectorsDir, v.name);
  if (v.name === 'gotdx-emr-v5') {
    // tcb_info.json is the vector's own; QE identity and CRLs were composed from the same dates.
    return {
      ...(await loadCollateralDir(path.join(dir, 'composed-collateral-2026-02'))),
      ...(await loadCollateralDir(dir)),
    };
  }
  return v.collateralDir ? loadCollateralDir(path.join(dir, v.collateralDir)) : undefined;
}

describe.skipIf(!haveVectors)('real TDX quotes (../shared/testvectors/tdx)', () => {
  for (const v of TDX_VECTORS) {
    describe(v.name, () => {
      // The file as captured (some are padded buffers) and the quote exactly (evidence form).
      const bytes = haveVectors ? vectorFile(v.name, v.quote) : new Uint8Array();
      const quote = haveVectors ? vectorQuote(v.name, v.quote) : new Uint8Array();
      const expected = haveVectors ? vectorJson<Expected>(v.name) : ({} as Expected);

      it('parses every field as expected.json lists it', () => {
        const q = parseTdxQuote(bytes);
        const e = expected.quote;
        expect(q.header.version).toBe(e['version']);
        expect(q.header.attestationKeyType).toBe(e['att_key_type']);
        expect(`0x${q.header.teeType.toString(16)}`).toBe(e['tee_type']);
        expect(q.header.version === 5 ? q.body.bodyType : null).toBe(e['body_type']);
        expect(toHex(q.header.qeVendorId)).toBe(e['qe_vendor_id']);
        expect(toHex(q.header.userData)).toBe(e['header_user_data']);
        expect(q.trailingBytes).toBe(e['trailing_bytes']);
        expect(q.length).toBe(bytes.length - (e['trailing_bytes'] as number));
        expect(q.signatureData.certificationDataType).toBe(e['cert_type']);
        const b = expected.td_quote_body;
        const body = q.body;
        expect({
          tee_tcb_svn: toHex(body.teeTcbSvn),
          mrseam: toHex(body.mrSeam),
          mrsignerseam: toHex(body.mrSignerSeam),
          seam_attributes: toHex(body.seamAttributes),
          td_attributes: toHex(body.tdAttributes),
          xfam: toHex(body.xfam),
          mrtd: toHex(body.mrTd),
          mrconfigid: toHex(body.mrConfigId),
          mrowner: toHex(body.mrOwner),
          mrownerconfig: toHex(body.mrOwnerConfig),
          rtmr0: toHex(body.rtmrs[0]),
          rtmr1: toHex(body.rtmrs[1]),
          rtmr2: toHex(body.rtmrs[2]),
          rtmr3: toHex(body.rtmrs[3]),
          report_data: toHex(body.reportData),
          ...(body.teeTcbSvn2 ? { tee_tcb_svn_2: toHex(body.teeTcbSvn2) } : {}),
          ...(body.mrServiceTd ? { mrservicetd: toHex(body.mrServiceTd) } : {}),
        }).toEqual(b);
        const qe = q.signatureData.qeReport;
        expect({
          cpusvn: toHex(qe.cpuSvn),
          miscselect: toHex(qe.raw.subarray(16, 20)),
          attributes: toHex(qe.attributes),
          mrenclave: toHex(qe.mrEnclave),
          mrsigner: toHex(qe.mrSigner),
          isvprodid: qe.isvProdId,
          isvsvn: qe.isvSvn,
        }).toEqual(expected.qe_report);
        expect(toHex(q.signatureData.qeAuthData)).toBe(expected.qe_auth_data);
        expect(q.length - q.signedBytes.length - 4).toBe(e['sig_data_len']);
        const chain = loadCertificates(q.signatureData.pckChainPem).map((c) => ({
          cn: c.subjectCommonName,
          notBefore: c.notBefore.getTime(),
          notAfter: c.notAfter.getTime(),
          serial: c.serialNumber,
        }));
        expect(chain).toEqual(
          expected.pck_chain.map((c) => ({
            cn: c.cn,
            notBefore: Date.parse(c.notBefore),
            notAfter: Date.parse(c.notAfter),
            serial: c.serial.replace(/^0+(?=.)/, ''),
          })),
        );
      });

      it(`verifies (quote only) at ${v.at}`, () => {
        const r = verifyTdxQuote(quote, { now: new Date(v.at) });
        expect(r.ok ? 'ok' : r.reason).toBe('ok');
        if (!r.ok) return;
        const p = expected.pck_cert_sgx_extensions;
        const pck = r.claims.details.pck;
        expect(pck['fmspc']).toBe(p['fmspc']);
        expect(pck['pceId']).toBe(p['pceid']);
        expect(pck['pceSvn']).toBe(p['pcesvn']);
        expect(pck['cpuSvn']).toBe(p['cpusvn']);
        expect(pck['sgxTcbComponents']).toEqual(p['sgx_tcb_comp_svn']);
        expect(pck['sgxType']).toBe(
          ['Standard', 'Scalable', 'ScalableWithIntegrity'][p['sgx_type'] as number],
        );
        expect(r.claims.measurement).toBe(expected.td_quote_body['mrtd']);
        expect(r.claims.policyDigest).toBe(expected.td_quote_body['mrconfigid']!.slice(0, 64));
        expect(r.claims.insecure).toBe(false);
        expect(toHex(r.claims.reportData)).toBe(expected.td_quote_body['report_data']);
      });

      it('the capture as stored: padding is refused as evidence, ignored when allowed', () => {
        const strict = verifyTdxQuote(bytes, { now: new Date(v.at) });
        const padded = verifyTdxQuote(bytes, { now: new Date(v.at), allowTrailingBytes: true });
        expect(padded.ok ? 'ok' : padded.reason).toBe('ok');
        if (bytes.length === quote.length) {
          expect(strict.ok).toBe(true);
        } else {
          expect(strict.ok ? 'accepted' : strict.reason).toEqual({
            code: 'malformed',
            field: 'quote',
            message: `${bytes.length - quote.length} bytes follow the quote's declared signature data; evidence must be the quote exactly`,
          });
        }
      });

      it('names its FMSPC and PCK CA for a collateral request', () => {
        const req = collateralRequestOf(parseTdxQuote(bytes));
        expect(req.fmspc).toBe(expected.pck_cert_sgx_extensions['fmspc']);
        expect(req.ca).toBe(expected.pck_issuer.includes('Processor') ? 'processor' : 'platform');
      });

      if (v.expectedTcb) {
        it(`computes TCB status ${v.expectedTcb} with its collateral`, async () => {
          const collateral = await collateralOf(v);
          const r = verifyTdxQuote(quote, {
            now: new Date(v.at),
            collateral,
            acceptedTcbStatuses: [
              'UpToDate',
              'SWHardeningNeeded',
              'ConfigurationNeeded',
              'ConfigurationAndSWHardeningNeeded',
              'OutOfDate',
              'OutOfDateConfigurationNeeded',
              'no-matching-tcb-level',
            ],
          });
          expect(r.ok ? 'ok' : r.reason).toBe('ok');
          if (!r.ok) return;
          expect(r.claims.tcb?.status).toBe(v.expectedTcb);
          expect(r.claims.details.tcbStatus).toBe(v.expectedTcb);
        });
      }
    });
  }
});
