import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isContrastError } from '@contrast-cc/core';
import { describe, expect, it } from 'vitest';
import { DEBIAN_OVMF, readDebianOvmf } from '../testing/index.js';
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

// An independent implementation as the oracle: td_shim_tee_info_hash.py of
// confidential-containers/td-shim (Alibaba Cloud's Python port of td-shim-tee-info-hash; it reads
// OVMF's footer table too), commit 125eeab, run as `python3 td_shim_tee_info_hash.py -i
// /usr/share/ovmf/OVMF.fd -l off` on Debian's ovmf 2022.11-6+deb12u2, printed the value below
// (page by page, its default). When python3 and a snapshot of td-shim are on this machine
// (TD_SHIM_REPO = its git directory), the tool is also run live.
const TD_SHIM_MRTD =
  '4c7206f0f483c524f12c366c711e9049030a8d47c471ee5aa9c4999a08de4057fb887fed0744d5631a212967fb231c47';
const TD_SHIM_REPO = process.env.TD_SHIM_REPO ?? '/work/.mirror/confidential-containers+td-shim/repo';
const TD_SHIM_TOOL = 'td-shim-tools/src/bin/td-shim-tee-info-hash/td_shim_tee_info_hash.py';
const tdShimTool = (() => {
  if (!existsSync(TD_SHIM_REPO)) return undefined;
  const r = spawnSync('git', ['--git-dir', TD_SHIM_REPO, 'show', `HEAD:${TD_SHIM_TOOL}`]);
  return r.status === 0 && spawnSync('python3', ['--version']).status === 0 ? r.stdout : undefined;
})();
if (debian && !tdShimTool) {
  console.warn(`skipping the live td-shim MRTD oracle: no td-shim snapshot at ${TD_SHIM_REPO} or no python3`);
}

describe.skipIf(!debian)("TDX MRTD of Debian's OVMF vs td-shim's tee-info-hash tool", () => {
  it('equals the value the td-shim tool printed', () => {
    expect(hex(tdxMrtd(debian as Buffer))).toBe(TD_SHIM_MRTD);
  });

  it.skipIf(!tdShimTool)('equals a live run of the tool', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'td-shim-'));
    try {
      writeFileSync(path.join(dir, 'tool.py'), tdShimTool as Buffer);
      const out = execFileSync('python3', [path.join(dir, 'tool.py'), '-i', DEBIAN_OVMF.path, '-l', 'off'], {
        encoding: 'utf8',
      }).trim();
      expect(hex(tdxMrtd(debian as Buffer))).toBe(out);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
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

// An independently published value: virtee/tdx-measure (a Rust tool, tests/fixtures/
// canonical-defaults/expected.json and runtime-capture/expected.json at commit 1ebcd7f) gives
// MRTD 7357a10d…1114 for Ubuntu 25.04's `ovmf` 2025.02-3ubuntu2 /usr/share/ovmf/OVMF.fd (sha256
// 9e807cb2…46bf, pinned in its tests/fetch_ovmf.sh); its runtime-capture fixture comes from a live
// TD. That package is not a Debian one, so this machine does not have it: set CONTRAST_TDVF_UBUNTU
// to the extracted OVMF.fd (dpkg-deb -x ovmf_2025.02-3ubuntu2_all.deb) to run the check.
const UBUNTU_TDVF_SHA256 = '9e807cb2cd4313406a3aa4becc0836671a5c64ca7bdc08a45e15260184b446bf';
const ubuntuTdvf = (() => {
  const file = process.env.CONTRAST_TDVF_UBUNTU;
  if (!file || !existsSync(file)) return undefined;
  const data = readFileSync(file);
  return createHash('sha256').update(data).digest('hex') === UBUNTU_TDVF_SHA256 ? data : undefined;
})();
if (!ubuntuTdvf) {
  console.warn(
    "skipping the TDX MRTD check against virtee/tdx-measure's published value: set CONTRAST_TDVF_UBUNTU to Ubuntu's ovmf 2025.02-3ubuntu2 OVMF.fd",
  );
}
describe.skipIf(!ubuntuTdvf)(
  "TDX MRTD of Ubuntu's ovmf 2025.02-3ubuntu2 (virtee/tdx-measure's value)",
  () => {
    it('equals 7357a10d…1114 (page by page, as upstream KVM adds them)', () => {
      expect(hex(tdxMrtd(ubuntuTdvf as Buffer))).toBe(
        '7357a10d2e2724dffe68813e3cc4cfcde6814d749f2fb62e3953e54f6e0b50a219786afe2cd478f684b52c61837e1114',
      );
    });
  },
);
