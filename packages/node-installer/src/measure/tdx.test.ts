import { isContrastError } from '@contrast-cc/core';
import { describe, expect, it } from 'vitest';
import { readDebianOvmf } from '../testing/index.js';
import { tdvfSections, tdxMrtd } from './tdx.js';

// Debian 12's `ovmf` 2022.11-6+deb12u2 is an OvmfPkgX64 build, which edk2 also builds as a TDVF
// ("Config-A", OvmfPkg/IntelTdx/README.md): it carries TDX metadata.
const debian = readDebianOvmf("TDX MRTD on Debian's OVMF");

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe.skipIf(!debian)("TDX MRTD of Debian's OVMF", () => {
  const fw = debian as Buffer;

  it('reads the TDVF sections (BFV measured, CFV, TD HOB and temporary memory only added)', () => {
    const s = tdvfSections(fw);
    expect(s.map((x) => [x.type, x.attributes])).toEqual([
      [0, 1],
      [1, 0],
      [3, 0],
      [3, 0],
      [2, 0],
      [3, 0],
    ]);
    // The BFV is the firmware code mapped right below 4 GiB.
    expect(s[0]?.memoryAddress).toBe(0x1_0000_0000n - BigInt(s[0]?.memoryDataSize ?? 0n));
  });

  it('changes with a byte of the measured BFV, not with one of the unmeasured CFV (variables)', () => {
    const base = hex(tdxMrtd(fw));
    const [bfv, cfv] = tdvfSections(fw);
    const code = Buffer.from(fw);
    code[(bfv?.dataOffset ?? 0) + 0x2000] = (code[(bfv?.dataOffset ?? 0) + 0x2000] as number) ^ 1;
    expect(hex(tdxMrtd(code))).not.toBe(base);
    const vars = Buffer.from(fw);
    vars[(cfv?.dataOffset ?? 0) + 0x100] = (vars[(cfv?.dataOffset ?? 0) + 0x100] as number) ^ 1;
    expect(hex(tdxMrtd(vars))).toBe(base);
    expect(hex(tdxMrtd(fw, { order: 'two-pass' }))).not.toBe(base);
  });
});

describe('TDX MRTD inputs', () => {
  it('refuses a firmware without TDX metadata, naming the firmware', () => {
    try {
      tdxMrtd(new Uint8Array(8192), { firmwareName: 'plain.fd' });
      expect.unreachable();
    } catch (error) {
      expect(isContrastError(error) && error.field).toBe('firmware');
      expect(String(error)).toContain('plain.fd: the firmware has no TDX metadata');
    }
  });
});
