// SEV-SNP ATTESTATION_REPORT parsing (AMD SEV-SNP ABI specification, "ATTESTATION_REPORT
// Structure"). The report is 0x4A0 bytes, little-endian; bytes 0x000-0x29F are signed, the
// signature (ECDSA P-384 r and s, 72 bytes each, little-endian) starts at 0x2A0.
//
// Versions: 2 (base), 3 (adds CPUID_FAM_ID/MOD_ID/STEP at 0x188..0x18A), 4 and 5 (5 adds
// LAUNCH_MIT_VECTOR at 0x1F8 and CURRENT_MIT_VECTOR at 0x200).
// TCB_VERSION (u64): Milan/Genoa byte0 BOOT_LOADER, byte1 TEE, byte6 SNP, byte7 MICROCODE;
// Turin byte0 FMC, byte1 BOOT_LOADER, byte2 TEE, byte3 SNP, byte7 MICROCODE.

import { ContrastError } from '@contrast-cc/core';
import { hex } from '../common/bytes.js';

/** The size of an ATTESTATION_REPORT. @public */
export const SNP_REPORT_SIZE = 0x4a0;
/** The end of the signed region: the signature covers bytes [0, 0x2A0). @public */
export const SNP_SIGNED_LENGTH = 0x2a0;
/**
 * Where the reserved part of the SIGNATURE field starts: after R (0x2A0, 72 bytes) and S (0x2E8,
 * 72 bytes), bytes 0x330-0x49F are reserved and zero. They are outside the signed range.
 */
export const SNP_SIGNATURE_RESERVED_OFFSET = 0x330;
/** Report versions this parser knows the layout of. @public */
export const SNP_REPORT_VERSIONS = [2, 3, 4, 5] as const;

/** AMD EPYC product lines with SEV-SNP. @public */
export type SnpProductLine = 'Milan' | 'Genoa' | 'Turin';
/** @public */
export const SNP_PRODUCT_LINES: readonly SnpProductLine[] = ['Milan', 'Genoa', 'Turin'];

/** Field offsets in the report. @public */
export const SNP_REPORT_OFFSETS = {
  version: 0x00,
  guestSvn: 0x04,
  policy: 0x08,
  familyId: 0x10,
  imageId: 0x20,
  vmpl: 0x30,
  signatureAlgo: 0x34,
  currentTcb: 0x38,
  platformInfo: 0x40,
  keyInfo: 0x48,
  reportData: 0x50,
  measurement: 0x90,
  hostData: 0xc0,
  idKeyDigest: 0xe0,
  authorKeyDigest: 0x110,
  reportId: 0x140,
  reportIdMa: 0x160,
  reportedTcb: 0x180,
  cpuidFamId: 0x188,
  cpuidModId: 0x189,
  cpuidStep: 0x18a,
  chipId: 0x1a0,
  committedTcb: 0x1e0,
  currentBuild: 0x1e8,
  currentMinor: 0x1e9,
  currentMajor: 0x1ea,
  committedBuild: 0x1ec,
  committedMinor: 0x1ed,
  committedMajor: 0x1ee,
  launchTcb: 0x1f0,
  launchMitVector: 0x1f8,
  currentMitVector: 0x200,
  signatureR: 0x2a0,
  signatureS: 0x2e8,
} as const;

/** A decoded TCB_VERSION. `fmc` exists on Turin only. @public */
export interface SnpTcb {
  /** The raw u64 as 0x-prefixed hex (16 digits). */
  raw: string;
  bootloader: number;
  tee: number;
  snp: number;
  microcode: number;
  fmc?: number;
}

/** GUEST POLICY bits. @public */
export interface SnpGuestPolicy {
  raw: string;
  abiMinor: number;
  abiMajor: number;
  smt: boolean;
  migrateMa: boolean;
  debug: boolean;
  singleSocket: boolean;
  cxlAllowed: boolean;
  memAes256Xts: boolean;
  raplDis: boolean;
  ciphertextHiding: boolean;
  pageSwapDisable: boolean;
}

/** PLATFORM_INFO bits. @public */
export interface SnpPlatformInfo {
  raw: string;
  smtEnabled: boolean;
  tsmeEnabled: boolean;
  eccEnabled: boolean;
  raplDisabled: boolean;
  ciphertextHidingEnabled: boolean;
  aliasCheckComplete: boolean;
  tioEnabled: boolean;
}

/** Which key signed the report. @public */
export type SnpSigningKey = 'vcek' | 'vlek' | 'none';

/** A parsed ATTESTATION_REPORT. Byte fields are views into `raw`, a private copy of the input; u64 fields are bigint. @public */
export interface SnpReport {
  /** The exact report bytes. */
  raw: Uint8Array;
  version: number;
  guestSvn: number;
  policy: bigint;
  guestPolicy: SnpGuestPolicy;
  familyId: Uint8Array;
  imageId: Uint8Array;
  vmpl: number;
  signatureAlgo: number;
  platformInfo: bigint;
  platform: SnpPlatformInfo;
  keyInfo: number;
  authorKeyEn: boolean;
  maskChipKey: boolean;
  signingKey: SnpSigningKey;
  /** The raw SIGNING_KEY field (0 VCEK, 1 VLEK, 7 none). */
  signingKeyId: number;
  reportData: Uint8Array;
  measurement: Uint8Array;
  hostData: Uint8Array;
  idKeyDigest: Uint8Array;
  authorKeyDigest: Uint8Array;
  reportId: Uint8Array;
  reportIdMa: Uint8Array;
  chipId: Uint8Array;
  /** Version 3+: CPUID family/model/stepping of the chip. */
  cpuid?: { family: number; model: number; stepping: number };
  /** The product the TCB fields were decoded for (given, or from CPUID), if known. */
  product: SnpProductLine | undefined;
  currentTcb: SnpTcb;
  reportedTcb: SnpTcb;
  committedTcb: SnpTcb;
  launchTcb: SnpTcb;
  currentTcbRaw: bigint;
  reportedTcbRaw: bigint;
  committedTcbRaw: bigint;
  launchTcbRaw: bigint;
  /** "major.minor.build" */
  currentFirmware: string;
  committedFirmware: string;
  /** Version 5+. */
  launchMitVector?: bigint;
  currentMitVector?: bigint;
  /** r||s big-endian, 48 bytes each (for ECDSA P-384 verification, IEEE P1363 form). */
  signature: Uint8Array;
  /** True when the upper 24 bytes of the 72-byte r and s fields are zero, as they must be. */
  signatureWellFormed: boolean;
}

// Lower-case hex: Node's native encoder where present (the verifier's hot path uses it).
export { hex };

/** A u64 as 0x-prefixed hex, 16 digits. */
export function hex64(v: bigint): string {
  return `0x${v.toString(16).padStart(16, '0')}`;
}

/** Decodes a TCB_VERSION for a product line (Milan and Genoa share a layout; Turin differs). @public */
export function decodeTcb(value: bigint, product: SnpProductLine | undefined): SnpTcb {
  if (product === 'Turin') {
    return {
      raw: hex64(value),
      fmc: byteOf(value, 0),
      bootloader: byteOf(value, 1),
      tee: byteOf(value, 2),
      snp: byteOf(value, 3),
      microcode: byteOf(value, 7),
    };
  }
  return {
    raw: hex64(value),
    bootloader: byteOf(value, 0),
    tee: byteOf(value, 1),
    snp: byteOf(value, 6),
    microcode: byteOf(value, 7),
  };
}

// Module-level helpers rather than closures made per report: V8 compiled a fresh optimized copy
// of such closures again and again on the Coordinator's per-certificate path.
function byteOf(value: bigint, i: number): number {
  return Number((value >> BigInt(8 * i)) & 0xffn);
}

function bitOf(value: bigint, i: number): boolean {
  return ((value >> BigInt(i)) & 1n) === 1n;
}

/** Encodes TCB parts into the u64 of a product's layout. @public */
export function encodeTcb(tcb: Omit<SnpTcb, 'raw'>, product: SnpProductLine): bigint {
  const b = (v: number | undefined, i: number) => BigInt((v ?? 0) & 0xff) << BigInt(8 * i);
  if (product === 'Turin') {
    return b(tcb.fmc, 0) | b(tcb.bootloader, 1) | b(tcb.tee, 2) | b(tcb.snp, 3) | b(tcb.microcode, 7);
  }
  return b(tcb.bootloader, 0) | b(tcb.tee, 1) | b(tcb.snp, 6) | b(tcb.microcode, 7);
}

/** The product line of a CPUID family/model, or undefined when not an SEV-SNP EPYC. @public */
export function productFromCpuid(family: number, model: number): SnpProductLine | undefined {
  if (family === 0x19 && model <= 0x0f) return 'Milan';
  if (family === 0x19 && ((model >= 0x10 && model <= 0x1f) || (model >= 0xa0 && model <= 0xaf)))
    return 'Genoa';
  if (family === 0x1a && model <= 0x1f) return 'Turin';
  return undefined;
}

/** The product line in a KDS/VCEK product name such as "Milan-B0" or "Genoa". @public */
export function productLineOf(name: string): SnpProductLine | undefined {
  const line = name.split('-')[0];
  return SNP_PRODUCT_LINES.find((p) => p.toLowerCase() === line?.toLowerCase());
}

/** Decodes GUEST POLICY bits. @public */
export function decodeGuestPolicy(policy: bigint): SnpGuestPolicy {
  return {
    raw: `0x${policy.toString(16)}`,
    abiMinor: Number(policy & 0xffn),
    abiMajor: Number((policy >> 8n) & 0xffn),
    smt: bitOf(policy, 16),
    migrateMa: bitOf(policy, 18),
    debug: bitOf(policy, 19),
    singleSocket: bitOf(policy, 20),
    cxlAllowed: bitOf(policy, 21),
    memAes256Xts: bitOf(policy, 22),
    raplDis: bitOf(policy, 23),
    ciphertextHiding: bitOf(policy, 24),
    pageSwapDisable: bitOf(policy, 25),
  };
}

/** Decodes PLATFORM_INFO bits. @public */
export function decodePlatformInfo(info: bigint): SnpPlatformInfo {
  return {
    raw: `0x${info.toString(16)}`,
    smtEnabled: bitOf(info, 0),
    tsmeEnabled: bitOf(info, 1),
    eccEnabled: bitOf(info, 2),
    raplDisabled: bitOf(info, 3),
    ciphertextHidingEnabled: bitOf(info, 4),
    aliasCheckComplete: bitOf(info, 5),
    tioEnabled: bitOf(info, 7),
  };
}

/** Options for {@link parseSnpReport}. @public */
export interface ParseSnpReportOptions {
  /** Decode TCB fields for this product (otherwise: from CPUID on v3+, else the Milan/Genoa layout). */
  product?: SnpProductLine;
}

/**
 * Parses a raw ATTESTATION_REPORT by its declared version. Throws
 * `ContrastError('invalid-argument')` naming the field for input that is not a report.
 * @public
 */
export function parseSnpReport(bytes: Uint8Array, options: ParseSnpReportOptions = {}): SnpReport {
  if (!(bytes instanceof Uint8Array)) {
    throw new ContrastError('invalid-argument', 'an SNP report must be bytes', { field: 'report' });
  }
  if (bytes.length !== SNP_REPORT_SIZE) {
    throw new ContrastError(
      'invalid-argument',
      `an SNP report is ${SNP_REPORT_SIZE} bytes, got ${bytes.length}${bytes.length < SNP_REPORT_SIZE ? ' (truncated)' : ' (oversized)'}`,
      { field: 'report' },
    );
  }
  const raw = new Uint8Array(bytes);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const O = SNP_REPORT_OFFSETS;
  const u32 = (o: number) => view.getUint32(o, true);
  const u64 = (o: number) => view.getBigUint64(o, true);
  // `raw` is our own copy: fields are views into it.
  const slice = (o: number, n: number) => raw.subarray(o, o + n);

  const version = u32(O.version);
  if (!(SNP_REPORT_VERSIONS as readonly number[]).includes(version)) {
    throw new ContrastError(
      'invalid-argument',
      `unsupported SNP report version ${version} (supported: ${SNP_REPORT_VERSIONS.join(', ')})`,
      { field: 'version' },
    );
  }
  const vmpl = u32(O.vmpl);
  if (vmpl > 3) {
    throw new ContrastError('invalid-argument', `VMPL must be 0-3, got ${vmpl}`, { field: 'vmpl' });
  }
  let cpuid: SnpReport['cpuid'];
  let product = options.product;
  if (version >= 3) {
    cpuid = { family: raw[O.cpuidFamId]!, model: raw[O.cpuidModId]!, stepping: raw[O.cpuidStep]! };
    product ??= productFromCpuid(cpuid.family, cpuid.model);
  }
  const keyInfo = u32(O.keyInfo);
  const signingKeyId = (keyInfo >> 2) & 0x7;
  const signingKey: SnpSigningKey = signingKeyId === 0 ? 'vcek' : signingKeyId === 1 ? 'vlek' : 'none';
  const policy = u64(O.policy);
  const platformInfo = u64(O.platformInfo);
  const tcbs = {
    current: u64(O.currentTcb),
    reported: u64(O.reportedTcb),
    committed: u64(O.committedTcb),
    launch: u64(O.launchTcb),
  };
  // r and s: 72-byte little-endian fields; P-384 uses the low 48 bytes, the rest must be zero.
  const signature = new Uint8Array(96);
  let upperZero = true;
  for (let i = 0; i < 72; i++) {
    const r = raw[O.signatureR + i]!;
    const s = raw[O.signatureS + i]!;
    if (i < 48) {
      signature[47 - i] = r;
      signature[95 - i] = s;
    } else if (r !== 0 || s !== 0) {
      upperZero = false;
    }
  }
  const fw = (major: number, minor: number, build: number) => `${raw[major]!}.${raw[minor]!}.${raw[build]!}`;

  const report: SnpReport = {
    raw,
    version,
    guestSvn: u32(O.guestSvn),
    policy,
    guestPolicy: decodeGuestPolicy(policy),
    familyId: slice(O.familyId, 16),
    imageId: slice(O.imageId, 16),
    vmpl,
    signatureAlgo: u32(O.signatureAlgo),
    platformInfo,
    platform: decodePlatformInfo(platformInfo),
    keyInfo,
    authorKeyEn: (keyInfo & 1) === 1,
    maskChipKey: (keyInfo & 2) === 2,
    signingKey,
    signingKeyId,
    reportData: slice(O.reportData, 64),
    measurement: slice(O.measurement, 48),
    hostData: slice(O.hostData, 32),
    idKeyDigest: slice(O.idKeyDigest, 48),
    authorKeyDigest: slice(O.authorKeyDigest, 48),
    reportId: slice(O.reportId, 32),
    reportIdMa: slice(O.reportIdMa, 32),
    chipId: slice(O.chipId, 64),
    product,
    currentTcb: decodeTcb(tcbs.current, product),
    reportedTcb: decodeTcb(tcbs.reported, product),
    committedTcb: decodeTcb(tcbs.committed, product),
    launchTcb: decodeTcb(tcbs.launch, product),
    currentTcbRaw: tcbs.current,
    reportedTcbRaw: tcbs.reported,
    committedTcbRaw: tcbs.committed,
    launchTcbRaw: tcbs.launch,
    currentFirmware: fw(O.currentMajor, O.currentMinor, O.currentBuild),
    committedFirmware: fw(O.committedMajor, O.committedMinor, O.committedBuild),
    signature,
    signatureWellFormed: upperZero,
  };
  if (cpuid) report.cpuid = cpuid;
  if (version >= 5) {
    report.launchMitVector = u64(O.launchMitVector);
    report.currentMitVector = u64(O.currentMitVector);
  }
  return report;
}

/** The report's JSON-friendly fields (hex strings, decoded TCBs and flags). @public */
export function snpReportToJson(report: SnpReport): Record<string, unknown> {
  const out: Record<string, unknown> = {
    version: report.version,
    product: report.product ?? null,
    guestSvn: report.guestSvn,
    policy: report.guestPolicy,
    familyId: hex(report.familyId),
    imageId: hex(report.imageId),
    vmpl: report.vmpl,
    signatureAlgo: report.signatureAlgo,
    platformInfo: report.platform,
    signingKey: report.signingKey,
    authorKeyEn: report.authorKeyEn,
    maskChipKey: report.maskChipKey,
    reportData: hex(report.reportData),
    measurement: hex(report.measurement),
    hostData: hex(report.hostData),
    idKeyDigest: hex(report.idKeyDigest),
    authorKeyDigest: hex(report.authorKeyDigest),
    reportId: hex(report.reportId),
    reportIdMa: hex(report.reportIdMa),
    chipId: hex(report.chipId),
    currentTcb: report.currentTcb,
    reportedTcb: report.reportedTcb,
    committedTcb: report.committedTcb,
    launchTcb: report.launchTcb,
    currentFirmware: report.currentFirmware,
    committedFirmware: report.committedFirmware,
  };
  if (report.cpuid) out.cpuid = report.cpuid;
  if (report.launchMitVector !== undefined) out.launchMitVector = hex64(report.launchMitVector);
  if (report.currentMitVector !== undefined) out.currentMitVector = hex64(report.currentMitVector);
  return out;
}
