import { createHash } from 'node:crypto';
import { fromHex } from '@contrast-cc/core';
import { createMemoryLogger } from '@contrast-cc/core/testing';
import { describe, expect, it } from 'vitest';
import { collateralToExtras } from './collateral.js';
import type { TdxReferenceValues } from './reference-values.js';
import { createSimulatedTdxIssuer } from './simulator.js';
import { createTdxVerifier } from './verifier.js';
import { verifyTdxQuote } from './verify-node.js';

const rd = new Uint8Array(64).fill(7);
const hex48 = (b: number) => Buffer.alloc(48, b).toString('hex');
const mrTd = new Uint8Array(48).fill(0xaa);
const rtmrs = [1, 2, 3, 4].map((b) => new Uint8Array(48).fill(b));
const policy = createHash('sha256').update('policy').digest();
const mrConfigId = new Uint8Array(48);
mrConfigId.set(policy);

const sim = await createSimulatedTdxIssuer({
  td: { mrTd, rtmrs, mrConfigId, mrSeam: new Uint8Array(48).fill(0x5e) },
  platform: {
    piid: new Uint8Array(16).fill(0x11),
    sgxType: 'ScalableWithIntegrity',
    configuration: { dynamicPlatform: false, cachedKeys: true, smtEnabled: false },
  },
});
const anchors = sim.trustAnchors;

const rv: TdxReferenceValues = {
  MrTd: hex48(0xaa),
  MrSeam: hex48(0x5e),
  Rtmrs: [hex48(1), hex48(2), hex48(3), hex48(4)],
  Xfam: 'e702060000000000',
  AllowedPIIDs: ['11'.repeat(16)],
  MemoryIntegrity: true,
  SMTDisabled: true,
  StaticPlatform: true,
};

describe('simulated TDX issuer', () => {
  it('produces quotes the real verifier accepts when told to trust the local root, marked insecure', async () => {
    const ev = await sim.issue(rd);
    const r = verifyTdxQuote(ev.data, { trustAnchors: anchors, reportData: rd, referenceValues: rv });
    expect(r.ok ? 'ok' : r.reason).toBe('ok');
    if (!r.ok) return;
    expect(r.claims.insecure).toBe(true);
    expect(r.claims.measurement).toBe(hex48(0xaa));
    expect(r.claims.policyDigest).toBe(policy.toString('hex'));
    expect(r.claims.details.pck['piid']).toBe('11'.repeat(16));
  });

  it('is rejected under the default (Intel) trust anchor', () => {
    const r = verifyTdxQuote(sim.quote(rd));
    expect(r.ok ? 'ok' : r.reason).toMatchObject({ code: 'chain-invalid', field: 'pck_cert_chain.root' });
  });

  it('works through the core Verifier contract and refuses foreign kinds and wrong REPORT_DATA', async () => {
    const v = createTdxVerifier({
      trustAnchors: anchors,
      referenceValues: rv,
      policyDigests: [policy.toString('hex')],
    });
    expect(v.kinds).toEqual(['tdx-quote']);
    const ev = await sim.issue(rd);
    expect((await v.verify(ev, { reportData: rd })).ok).toBe(true);
    const wrong = await v.verify(ev, { reportData: new Uint8Array(64) });
    expect(wrong.ok ? 'ok' : wrong.reason).toMatchObject({
      code: 'report-data-mismatch',
      field: 'report_data',
    });
    const foreign = await v.verify({ kind: 'snp-report', data: ev.data }, { reportData: rd });
    expect(foreign.ok ? 'ok' : foreign.reason.code).toBe('unsupported-evidence-kind');
    const garbage = await v.verify({ kind: 'tdx-quote', data: new Uint8Array(10) }, { reportData: rd });
    expect(garbage.ok ? 'ok' : garbage.reason.code).toBe('malformed');
  });

  it('rejects a PCK revoked by a CRL of the PCK CA, and stale or foreign CRLs', async () => {
    const quote = sim.quote(rd);
    const revoking = await sim.createPckCrl({ revokedSerials: [sim.pckSerial] });
    const r = verifyTdxQuote(quote, { trustAnchors: anchors, collateral: { pckCrl: revoking } });
    expect(r.ok ? 'ok' : r.reason).toMatchObject({ code: 'revoked', field: 'pck_certificate' });

    const clean = await sim.createPckCrl({ revokedSerials: ['0badc0de'] });
    expect(verifyTdxQuote(quote, { trustAnchors: anchors, collateral: { pckCrl: clean } }).ok).toBe(true);

    const stale = await sim.createPckCrl({
      thisUpdate: new Date('2020-01-01'),
      nextUpdate: new Date('2020-02-01'),
    });
    const s = verifyTdxQuote(quote, { trustAnchors: anchors, collateral: { pckCrl: stale } });
    expect(s.ok ? 'ok' : s.reason).toMatchObject({ code: 'collateral-invalid', field: 'pck_crl.nextUpdate' });

    const other = await createSimulatedTdxIssuer();
    const foreign = await other.createPckCrl({ revokedSerials: [] });
    const f = verifyTdxQuote(quote, { trustAnchors: anchors, collateral: { pckCrl: foreign } });
    expect(f.ok ? 'ok' : f.reason).toMatchObject({ code: 'collateral-invalid', field: 'pck_crl' });
  });

  it('takes collateral from Evidence.extras by PCS file name, before the verifier-wide collateral', async () => {
    const revoking = await sim.createPckCrl({ revokedSerials: [sim.pckSerial] });
    const clean = await sim.createPckCrl();
    const v = createTdxVerifier({ trustAnchors: anchors, collateral: { pckCrl: clean } });
    const ev = await sim.issue(rd);
    expect((await v.verify(ev, { reportData: rd })).ok).toBe(true);
    const withExtras = { ...ev, extras: collateralToExtras({ pckCrl: revoking }) };
    expect(Object.keys(withExtras.extras)).toEqual(['pck_crl.der']);
    const r = await v.verify(withExtras, { reportData: rd });
    expect(r.ok ? 'ok' : r.reason).toMatchObject({ code: 'revoked', field: 'pck_certificate' });
  });

  it('logs outcomes with code and field through the injected logger, nothing else', async () => {
    const mem = createMemoryLogger();
    const v = createTdxVerifier({ trustAnchors: anchors, logger: mem.logger });
    await v.verify(await sim.issue(rd), { reportData: rd });
    await v.verify(await sim.issue(rd), { reportData: new Uint8Array(64) });
    expect(mem.records.map((r) => r.message)).toEqual(['tdx quote verified', 'tdx quote rejected']);
    expect(mem.records[1]!.fields).toMatchObject({
      component: 'tdx-verifier',
      code: 'report-data-mismatch',
      field: 'report_data',
    });
    expect(mem.text()).not.toContain('PRIVATE');
  });

  it('rejects a quote from another simulated platform chain (PCK of another platform)', async () => {
    const other = await createSimulatedTdxIssuer();
    const r = verifyTdxQuote(other.quote(rd), { trustAnchors: anchors });
    expect(r.ok ? 'ok' : r.reason).toMatchObject({ code: 'chain-invalid' });
  });
});

describe('reference values', () => {
  const verify = (quote: Uint8Array, values: TdxReferenceValues, extra: object = {}) => {
    const r = verifyTdxQuote(quote, { trustAnchors: anchors, referenceValues: values, ...extra });
    return r.ok ? 'ok' : r.reason;
  };
  const cases: [string, Parameters<typeof sim.quote>[1] | undefined, TdxReferenceValues, string, string][] = [
    ['MRTD', undefined, { ...rv, MrTd: hex48(0xab) }, 'measurement-mismatch', 'mrTd'],
    ['MRSEAM', undefined, { ...rv, MrSeam: hex48(0) }, 'measurement-mismatch', 'mrSeam'],
    [
      'RTMR0',
      undefined,
      { ...rv, Rtmrs: [hex48(9), hex48(2), hex48(3), hex48(4)] },
      'measurement-mismatch',
      'rtmr0',
    ],
    [
      'RTMR1',
      undefined,
      { ...rv, Rtmrs: [hex48(1), hex48(9), hex48(3), hex48(4)] },
      'measurement-mismatch',
      'rtmr1',
    ],
    [
      'RTMR2',
      undefined,
      { ...rv, Rtmrs: [hex48(1), hex48(2), hex48(9), hex48(4)] },
      'measurement-mismatch',
      'rtmr2',
    ],
    [
      'RTMR3',
      undefined,
      { ...rv, Rtmrs: [hex48(1), hex48(2), hex48(3), hex48(9)] },
      'measurement-mismatch',
      'rtmr3',
    ],
    ['XFAM', undefined, { ...rv, Xfam: 'e718060000000000' }, 'field-mismatch', 'xfam'],
    ['debug TD', { tdAttributes: fromHex('0100001000000000') }, rv, 'debug-enabled', 'tdAttributes'],
    ['TD attributes', { tdAttributes: fromHex('0000000000000000') }, rv, 'field-mismatch', 'tdAttributes'],
    ['PIID', undefined, { ...rv, AllowedPIIDs: ['22'.repeat(16)] }, 'field-mismatch', 'piid'],
    ['TEE TCB SVN', undefined, { ...rv, MinimumTeeTcbSvn: '09'.padEnd(32, '0') }, 'tcb-too-low', 'teeTcbSvn'],
    ['QE SVN', undefined, { ...rv, MinimumQeSvn: 5 }, 'tcb-too-low', 'qeSvn'],
    ['PCE SVN', undefined, { ...rv, MinimumPceSvn: 14 }, 'tcb-too-low', 'pceSvn'],
    [
      'TCB eval number',
      undefined,
      { ...rv, MinTCBEvaluationDataNumber: 17 },
      'collateral-missing',
      'tcb_info',
    ],
  ];
  for (const [name, td, values, code, field] of cases) {
    it(`rejects a wrong ${name} with ${code} naming ${field}`, () => {
      expect(verify(sim.quote(rd, td), values)).toMatchObject({ code, field });
    });
  }

  it('accepts an RTMR0 alternative', () => {
    const values = { ...rv, Rtmrs: [hex48(9), hex48(2), hex48(3), hex48(4)], Rtmr0Alternatives: [hex48(1)] };
    expect(verify(sim.quote(rd), values)).toBe('ok');
  });

  it('checks the allowed policy digest in MRCONFIGID', () => {
    expect(verify(sim.quote(rd), rv, { policyDigests: ['00'.repeat(32)] })).toMatchObject({
      code: 'policy-mismatch',
      field: 'mrConfigId',
    });
  });

  it('checks memory integrity, SMT and static platform from the PCK certificate', async () => {
    const loose = await createSimulatedTdxIssuer({
      td: { mrTd },
      platform: {
        sgxType: 'Scalable',
        configuration: { dynamicPlatform: true, cachedKeys: true, smtEnabled: true },
      },
    });
    const v = (values: TdxReferenceValues) => {
      const r = verifyTdxQuote(loose.quote(rd), {
        trustAnchors: loose.trustAnchors,
        referenceValues: values,
      });
      return r.ok ? 'ok' : r.reason;
    };
    expect(v({ MemoryIntegrity: true })).toMatchObject({ code: 'field-mismatch', field: 'sgxType' });
    expect(v({ SMTDisabled: true })).toMatchObject({ code: 'field-mismatch', field: 'smtEnabled' });
    expect(v({ StaticPlatform: true })).toMatchObject({ code: 'field-mismatch', field: 'dynamicPlatform' });
    expect(v({})).toBe('ok');
  });

  it('refuses malformed reference values with an error naming the field', () => {
    expect(() => createTdxVerifier({ referenceValues: { MrTd: 'abcd' } })).toThrowError(
      expect.objectContaining({ code: 'invalid-argument', field: 'ReferenceValues.tdx.MrTd' }),
    );
    expect(() => createTdxVerifier({ referenceValues: { Rtmrs: [hex48(1)] } })).toThrowError(
      expect.objectContaining({ field: 'ReferenceValues.tdx.Rtmrs' }),
    );
    expect(() =>
      createTdxVerifier({ referenceValues: { AcceptedTcbStatuses: ['Fine' as never] } }),
    ).toThrowError(expect.objectContaining({ field: 'ReferenceValues.tdx.AcceptedTcbStatuses[0]' }));
  });
});
