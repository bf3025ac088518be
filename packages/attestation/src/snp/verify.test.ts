import { toHex } from '@contrast-cc/core';
import { describe, expect, it } from 'vitest';
import { loadCertificates } from '../common/x509.js';
import { hasSnpVectors, type SnpVector, snpVectors } from '../testing/snp-vectors.js';
import { checkChainTime, parseSnpKeyExtensions } from './certs.js';
import { parseSnpReport } from './report.js';
import { amdTrustAnchors, buildSnpChain, verifySnpReport } from './verify-node.js';

const vectors = snpVectors();
const withReports = vectors.filter((v) => v.report);
const byName = (name: string) => vectors.find((v) => v.name === name)!;
const opts = (v: SnpVector) => ({ vcek: v.leaf, certChain: v.certChain, now: v.verifyAt });

describe.skipIf(!hasSnpVectors)('verifySnpReport on the real vectors', () => {
  it.each(withReports.map((v) => [v.name, v] as const))('%s verifies at its verify_at time', (_, v) => {
    const result = verifySnpReport(v.report!, {
      ...opts(v),
      reportData: parseSnpReport(v.report!).reportData,
    });
    if (!result.ok) throw new Error(`${result.reason.code} ${result.reason.field}: ${result.reason.message}`);
    const c = result.claims;
    expect(c.kind).toBe('snp-report');
    expect(c.insecure).toBe(false);
    expect(c.measurement).toBe(v.expected.report.measurement);
    expect(c.policyDigest).toBe(v.expected.report.host_data);
    expect(toHex(c.reportData)).toBe(v.expected.report.report_data);
    expect(c.details.product).toBe(v.expected.leaf_cert_extensions.productName.split('-')[0]);
    expect(c.details.signingKey).toBe(v.expected.report.signing_key === 0 ? 'vcek' : 'vlek');
    expect(c.details.certificate.subject).toBe(v.expected.leaf_cert.subject_cn);
    expect(JSON.parse(JSON.stringify(c.details))).toEqual(c.details);
  });

  it.each(vectors.map((v) => [v.name, v] as const))('%s: leaf extensions equal expected.json', (_, v) => {
    const leaf = loadCertificates(v.leaf)[0]!;
    const x = parseSnpKeyExtensions(leaf);
    const e = v.expected.leaf_cert_extensions;
    expect(x.productName).toBe(e.productName);
    expect(x.structVersion).toBe(e.structVersion);
    expect([x.blSpl, x.teeSpl, x.snpSpl, x.ucodeSpl]).toEqual([e.blSPL, e.teeSPL, e.snpSPL, e.ucodeSPL]);
    expect(x.fmcSpl).toBe(e.fmcSPL);
    expect(x.hwId ? toHex(x.hwId) : undefined).toBe(e.hwID);
    expect(x.cspId).toBe(e.cspID);
  });

  it('virtee-turin-vcek-chainonly: the Turin VCEK chains to the embedded Turin ARK', () => {
    const v = byName('virtee-turin-vcek-chainonly');
    const leaf = loadCertificates(v.leaf)[0]!;
    const chain = buildSnpChain(leaf, loadCertificates(v.certChain), amdTrustAnchors(), 'vcek', undefined);
    expect('code' in chain).toBe(false);
    if ('code' in chain) return;
    expect(chain.product).toBe('Turin');
    expect(checkChainTime(chain, v.verifyAt, 'vcek')).toBeUndefined();
    expect(checkChainTime(chain, new Date('2024-01-01T00:00:00Z'), 'vcek')?.code).toBe('certificate-expired');
    // and not to Milan's
    const milanOnly = amdTrustAnchors().filter((a) => a.product === 'Milan');
    expect(buildSnpChain(leaf, [], milanOnly, 'vcek', undefined)).toMatchObject({ code: 'chain-invalid' });
  });

  it('verifies without a supplied chain (embedded ASK/ASVK)', () => {
    for (const v of withReports) {
      const r = verifySnpReport(v.report!, { vcek: v.leaf, now: v.verifyAt });
      expect(r.ok, v.name).toBe(true);
    }
  });
});

describe.skipIf(!hasSnpVectors)('verifySnpReport rejects tampered evidence', () => {
  const v = hasSnpVectors ? byName('gsg-milan-v2-vcek') : (undefined as never);

  it('any byte flipped in the signed region: signature-invalid (KEY_INFO: chain-invalid)', () => {
    for (let i = 0; i < 0x2a0; i++) {
      const bad = v.report!.slice();
      bad[i]! ^= 0x01;
      const r = verifySnpReport(bad, opts(v));
      expect(r.ok, `offset ${i}`).toBe(false);
      if (r.ok) continue;
      if (i === 0x48) expect(['chain-invalid', 'signature-invalid']).toContain(r.reason.code);
      else if (i >= 0x34 && i < 0x38)
        expect(r.reason).toMatchObject({ code: 'signature-invalid', field: 'signature_algo' });
      else expect(r.reason, `offset ${i}`).toMatchObject({ code: 'signature-invalid', field: 'signature' });
    }
  });

  it('a flipped signature byte: signature-invalid', () => {
    for (const i of [0x2a0, 0x2a0 + 47, 0x2e8, 0x2e8 + 20, 0x2a0 + 60]) {
      const bad = v.report!.slice();
      bad[i]! ^= 0x80;
      expect(verifySnpReport(bad, opts(v))).toMatchObject({
        ok: false,
        reason: { code: 'signature-invalid' },
      });
    }
  });

  it('any reserved byte after R and S (0x330-0x49F, unsigned, must be zero) flipped: malformed signature', () => {
    for (const v of withReports) {
      for (let i = 0x330; i < 0x4a0; i++) expect(v.report![i], `${v.name} 0x${i.toString(16)}`).toBe(0);
    }
    for (let i = 0x330; i < 0x4a0; i++) {
      const bad = v.report!.slice();
      bad[i]! ^= 0x01;
      const r = verifySnpReport(bad, opts(v));
      expect(r.ok ? 'accepted' : r.reason, `offset 0x${i.toString(16)}`).toEqual({
        code: 'malformed',
        field: 'signature',
        message: `reserved byte 0x${i.toString(16)} of the signature field (0x330-0x49f, must be zero) is 0x01`,
      });
    }
    // Refused before any collateral is needed: the format is wrong whatever the VCEK.
    const bad = v.report!.slice();
    bad[0x49f] = 0xff;
    expect(verifySnpReport(bad, { now: v.verifyAt })).toMatchObject({
      ok: false,
      reason: { code: 'malformed', field: 'signature' },
    });
  });

  it('a VCEK of another chip: signature-invalid', () => {
    const other = byName('trustee-milan-v2-vcek');
    const r = verifySnpReport(v.report!, { ...opts(v), vcek: other.leaf });
    expect(r).toMatchObject({ ok: false, reason: { code: 'signature-invalid', field: 'signature' } });
  });

  it('an ASK/ARK of the wrong product: chain-invalid', () => {
    const genoa = byName('oak-genoa-v5-vcek');
    const r = verifySnpReport(v.report!, { ...opts(v), certChain: genoa.certChain });
    expect(r).toMatchObject({ ok: false, reason: { code: 'chain-invalid', field: 'cert-chain' } });
    const onlyGenoa = amdTrustAnchors().filter((a) => a.product === 'Genoa');
    const r2 = verifySnpReport(v.report!, { vcek: v.leaf, now: v.verifyAt, trustAnchors: onlyGenoa });
    expect(r2).toMatchObject({ ok: false, reason: { code: 'chain-invalid' } });
    const r3 = verifySnpReport(v.report!, { ...opts(v), product: 'Genoa' });
    expect(r3).toMatchObject({ ok: false, reason: { code: 'chain-invalid', field: 'product' } });
  });

  it('a time outside the certificate validity: certificate-expired', () => {
    const before = verifySnpReport(v.report!, { ...opts(v), now: new Date('2022-09-23T00:00:00Z') });
    expect(before).toMatchObject({ ok: false, reason: { code: 'certificate-expired', field: 'vcek' } });
    const after = verifySnpReport(v.report!, { ...opts(v), now: new Date('2029-09-25T00:00:00Z') });
    expect(after).toMatchObject({ ok: false, reason: { code: 'certificate-expired', field: 'vcek' } });
    const vlek = byName('trustee-milan-v3-vlek-aws');
    expect(verifySnpReport(vlek.report!, opts(vlek)).ok).toBe(true);
    const expired = verifySnpReport(vlek.report!, { ...opts(vlek), now: new Date('2026-11-27T00:00:00Z') });
    expect(expired).toMatchObject({ ok: false, reason: { code: 'certificate-expired', field: 'vlek' } });
  });

  it('a TCB below the minimum: tcb-too-low naming the component', () => {
    // gsg: reported TCB bl2 tee0 snp5 ucode68
    const ok = verifySnpReport(v.report!, {
      ...opts(v),
      referenceValues: {
        MinimumTCB: { BootloaderVersion: 2, TEEVersion: 0, SNPVersion: 5, MicrocodeVersion: 68 },
        GuestPolicy: { SMT: true, Debug: true },
        PlatformInfo: { SMTEnabled: true },
      },
    });
    expect(ok.ok).toBe(true);
    const low = verifySnpReport(v.report!, {
      ...opts(v),
      referenceValues: {
        MinimumTCB: { BootloaderVersion: 2, TEEVersion: 0, SNPVersion: 6, MicrocodeVersion: 68 },
      },
    });
    expect(low).toMatchObject({ ok: false, reason: { code: 'tcb-too-low', field: 'current_tcb.snp' } });
    const ucode = verifySnpReport(v.report!, {
      ...opts(v),
      referenceValues: { MinimumTCB: { MicrocodeVersion: 69 } },
    });
    expect(ucode).toMatchObject({
      ok: false,
      reason: { code: 'tcb-too-low', field: 'current_tcb.microcode' },
    });
  });

  it('checks reference values each with its own code', () => {
    const e = v.expected.report;
    const cases: [object, string, string][] = [
      [{ TrustedMeasurement: '00'.repeat(48) }, 'measurement-mismatch', 'measurement'],
      [{ HostData: ['11'.repeat(32)] }, 'host-data-mismatch', 'host_data'],
      [{ VMPL: 1 }, 'vmpl-mismatch', 'vmpl'],
      [{ AllowedChipIDs: ['22'.repeat(64)] }, 'chip-id-not-allowed', 'chip_id'],
      [{ GuestPolicy: { SMT: true } }, 'debug-enabled', 'policy.debug'],
      [{ GuestPolicy: { Debug: true } }, 'policy-mismatch', 'policy.smt'],
      [
        { GuestPolicy: { Debug: true, SMT: true, SingleSocket: true } },
        'policy-mismatch',
        'policy.single_socket',
      ],
      [{ GuestPolicy: { Debug: true, SMT: true, ABIMajor: 1 } }, 'policy-mismatch', 'policy.abi'],
      [{ PlatformInfo: {} }, 'platform-info-mismatch', 'platform_info.smt_enabled'],
      [
        { PlatformInfo: { SMTEnabled: true, TSMEEnabled: true } },
        'platform-info-mismatch',
        'platform_info.tsme_enabled',
      ],
      [{ MinimumMitigationVector: 1 }, 'mitigation-vector-too-low', 'launch_mit_vector'],
    ];
    for (const [rv, code, field] of cases) {
      const r = verifySnpReport(v.report!, { ...opts(v), referenceValues: rv });
      expect(r, JSON.stringify(rv)).toMatchObject({ ok: false, reason: { code, field } });
    }
    const good = verifySnpReport(v.report!, {
      ...opts(v),
      referenceValues: {
        ProductName: 'Milan',
        TrustedMeasurement: [e.measurement],
        HostData: [e.host_data],
        AllowedChipIDs: [e.chip_id],
        GuestPolicy: { SMT: true, Debug: true },
        PlatformInfo: { SMTEnabled: true },
      },
    });
    expect(good.ok).toBe(true);
    const rd = verifySnpReport(v.report!, { ...opts(v), reportData: new Uint8Array(64) });
    expect(rd).toMatchObject({ ok: false, reason: { code: 'report-data-mismatch', field: 'report_data' } });
  });

  it('missing VCEK: collateral-missing; malformed sizes: malformed', () => {
    expect(verifySnpReport(v.report!, { now: v.verifyAt })).toMatchObject({
      ok: false,
      reason: { code: 'collateral-missing', field: 'vcek' },
    });
    expect(verifySnpReport(v.report!.subarray(0, 100), opts(v))).toMatchObject({
      ok: false,
      reason: { code: 'malformed', field: 'report' },
    });
    expect(
      verifySnpReport(new Uint8Array(0x4a0), { ...opts(v), vcek: new Uint8Array([1, 2, 3]) }),
    ).toMatchObject({
      ok: false,
      reason: { code: 'malformed' },
    });
  });

  it('misuse of reference values throws with the field', () => {
    expect(() =>
      verifySnpReport(v.report!, { ...opts(v), referenceValues: { TrustedMeasurement: 'zz' } }),
    ).toThrow(
      expect.objectContaining({ code: 'invalid-argument', field: 'referenceValues.TrustedMeasurement[0]' }),
    );
  });
});
