import { isContrastError, toHex } from '@contrast-cc/core';
import { describe, expect, it } from 'vitest';
import { hasSnpVectors, snpVectors } from '../testing/snp-vectors.js';
import { decodeTcb, encodeTcb, parseSnpReport, SNP_REPORT_SIZE } from './report.js';

const withReports = snpVectors().filter((v) => v.report);

describe.skipIf(!hasSnpVectors)('parseSnpReport on the real vectors', () => {
  it('finds the vectors', () => {
    expect(withReports.length).toBeGreaterThanOrEqual(10);
  });

  it.each(withReports.map((v) => [v.name, v] as const))('%s: every field equals expected.json', (_, v) => {
    const e = v.expected.report;
    const r = parseSnpReport(v.report!);
    expect(r.version).toBe(e.version);
    expect(r.guestSvn).toBe(e.guest_svn);
    expect(`0x${r.policy.toString(16)}`).toBe(e.policy);
    expect(toHex(r.familyId)).toBe(e.family_id);
    expect(toHex(r.imageId)).toBe(e.image_id);
    expect(r.vmpl).toBe(e.vmpl);
    expect(r.signatureAlgo).toBe(e.sig_algo);
    expect(`0x${r.platformInfo.toString(16)}`).toBe(e.platform_info);
    expect(`0x${r.keyInfo.toString(16)}`).toBe(e.key_info);
    expect(r.signingKeyId).toBe(e.signing_key);
    expect(r.signingKey).toBe(e.signing_key === 0 ? 'vcek' : 'vlek');
    expect(toHex(r.reportData)).toBe(e.report_data);
    expect(toHex(r.measurement)).toBe(e.measurement);
    expect(toHex(r.hostData)).toBe(e.host_data);
    expect(toHex(r.idKeyDigest)).toBe(e.id_key_digest);
    expect(toHex(r.authorKeyDigest)).toBe(e.author_key_digest);
    expect(toHex(r.reportId)).toBe(e.report_id);
    expect(toHex(r.reportIdMa)).toBe(e.report_id_ma);
    expect(toHex(r.chipId)).toBe(e.chip_id);
    expect(r.currentFirmware).toBe(e.current_fw);
    expect(r.committedFirmware).toBe(e.committed_fw);
    if (e.cpuid) expect(r.cpuid).toEqual({ family: e.cpuid.fam, model: e.cpuid.mod, stepping: e.cpuid.step });
    else expect(r.cpuid).toBeUndefined();
    expect(r.currentTcb.raw).toBe(e.current_tcb);
    expect(r.reportedTcb.raw).toBe(e.reported_tcb);
    expect(r.committedTcb.raw).toBe(e.committed_tcb);
    expect(r.launchTcb.raw).toBe(e.launch_tcb);
    expect(r.signatureWellFormed).toBe(true);
    // The VCEK's SPL extensions equal REPORTED_TCB in the product's layout.
    const x = v.expected.leaf_cert_extensions;
    const product = x.productName.split('-')[0];
    const tcb = decodeTcb(r.reportedTcbRaw, product);
    expect({ bl: tcb.bootloader, tee: tcb.tee, snp: tcb.snp, ucode: tcb.microcode }).toEqual({
      bl: x.blSPL,
      tee: x.teeSPL,
      snp: x.snpSPL,
      ucode: x.ucodeSPL,
    });
    if (product === 'Turin') expect(tcb.fmc).toBe(x.fmcSPL);
    if (r.version >= 3 && r.product) expect(r.product).toBe(product);
    if (r.version >= 5) {
      expect(r.launchMitVector).toBeTypeOf('bigint');
      expect(r.currentMitVector).toBeTypeOf('bigint');
    } else {
      expect(r.launchMitVector).toBeUndefined();
    }
  });

  it('decodes the Turin TCB layout (fmc0 bl1 tee0 snp2 ucode71)', () => {
    const turin = withReports.find((v) => v.name === 'oak-turin-v5-vcek');
    const r = parseSnpReport(turin!.report!);
    expect(r.product).toBe('Turin');
    expect(r.reportedTcb).toEqual({
      raw: '0x4700000002000100',
      fmc: 0,
      bootloader: 1,
      tee: 0,
      snp: 2,
      microcode: 71,
    });
  });
});

describe('parseSnpReport input errors', () => {
  const valid = () => {
    const b = new Uint8Array(SNP_REPORT_SIZE);
    b[0] = 3;
    return b;
  };
  const err = (bytes: Uint8Array) => {
    try {
      parseSnpReport(bytes);
    } catch (e) {
      return e;
    }
    throw new Error('expected a throw');
  };
  it('refuses truncated and oversized input naming the field', () => {
    for (const b of [new Uint8Array(0), valid().subarray(0, 100), new Uint8Array(SNP_REPORT_SIZE + 1)]) {
      const e = err(b);
      expect(isContrastError(e) && e.code === 'invalid-argument' && e.field === 'report').toBe(true);
    }
  });
  it('refuses unknown versions and bad VMPLs', () => {
    const b = valid();
    b[0] = 1;
    expect(err(b)).toMatchObject({ code: 'invalid-argument', field: 'version' });
    const c = valid();
    c[0x30] = 4;
    expect(err(c)).toMatchObject({ code: 'invalid-argument', field: 'vmpl' });
  });
  it('round-trips TCB encodings for both layouts', () => {
    const parts = { bootloader: 3, tee: 1, snp: 24, microcode: 219, fmc: 5 };
    const milan = decodeTcb(encodeTcb(parts, 'Milan'), 'Milan');
    expect(milan).toMatchObject({ bootloader: 3, tee: 1, snp: 24, microcode: 219 });
    expect(decodeTcb(encodeTcb(parts, 'Turin'), 'Turin')).toMatchObject(parts);
  });
});
