import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCertificates } from '../common/x509.js';
import { haveVectors, tdxVectorsDir, vectorFile } from '../testing/tdx-vectors.js';
import { parseQeIdentity, parseTcbInfo, splitSignedJson, type TcbInfo } from './collateral.js';
import { loadCollateralDir } from './collateral-dir.js';
import { parsePckExtensions, SGX_EXTENSIONS_OID } from './pck.js';
import { parseTdxQuote } from './quote.js';
import { Reject } from './reject.js';
import { evaluateTdxTcb } from './tcb.js';

const V = 'dcapqvl-v4-uptodate';

describe.skipIf(!haveVectors)(
  'Intel TCB evaluation rules (on the dcapqvl-v4 quote and collateral)',
  async () => {
    const c = haveVectors ? await loadCollateralDir(path.join(tdxVectorsDir, V)) : {};
    const quote = haveVectors ? parseTdxQuote(vectorFile(V, 'quote.bin')) : undefined;
    const info = (): TcbInfo =>
      structuredClone(parseTcbInfo(splitSignedJson(c.tcbInfo!, 'tcbInfo', 'tcb_info').value)) as TcbInfo;
    const qeId = () =>
      parseQeIdentity(splitSignedJson(c.qeIdentity!, 'enclaveIdentity', 'qe_identity').value);
    const pck = () =>
      parsePckExtensions(
        loadCertificates(quote!.signatureData.pckChainPem)[0]!.extensions.get(SGX_EXTENSIONS_OID)!.value,
      );
    const evaluate = (i: TcbInfo, body = quote!.body) =>
      evaluateTdxTcb(i, pck(), body, quote!.signatureData.qeReport, qeId());

    it('matches the first level whose SGX components, PCESVN and TDX components are all >=', () => {
      expect(evaluate(info()).status).toBe('UpToDate');
    });

    it('reports all levels forced to OutOfDate as OutOfDate with their advisories', () => {
      const i = info();
      for (const l of i.tcbLevels) {
        l.tcbStatus = 'OutOfDate';
        l.advisoryIds = ['INTEL-SA-00001'];
      }
      const e = evaluate(i);
      expect(e.status).toBe('OutOfDate');
      expect(e.advisoryIds).toEqual(['INTEL-SA-00001']);
    });

    it('returns no-matching-tcb-level when every level needs more', () => {
      const i = info();
      for (const l of i.tcbLevels) l.pceSvn = 99;
      expect(evaluate(i).status).toBe('no-matching-tcb-level');
      const j = info();
      for (const l of j.tcbLevels) l.tdxComponents![2] = 99;
      expect(evaluate(j).status).toBe('no-matching-tcb-level');
    });

    it('skips TEE_TCB_SVN[0..1] when the TDX module major version is > 0 (the module identity judges them)', () => {
      const i = info();
      for (const l of i.tcbLevels) l.tdxComponents![0] = 99; // quote has tee_tcb_svn[0] = 6, [1] = 1
      expect(evaluate(i).status).toBe('UpToDate');
    });

    it('folds an OutOfDate TDX module into OutOfDate / OutOfDateConfigurationNeeded and unions advisories', () => {
      const i = info();
      const mod = i.tdxModuleIdentities!.find((m) => m.id === 'TDX_01')!;
      mod.tcbLevels = [
        { isvSvn: 99, tcbDate: 'x', tcbStatus: 'UpToDate', advisoryIds: [] },
        { isvSvn: 0, tcbDate: 'y', tcbStatus: 'OutOfDate', advisoryIds: ['INTEL-SA-00002'] },
      ];
      i.tcbLevels[0]!.advisoryIds = ['INTEL-SA-00001'];
      const e = evaluate(i);
      expect(e.status).toBe('OutOfDate');
      expect(e.advisoryIds).toEqual(['INTEL-SA-00001', 'INTEL-SA-00002']);
      i.tcbLevels[0]!.tcbStatus = 'ConfigurationNeeded';
      expect(evaluate(i).status).toBe('OutOfDateConfigurationNeeded');
      mod.tcbLevels = [{ isvSvn: 99, tcbDate: 'x', tcbStatus: 'UpToDate', advisoryIds: [] }];
      expect(evaluate(i).status).toBe('no-matching-tcb-level');
    });

    it('fails on a missing TDX module identity or a different MRSIGNERSEAM', () => {
      const i = info();
      i.tdxModuleIdentities = i.tdxModuleIdentities!.filter((m) => m.id !== 'TDX_01');
      expect(() => evaluate(i)).toThrow(Reject);
      const j = info();
      j.tdxModuleIdentities!.find((m) => m.id === 'TDX_01')!.mrSigner[0] = 1;
      try {
        evaluate(j);
        expect.unreachable();
      } catch (e) {
        expect((e as Reject).reason).toMatchObject({ code: 'field-mismatch', field: 'mrSignerSeam' });
      }
    });

    it('uses tdxModule (not an identity) for TDX module major version 0', () => {
      const body = { ...quote!.body, teeTcbSvn: Uint8Array.from(quote!.body.teeTcbSvn) };
      body.teeTcbSvn[1] = 0;
      const i = info();
      const e = evaluate(i, body);
      expect(e.tdxModule).toBeUndefined();
      i.tdxModule!.mrSigner[5] = 7;
      expect(() => evaluate(i, body)).toThrow(Reject);
    });
  },
);
