// The SEV-SNP launch digest against sev-snp-measure (github.com/virtee/sev-snp-measure), the
// tool AMD's and the CoCo community's docs point at, used here as an oracle.
//
// How the expected values below were obtained (2026-12-06): sev-snp-measure v0.0.13 (commit
// 8f2b337, "Allow zero as value for vcpu sig & family"), run as
//   python3 sev-snp-measure.py --mode snp --vcpus N [--vcpu-type T] --vmm-type V \
//     --guest-features F --ovmf <firmware> [--kernel K] [--initrd I] [--append A]
// with Debian 12's python3-cryptography, on
//   - Debian 12's `ovmf` package 2022.11-6+deb12u2, /usr/share/ovmf/OVMF.fd (OvmfPkgX64 build:
//     SNP metadata but no kernel-hashes section; sha256 below), and
//   - sev-snp-measure's own fixture tests/fixtures/ovmf_AmdSev_suffix.bin (the last 4 KiB of an
//     edk2-stable202405 AmdSevX64 build: it has the kernel-hashes section),
// with the synthetic kernel/initrd made by `testKernel()` / `testInitrd()` below. Values marked
// "upstream" are the ones sev-snp-measure's own tests/test_guest.py asserts.
// Besides the committed values, when python3 and a snapshot of sev-snp-measure are on this
// machine (SEV_SNP_MEASURE_REPO = its git directory), the oracle is run live on fresh random
// kernels; otherwise that part is skipped with a notice.

import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isContrastError } from '@contrast-cc/core';
import { afterAll, describe, expect, it } from 'vitest';
import { readDebianOvmf } from '../testing/index.js';
import { type SnpMeasureInput, sevHashesTable, snpFirmwareDigest, snpLaunchDigest } from './snp.js';

const ORACLE_REPO = process.env.SEV_SNP_MEASURE_REPO ?? '/work/.mirror/virtee+sev-snp-measure/repo';
const AMDSEV_FIXTURE = 'tests/fixtures/ovmf_AmdSev_suffix.bin';

function testKernel(): Buffer {
  const k = Buffer.alloc(70001);
  for (let i = 0; i < k.length; i++) k[i] = i % 251;
  return k;
}
function testInitrd(): Buffer {
  return Buffer.from('initrd-contrast-test\n'.repeat(1000));
}

function readFixture(name: string): Buffer | undefined {
  if (!existsSync(ORACLE_REPO)) return undefined;
  const r = spawnSync('git', ['--git-dir', ORACLE_REPO, 'show', `HEAD:${name}`], { maxBuffer: 1 << 24 });
  return r.status === 0 ? r.stdout : undefined;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

const debianOvmf = readDebianOvmf("SNP digests on Debian's OVMF");
const amdSev = readFixture(AMDSEV_FIXTURE);
if (!amdSev) {
  console.warn(
    `skipping SNP digests on sev-snp-measure's fixtures: no snapshot at ${ORACLE_REPO} (fetch github:virtee/sev-snp-measure, or set SEV_SNP_MEASURE_REPO to its git directory)`,
  );
}

type Case = Omit<SnpMeasureInput, 'firmware' | 'kernel' | 'initrd'> & {
  kernel?: boolean;
  initrd?: boolean;
  expected: string;
};

const DEBIAN_CASES: Case[] = [
  {
    vcpus: 1,
    vcpuType: 'EPYC-v4',
    expected:
      '11570979c77a0adb515761a702527c8b9e11554e730552621d950988613a3a75c6ff1703f540bd22a9beede8fe7a97e3',
  },
  {
    vcpus: 2,
    vcpuType: 'EPYC-Milan',
    expected:
      'a175292a4a09fcfb760c5bd80c93ed667dbaafce6247d0f21fc06638658b3ebf2804d3019e2abed05cb6a9efe0a7464e',
  },
  {
    vcpus: 64,
    vcpuType: 'EPYC-Genoa',
    expected:
      '116782ea268c53bb35d0aaa22ac8a9dcb6b554455ef409b4ff7a86f96aca2bb919e91c4421a6ceab27fa0de1296e242e',
  },
  {
    vcpus: 64,
    vcpuType: 'EPYC-v4',
    guestFeatures: 0x21,
    expected:
      '07ce08066ff488cdeb60071671d90f001133641cbbc2394ea67a8668fe0b16facaf3ca46ee5abd1d73eb69a506900775',
  },
  {
    vcpus: 2,
    vcpuType: 'EPYC-v4',
    vmmType: 'ec2',
    expected:
      '7f6fef705ba886215518820a96b21feaa2f874814889d8b5a776b1abf0058c913ca457043ab5a3092f35847c3078c93c',
  },
  {
    vcpus: 4,
    vmmType: 'gce',
    expected:
      'dc9e0c41c8b0ca2000043e749d6fd77737d0ef146b3c9eaaaf693f50dd5ce57fbcb379cb4af9918c94d265a7e0bd8317',
  },
];

const AMDSEV_CASES: Case[] = [
  {
    vcpus: 1,
    vcpuType: 'EPYC-v4',
    kernel: true,
    initrd: true,
    append: 'console=ttyS0 panic=-1 selinux=0',
    expected:
      '62be33b3df452793a0406b53fd45078578c23f942583fec00d01707d44232db8faa08c6bfda4a3a2e9e19f95d71c0d6a',
  },
  {
    vcpus: 2,
    vcpuType: 'EPYC-Milan',
    kernel: true,
    expected:
      '8aab24e537b03dc6fc56c8295d55aaf7f3174309e0fa74a9d713ba81da0bbc7b527aa2de017c425d22ae457564831fa1',
  },
  {
    vcpus: 2,
    vcpuType: 'EPYC-Milan',
    kernel: true,
    initrd: true,
    append: 'console=ttyS0',
    expected:
      '02e62f7b2bf2d769f2eca6c3d8cb67771ee84f28d6d084f1e8ee9c120660caf71890f9cbb3cc6855195d762594e6034d',
  },
  {
    vcpus: 64,
    vcpuType: 'EPYC-Genoa',
    guestFeatures: 0x21,
    kernel: true,
    initrd: true,
    append: 'x',
    expected:
      '3d20e99cac105329ebeafc3b3fcd8333ac8e84e782671023b9448a97e36607cefcdf98f98b510577e5f0662da6fe7d9d',
  },
  {
    vcpus: 1,
    vcpuType: 'EPYC-v4',
    expected:
      '19358ba9a7615534a9a1e2f0dfc29384dcd4dcb7062ff9c6013b26869a5fc6ecabe033c48dd6f6db5d6d76e7c5df632d',
  },
];

function digestOf(firmware: Uint8Array, c: Case): string {
  const { expected: _e, kernel, initrd, ...rest } = c;
  return hex(
    snpLaunchDigest({
      ...rest,
      firmware,
      ...(kernel ? { kernel: testKernel() } : {}),
      ...(initrd ? { initrd: testInitrd() } : {}),
    }),
  );
}

const label = (c: Case) =>
  `${c.vcpus} vCPU ${c.vcpuType ?? '-'} ${c.vmmType ?? 'QEMU'} features ${c.guestFeatures ?? 1}${c.kernel ? ` kernel${c.initrd ? '+initrd' : ''}${c.append !== undefined ? '+cmdline' : ''}` : ''}`;

describe.skipIf(!debianOvmf)("SNP launch digest on Debian's OVMF (sev-snp-measure's values)", () => {
  it.each(DEBIAN_CASES.map((c) => [label(c), c] as const))('%s', (_name, c) => {
    expect(digestOf(debianOvmf as Buffer, c)).toBe(c.expected);
  });

  it('changes with one flipped firmware byte, the vCPU count, type and features', () => {
    const base = DEBIAN_CASES[0] as Case;
    const fw = Buffer.from(debianOvmf as Buffer);
    fw[0x1000] = (fw[0x1000] as number) ^ 1;
    expect(digestOf(fw, base)).not.toBe(base.expected);
    expect(digestOf(debianOvmf as Buffer, { ...base, vcpus: 2 })).not.toBe(base.expected);
    expect(digestOf(debianOvmf as Buffer, { ...base, vcpuType: 'EPYC-Milan' })).not.toBe(base.expected);
    expect(digestOf(debianOvmf as Buffer, { ...base, guestFeatures: 3 })).not.toBe(base.expected);
  });

  it('refuses a kernel for a firmware without the kernel-hashes section, naming the field', () => {
    const run = () => digestOf(debianOvmf as Buffer, { ...(DEBIAN_CASES[0] as Case), kernel: true });
    expect(run).toThrow(/SNP_KERNEL_HASHES/);
    try {
      run();
    } catch (error) {
      expect(isContrastError(error) && error.field).toBe('kernel');
    }
  });
});

describe.skipIf(!amdSev)("SNP launch digest on sev-snp-measure's AmdSev fixture", () => {
  it.each(AMDSEV_CASES.map((c) => [label(c), c] as const))('%s', (_name, c) => {
    expect(digestOf(amdSev as Buffer, c)).toBe(c.expected);
  });

  it("matches the values sev-snp-measure's own tests assert (upstream)", () => {
    const fw = amdSev as Buffer;
    const empty = new Uint8Array(0);
    const ec2 = (guestFeatures: number) =>
      hex(
        snpLaunchDigest({
          firmware: fw,
          vcpus: 1,
          vcpuType: 'EPYC-v4',
          vmmType: 'ec2',
          guestFeatures,
          kernel: empty,
          initrd: empty,
          append: '',
        }),
      );
    // test_snp_ec2_feature_snp_only, test_snp_ec2_default
    expect(ec2(0x1)).toBe(
      '0883bd0eeb716e65b7b977a321c278d1e51b33b5c655fab985443bbcc65c086b9c15e8a0bd8811050dec7e24964e5056',
    );
    expect(ec2(0x21)).toBe(
      '0ce9ccc06bab55eebe8abc234f3df6514883977a68a591b71052498ab52b2f1aa415db338033946ef93aa8278c0d67fb',
    );
    // test_snp_gce_default
    expect(
      hex(
        snpLaunchDigest({ firmware: fw, vcpus: 1, vmmType: 'gce', kernel: empty, initrd: empty, append: '' }),
      ),
    ).toBe(
      '5da7106cf14cf46b1725ebab123eb9e53bd46a1e9f400cd0c08e7827b04b688ea8b4e403c8404efed4397ea5d5d0722e',
    );
    // test_snp_ovmf_hash_full_default (snp:ovmf-hash)
    expect(hex(snpFirmwareDigest(fw))).toBe(
      '086e2e9149ebf45abdc3445fba5b2da8270bdbb04094d7a2c37faaa4b24af3aa16aff8c374c2a55c467a50da6d466b74',
    );
  });

  it('changes with one flipped kernel, initrd or cmdline byte', () => {
    const c = AMDSEV_CASES[0] as Case;
    const fw = amdSev as Buffer;
    const kernel = testKernel();
    kernel[100] = (kernel[100] as number) ^ 1;
    const d = (over: Partial<SnpMeasureInput>) =>
      hex(
        snpLaunchDigest({
          firmware: fw,
          vcpus: 1,
          vcpuType: 'EPYC-v4',
          kernel: testKernel(),
          initrd: testInitrd(),
          append: c.append,
          ...over,
        }),
      );
    expect(d({})).toBe(c.expected);
    expect(d({ kernel })).not.toBe(c.expected);
    expect(d({ initrd: Buffer.concat([testInitrd(), Buffer.from('x')]) })).not.toBe(c.expected);
    expect(d({ append: `${c.append} ` })).not.toBe(c.expected);
  });
});

describe('SNP measurement inputs', () => {
  it('builds the hashes table as QEMU does (168 bytes of entries, padded to 176)', () => {
    const t = sevHashesTable(new Uint8Array(0), undefined, undefined);
    expect(t.length).toBe(176);
    expect(Buffer.from(t).readUInt16LE(16)).toBe(168);
    // cmdline entry: sha256 of a lone NUL.
    expect(hex(t.subarray(18 + 18, 18 + 50))).toBe(
      createHash('sha256')
        .update(Buffer.from([0]))
        .digest('hex'),
    );
  });

  it('refuses unknown vCPU types, bad counts, firmware without SEV metadata and a cmdline without kernel', () => {
    const fw = new Uint8Array(8192);
    const codeOf = (f: () => unknown) => {
      try {
        f();
      } catch (error) {
        return isContrastError(error) ? `${error.code}:${error.field}` : String(error);
      }
      return 'no error';
    };
    expect(codeOf(() => snpLaunchDigest({ firmware: fw, vcpus: 1, vcpuType: 'EPYC-v9' }))).toBe(
      'invalid-argument:vcpuType',
    );
    expect(codeOf(() => snpLaunchDigest({ firmware: fw, vcpus: 0, vcpuType: 'EPYC' }))).toBe(
      'invalid-argument:vcpus',
    );
    expect(codeOf(() => snpLaunchDigest({ firmware: fw, vcpus: 1, vcpuType: 'EPYC' }))).toBe(
      'invalid-argument:firmware',
    );
    expect(codeOf(() => snpLaunchDigest({ firmware: fw, vcpus: 1, vcpuType: 'EPYC', append: 'x' }))).toBe(
      'invalid-argument:kernel',
    );
    expect(codeOf(() => snpLaunchDigest({ firmware: fw, vcpus: 1 }))).toBe('invalid-argument:vcpuType');
  });
});

// The oracle itself, on inputs nobody could have precomputed: fresh random kernel, initrd and
// command line, a random vCPU count.
const python = spawnSync('python3', ['-c', 'import cryptography'], { stdio: 'ignore' }).status === 0;
if (amdSev && !python)
  console.warn('skipping the live sev-snp-measure oracle: python3 with cryptography not found');
describe.skipIf(!amdSev || !python)('SNP launch digest vs. a live run of sev-snp-measure', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'snp-oracle-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('agrees on random kernel, initrd, cmdline and vCPU count', () => {
    execFileSync('sh', ['-c', `git --git-dir "${ORACLE_REPO}" archive HEAD | tar -x -C "${dir}"`]);
    const kernel = randomBytes(5000 + (randomBytes(2).readUInt16LE(0) % 9000));
    const initrd = randomBytes(3000);
    const append = `console=ttyS0 contrast.test=${randomBytes(6).toString('hex')}`;
    const vcpus = 1 + ((randomBytes(1)[0] as number) % 80);
    writeFileSync(path.join(dir, 'k'), kernel);
    writeFileSync(path.join(dir, 'i'), initrd);
    const out = execFileSync(
      'python3',
      [
        'sev-snp-measure.py',
        '--mode',
        'snp',
        '--vcpus',
        String(vcpus),
        '--vcpu-type',
        'EPYC-Genoa',
        '--ovmf',
        AMDSEV_FIXTURE,
        '--kernel',
        'k',
        '--initrd',
        'i',
        '--append',
        append,
      ],
      { cwd: dir, encoding: 'utf8' },
    ).trim();
    const ours = hex(
      snpLaunchDigest({ firmware: amdSev as Buffer, vcpus, vcpuType: 'EPYC-Genoa', kernel, initrd, append }),
    );
    expect(ours).toBe(out);
  });
});
