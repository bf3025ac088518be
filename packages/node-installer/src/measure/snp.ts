// The SEV-SNP launch digest of a QEMU (or EC2/GCE) guest booted from OVMF, computed from the
// artifacts the way the AMD secure processor computes it from SNP_LAUNCH_UPDATE calls (SNP
// firmware ABI, PAGE_INFO): the firmware pages, the pages its SEV metadata declares (zero,
// secrets, CPUID, kernel hashes), then one VMSA per vCPU. Inputs are the ones sev-snp-measure
// takes; its results are the oracle of the tests.

import { createHash } from 'node:crypto';
import { ContrastError } from '@contrast-cc/core';
import {
  type FirmwareImage,
  guidBytes,
  parseFirmware,
  SEV_SECTION,
  sevEsResetEip,
  sevHashesTableGpa,
  sevMetadataSections,
} from './ovmf.js';

const PAGE = 4096;
const FOUR_GB = 0x1_0000_0000;

/** The VMMs whose initial vCPU state differs; QEMU is what Kata runs. @public */
export const SNP_VMM_TYPES = ['QEMU', 'ec2', 'gce'] as const;
/** @public */
export type SnpVmmType = (typeof SNP_VMM_TYPES)[number];

/** CPUID Fn0000_0001_EAX (family/model/stepping) as QEMU's CPU models report it. @public */
export function cpuSignature(family: number, model: number, stepping: number): number {
  const familyLow = Math.min(family, 0xf);
  const familyHigh = family > 0xf ? (family - 0xf) & 0xff : 0;
  return (
    ((familyHigh << 20) |
      (((model >> 4) & 0xf) << 16) |
      (familyLow << 8) |
      ((model & 0xf) << 4) |
      (stepping & 0xf)) >>>
    0
  );
}

const EPYC = cpuSignature(23, 1, 2);
const ROME = cpuSignature(23, 49, 0);
const MILAN = cpuSignature(25, 1, 1);
const GENOA = cpuSignature(25, 17, 0);

/** The vCPU signature of each QEMU CPU model name (QEMU's builtin x86 definitions). @public */
export const SNP_VCPU_TYPES: Readonly<Record<string, number>> = {
  EPYC: EPYC,
  'EPYC-v1': EPYC,
  'EPYC-v2': EPYC,
  'EPYC-IBPB': EPYC,
  'EPYC-v3': EPYC,
  'EPYC-v4': EPYC,
  'EPYC-Rome': ROME,
  'EPYC-Rome-v1': ROME,
  'EPYC-Rome-v2': ROME,
  'EPYC-Rome-v3': ROME,
  'EPYC-Milan': MILAN,
  'EPYC-Milan-v1': MILAN,
  'EPYC-Milan-v2': MILAN,
  'EPYC-Genoa': GENOA,
  'EPYC-Genoa-v1': GENOA,
  'EPYC-Turin': cpuSignature(26, 0, 0),
};

/** Inputs of {@link snpLaunchDigest}. @public */
export interface SnpMeasureInput {
  /** The OVMF image (the whole file QEMU maps below 4 GiB). */
  firmware: Uint8Array;
  vcpus: number;
  /** A QEMU CPU model name from {@link SNP_VCPU_TYPES}, or give `vcpuSignature`. */
  vcpuType?: string;
  vcpuSignature?: number;
  /** Default `QEMU`. */
  vmmType?: SnpVmmType;
  /** SEV features of the VMSAs (guest features); default `0x1` (SNP active). */
  guestFeatures?: bigint | number;
  /** Measured direct boot: with a kernel the hashes table enters the digest. */
  kernel?: Uint8Array;
  initrd?: Uint8Array;
  append?: string;
  /** Names the firmware in errors (a path). */
  firmwareName?: string;
}

function sha384(data: Uint8Array): Buffer {
  return createHash('sha384').update(data).digest();
}
function sha256(data: Uint8Array): Buffer {
  return createHash('sha256').update(data).digest();
}

const ZEROS48 = new Uint8Array(48);

/** The launch digest as the SNP firmware extends it: sha384 over PAGE_INFO per page. */
class LaunchDigest {
  private ld: Uint8Array = ZEROS48;
  get value(): Uint8Array {
    return this.ld;
  }
  private update(pageType: number, gpa: number, contents: Uint8Array): void {
    const info = Buffer.alloc(0x70);
    info.set(this.ld, 0);
    info.set(contents, 48);
    info.writeUInt16LE(0x70, 96);
    info.writeUInt8(pageType, 98);
    // is_imi, vmpl3/2/1 permissions and a reserved byte stay zero.
    info.writeBigUInt64LE(BigInt(gpa), 104);
    this.ld = sha384(info);
  }
  normal(gpa: number, data: Uint8Array): void {
    for (let off = 0; off < data.length; off += PAGE)
      this.update(0x01, gpa + off, sha384(data.subarray(off, off + PAGE)));
  }
  vmsa(page: Uint8Array): void {
    // The VMSA is recorded at GPA (u64)-1, page-aligned, bits above 51 cleared.
    this.update(0x02, 0xffff_ffff_f000, sha384(page));
  }
  zero(gpa: number, size: number): void {
    for (let off = 0; off < size; off += PAGE) this.update(0x03, gpa + off, ZEROS48);
  }
  unmeasured(gpa: number, size: number): void {
    for (let off = 0; off < size; off += PAGE) this.update(0x04, gpa + off, ZEROS48);
  }
  secrets(gpa: number): void {
    this.update(0x05, gpa, ZEROS48);
  }
  cpuid(gpa: number): void {
    this.update(0x06, gpa, ZEROS48);
  }
}

const HASH_TABLE_GUID = '9438d606-4f22-4cc9-b479-a793d411fd21';
const KERNEL_ENTRY_GUID = '4de79437-abd2-427f-b835-d5b172d2045b';
const INITRD_ENTRY_GUID = '44baf731-3a2f-4bd7-9af1-41e29169781d';
const CMDLINE_ENTRY_GUID = '97d02dd8-bd20-4c94-aa78-e7714d36ab2a';

/**
 * QEMU's SEV hashes table for measured direct boot: header GUID, u16 length, then entries
 * (GUID, u16 length, sha256) for cmdline (NUL-terminated), initrd (empty when none) and kernel;
 * padded to 16 bytes.
 * @public
 */
export function sevHashesTable(
  kernel: Uint8Array,
  initrd: Uint8Array | undefined,
  append: string | undefined,
): Uint8Array {
  const entry = (guid: string, hash: Uint8Array) => {
    const e = Buffer.alloc(50);
    e.set(guidBytes(guid), 0);
    e.writeUInt16LE(50, 16);
    e.set(hash, 18);
    return e;
  };
  const cmdline = Buffer.concat([Buffer.from(append ?? '', 'utf8'), Buffer.from([0])]);
  const body = Buffer.concat([
    entry(CMDLINE_ENTRY_GUID, sha256(cmdline)),
    entry(INITRD_ENTRY_GUID, sha256(initrd ?? new Uint8Array(0))),
    entry(KERNEL_ENTRY_GUID, sha256(kernel)),
  ]);
  const length = 18 + body.length;
  const table = Buffer.alloc((length + 15) & ~15);
  table.set(guidBytes(HASH_TABLE_GUID), 0);
  table.writeUInt16LE(length, 16);
  table.set(body, 18);
  return table;
}

// Offsets in the VMSA (SEV-ES save area, AMD APM vol. 2 table B-4).
const SEG = {
  es: 0x00,
  cs: 0x10,
  ss: 0x20,
  ds: 0x30,
  fs: 0x40,
  gs: 0x50,
  gdtr: 0x60,
  ldtr: 0x70,
  idtr: 0x80,
  tr: 0x90,
};
const OFF = {
  efer: 0xd0,
  cr4: 0x148,
  cr0: 0x158,
  dr7: 0x160,
  dr6: 0x168,
  rflags: 0x170,
  rip: 0x178,
  gPat: 0x268,
  rdx: 0x310,
  sevFeatures: 0x3b0,
  xcr0: 0x3e8,
  mxcsr: 0x408,
  x87Fcw: 0x410,
};

const BSP_EIP = 0xffff_fff0;

/** The initial VMSA of one vCPU starting at `eip` (reset state as KVM/QEMU set it up). */
function vmsaPage(eip: number, sevFeatures: bigint, vcpuSig: number, vmm: SnpVmmType): Uint8Array {
  let csFlags = 0x9b;
  let ssFlags = 0x93;
  let trFlags = 0x8b;
  let gPat = 0x7040600070406n;
  let rdx = vcpuSig;
  let mxcsr = 0x1f80;
  let fcw = 0x37f;
  if (vmm === 'ec2') {
    if (eip === BSP_EIP) csFlags = 0x9a;
    ssFlags = 0x92;
    trFlags = 0x83;
    rdx = 0x600;
    mxcsr = 0;
    fcw = 0;
  } else if (vmm === 'gce') {
    gPat = 0x00070106n;
    rdx = 0x600;
    mxcsr = 0;
    fcw = 0;
  }
  const p = Buffer.alloc(PAGE);
  const seg = (off: number, selector: number, attrib: number, limit: number, base: number) => {
    p.writeUInt16LE(selector, off);
    p.writeUInt16LE(attrib, off + 2);
    p.writeUInt32LE(limit, off + 4);
    p.writeBigUInt64LE(BigInt(base), off + 8);
  };
  seg(SEG.es, 0, 0x93, 0xffff, 0);
  seg(SEG.cs, 0xf000, csFlags, 0xffff, (eip & 0xffff0000) >>> 0);
  seg(SEG.ss, 0, ssFlags, 0xffff, 0);
  seg(SEG.ds, 0, 0x93, 0xffff, 0);
  seg(SEG.fs, 0, 0x93, 0xffff, 0);
  seg(SEG.gs, 0, 0x93, 0xffff, 0);
  seg(SEG.gdtr, 0, 0, 0xffff, 0);
  seg(SEG.idtr, 0, 0, 0xffff, 0);
  seg(SEG.ldtr, 0, 0x82, 0xffff, 0);
  seg(SEG.tr, 0, trFlags, 0xffff, 0);
  p.writeBigUInt64LE(0x1000n, OFF.efer); // KVM sets EFER.SVME
  p.writeBigUInt64LE(0x40n, OFF.cr4); // KVM sets CR4.MCE
  p.writeBigUInt64LE(0x10n, OFF.cr0);
  p.writeBigUInt64LE(0x400n, OFF.dr7);
  p.writeBigUInt64LE(0xffff0ff0n, OFF.dr6);
  p.writeBigUInt64LE(0x2n, OFF.rflags);
  p.writeBigUInt64LE(BigInt(eip & 0xffff), OFF.rip);
  p.writeBigUInt64LE(gPat, OFF.gPat);
  p.writeBigUInt64LE(BigInt(rdx >>> 0), OFF.rdx);
  p.writeBigUInt64LE(sevFeatures, OFF.sevFeatures);
  p.writeBigUInt64LE(0x1n, OFF.xcr0);
  p.writeUInt32LE(mxcsr, OFF.mxcsr);
  p.writeUInt16LE(fcw, OFF.x87Fcw);
  return p;
}

function invalid(field: string, message: string): ContrastError {
  return new ContrastError('invalid-argument', message, { field });
}

/** The vCPU signature of the input (`vcpuSignature`, else the `vcpuType` lookup). */
function vcpuSignatureOf(input: SnpMeasureInput, vmm: SnpVmmType): number {
  if (input.vcpuSignature !== undefined) {
    if (
      !Number.isInteger(input.vcpuSignature) ||
      input.vcpuSignature < 0 ||
      input.vcpuSignature > 0xffff_ffff
    ) {
      throw invalid('vcpuSignature', `vCPU signature ${input.vcpuSignature} is not a 32-bit value`);
    }
    return input.vcpuSignature;
  }
  if (input.vcpuType !== undefined) {
    const sig = SNP_VCPU_TYPES[input.vcpuType];
    if (sig === undefined) {
      throw invalid(
        'vcpuType',
        `unknown vCPU type "${input.vcpuType}" (known: ${Object.keys(SNP_VCPU_TYPES).join(', ')})`,
      );
    }
    return sig;
  }
  // EC2 and GCE put a fixed value in RDX; QEMU puts the CPU model's signature there.
  if (vmm === 'QEMU') throw invalid('vcpuType', 'a QEMU guest needs the vCPU type (or signature)');
  return 0;
}

/**
 * The SEV-SNP launch digest (48 bytes) of a guest: what the hardware reports as MEASUREMENT.
 * Throws `invalid-argument` naming the input when the firmware lacks what the input needs (no
 * SEV metadata, no kernel-hashes section for a kernel, no AP reset vector).
 * @public
 */
export function snpLaunchDigest(input: SnpMeasureInput): Uint8Array {
  const vmm = input.vmmType ?? 'QEMU';
  if (!SNP_VMM_TYPES.includes(vmm)) {
    throw invalid('vmmType', `unknown VMM type "${vmm}" (known: ${SNP_VMM_TYPES.join(', ')})`);
  }
  if (!Number.isInteger(input.vcpus) || input.vcpus < 1 || input.vcpus > 512) {
    throw invalid('vcpus', `vCPU count ${input.vcpus} is not an integer from 1 to 512`);
  }
  if (input.kernel === undefined && (input.initrd !== undefined || input.append !== undefined)) {
    throw invalid('kernel', 'an initrd or kernel command line is only measured with a kernel');
  }
  const features = BigInt(input.guestFeatures ?? 1);
  if (features < 0n || features > 0xffff_ffff_ffff_ffffn)
    throw invalid('guestFeatures', 'guest features are a 64-bit value');
  const vcpuSig = vcpuSignatureOf(input, vmm);
  const what = input.firmwareName ?? 'firmware';
  const fw: FirmwareImage = parseFirmware(input.firmware, what);
  const sections = sevMetadataSections(fw, what);
  if (sections.length === 0) {
    throw invalid(
      'firmware',
      `${what}: the firmware has no SEV metadata (not an SEV-SNP capable OVMF build)`,
    );
  }
  if (input.firmware.length % PAGE !== 0 || input.firmware.length > FOUR_GB) {
    throw invalid('firmware', `${what}: the firmware size is not a multiple of 4 KiB`);
  }
  const hashes = input.kernel ? sevHashesTable(input.kernel, input.initrd, input.append) : undefined;
  if (hashes && !sections.some((s) => s.type === SEV_SECTION.snpKernelHashes)) {
    throw invalid(
      'kernel',
      `${what}: a kernel is given but the firmware's SEV metadata has no SNP_KERNEL_HASHES section (use an AmdSev OVMF build for measured direct boot)`,
    );
  }
  const resetEip = sevEsResetEip(fw, what);

  const ld = new LaunchDigest();
  ld.normal(FOUR_GB - input.firmware.length, input.firmware);
  for (const s of sections) {
    if (s.size % PAGE !== 0)
      throw invalid('firmware', `${what}: SEV metadata section at ${s.gpa} is not page-sized`);
    switch (s.type) {
      case SEV_SECTION.snpSecMem:
        if (vmm === 'gce') ld.unmeasured(s.gpa, s.size);
        else ld.zero(s.gpa, s.size);
        break;
      case SEV_SECTION.snpSecrets:
        ld.secrets(s.gpa);
        break;
      case SEV_SECTION.cpuid:
        // EC2 measures the CPUID page after every other section.
        if (vmm !== 'ec2') ld.cpuid(s.gpa);
        break;
      case SEV_SECTION.snpKernelHashes:
        if (hashes) {
          const offset = sevHashesTableGpa(fw, what) & 0xfff;
          if (s.size !== PAGE || offset + hashes.length > PAGE) {
            throw invalid('firmware', `${what}: the kernel hashes section is not one page holding the table`);
          }
          const page = Buffer.alloc(PAGE);
          page.set(hashes, offset);
          ld.normal(s.gpa, page);
        } else {
          ld.zero(s.gpa, s.size);
        }
        break;
      case SEV_SECTION.svsmCaa:
        ld.zero(s.gpa, s.size);
        break;
      default:
        throw invalid('firmware', `${what}: unknown SEV metadata section type ${s.type}`);
    }
  }
  if (vmm === 'ec2') for (const s of sections) if (s.type === SEV_SECTION.cpuid) ld.cpuid(s.gpa);

  const bsp = vmsaPage(BSP_EIP, features, vcpuSig, vmm);
  const ap = input.vcpus > 1 ? vmsaPage(resetEip, features, vcpuSig, vmm) : bsp;
  for (let i = 0; i < input.vcpus; i++) ld.vmsa(i === 0 ? bsp : ap);
  return ld.value;
}

/** The firmware's own launch digest (its pages only): sev-snp-measure's `snp:ovmf-hash`. @public */
export function snpFirmwareDigest(firmware: Uint8Array): Uint8Array {
  if (firmware.length % PAGE !== 0) throw invalid('firmware', 'the firmware size is not a multiple of 4 KiB');
  const ld = new LaunchDigest();
  ld.normal(FOUR_GB - firmware.length, firmware);
  return ld.value;
}
