// Reference-value checks on a parsed (and already authenticated) SNP report, with upstream's
// semantics (go-sev-guest `validate` as Contrast configures it):
// - MinimumTCB: every component of CURRENT, REPORTED, COMMITTED and LAUNCH TCB >= the minimum.
// - GuestPolicy: ABI version >= the required one; capabilities (SMT, MigrateMA, Debug, CXLAllowed)
//   only when allowed; restrictions (SingleSocket, MemAES256XTS, RAPLDis, CipherTextHidingDRAM,
//   PageSwapDisable) present when required.
// - PlatformInfo: SMTEnabled only when allowed; the others present when required.
// - MinimumMitigationVector: every bit set in LAUNCH_MIT_VECTOR and CURRENT_MIT_VECTOR (v5+).

import { ContrastError, fromHex, toHex, type VerifyFailure } from '@contrast-cc/core';
import {
  productLineOf,
  SNP_PRODUCT_LINES,
  type SnpProductLine,
  type SnpReport,
  type SnpTcb,
} from './report.js';

/** Minimum TCB, each component an SVN 0-255 (upstream `MinimumTCB`). @public */
export interface SnpMinimumTcb {
  BootloaderVersion?: number;
  TEEVersion?: number;
  SNPVersion?: number;
  MicrocodeVersion?: number;
  /** Turin only. */
  FMCVersion?: number;
}

/** Guest policy expectations (go-sev-guest `SnpPolicy` JSON names). @public */
export interface SnpGuestPolicyValues {
  ABIMinor?: number;
  ABIMajor?: number;
  SMT?: boolean;
  MigrateMA?: boolean;
  Debug?: boolean;
  SingleSocket?: boolean;
  CXLAllowed?: boolean;
  MemAES256XTS?: boolean;
  RAPLDis?: boolean;
  CipherTextHidingDRAM?: boolean;
  PageSwapDisable?: boolean;
}

/** Platform info expectations (go-sev-guest `SnpPlatformInfo` JSON names). @public */
export interface SnpPlatformInfoValues {
  SMTEnabled?: boolean;
  TSMEEnabled?: boolean;
  ECCEnabled?: boolean;
  RAPLDisabled?: boolean;
  CiphertextHidingDRAMEnabled?: boolean;
  AliasCheckComplete?: boolean;
  TIOEnabled?: boolean;
}

/**
 * SNP reference values, named as in the manifest's `ReferenceValues.snp[]` entries. Absent
 * fields are not checked, except VMPL which defaults to 0 as upstream requires.
 * @public
 */
export interface SnpReferenceValues {
  Platform?: string;
  ProductName?: string;
  /** 48-byte launch measurement(s), hex; the report must match one. */
  TrustedMeasurement?: string | string[];
  MinimumTCB?: SnpMinimumTcb;
  GuestPolicy?: SnpGuestPolicyValues;
  PlatformInfo?: SnpPlatformInfoValues;
  /** Bits that must be set in both mitigation vectors (u64; number, decimal or 0x-hex string). */
  MinimumMitigationVector?: number | string;
  /** 64-byte CHIP_IDs, hex; empty or absent = any chip. */
  AllowedChipIDs?: string[];
  /** Allowed 32-byte HOST_DATA values, hex; absent = any (the caller looks up the policy). */
  HostData?: string[];
  /** Allowed 48-byte ID_KEY_DIGEST values, hex. */
  TrustedIDKeyDigests?: string[];
  /** Required VMPL (default 0). */
  VMPL?: number;
}

/** Reference values with hex decoded once. */
export interface CompiledSnpReferenceValues {
  product: SnpProductLine | undefined;
  measurements: string[] | undefined;
  minimumTcb: SnpMinimumTcb | undefined;
  guestPolicy: SnpGuestPolicyValues | undefined;
  platformInfo: SnpPlatformInfoValues | undefined;
  minimumMitigationVector: bigint | undefined;
  chipIds: string[] | undefined;
  hostData: string[] | undefined;
  idKeyDigests: string[] | undefined;
  vmpl: number;
}

function hexList(list: unknown, field: string, length: number): string[] {
  if (!Array.isArray(list))
    throw new ContrastError('invalid-argument', 'expected a list of hex strings', { field });
  return list.map((h, i) => {
    if (typeof h !== 'string')
      throw new ContrastError('invalid-argument', 'expected hex', { field: `${field}[${i}]` });
    return toHex(fromHex(h, { field: `${field}[${i}]`, length }));
  });
}

const SVN_FIELDS = [
  'BootloaderVersion',
  'TEEVersion',
  'SNPVersion',
  'MicrocodeVersion',
  'FMCVersion',
] as const;

/** Checks the shape of reference values (misuse throws `invalid-argument` naming the field). */
export function compileSnpReferenceValues(rv: SnpReferenceValues = {}): CompiledSnpReferenceValues {
  const f = (name: string) => `referenceValues.${name}`;
  let product: SnpProductLine | undefined;
  if (rv.ProductName !== undefined) {
    product = productLineOf(rv.ProductName);
    if (!product) {
      throw new ContrastError('invalid-argument', `unknown product; one of ${SNP_PRODUCT_LINES.join(', ')}`, {
        field: f('ProductName'),
      });
    }
  }
  if (rv.MinimumTCB) {
    for (const k of SVN_FIELDS) {
      const v = rv.MinimumTCB[k];
      if (v !== undefined && !(Number.isInteger(v) && v >= 0 && v <= 255)) {
        throw new ContrastError('invalid-argument', 'an SVN is an integer 0-255', {
          field: f(`MinimumTCB.${k}`),
        });
      }
    }
  }
  let mit: bigint | undefined;
  if (rv.MinimumMitigationVector !== undefined) {
    try {
      mit = BigInt(rv.MinimumMitigationVector);
    } catch {
      mit = -1n;
    }
    if (mit < 0n || mit > 0xffffffffffffffffn) {
      throw new ContrastError('invalid-argument', 'expected an unsigned 64-bit integer', {
        field: f('MinimumMitigationVector'),
      });
    }
  }
  const vmpl = rv.VMPL ?? 0;
  if (!(Number.isInteger(vmpl) && vmpl >= 0 && vmpl <= 3)) {
    throw new ContrastError('invalid-argument', 'VMPL is 0-3', { field: f('VMPL') });
  }
  const measurements =
    rv.TrustedMeasurement === undefined
      ? undefined
      : hexList(
          typeof rv.TrustedMeasurement === 'string' ? [rv.TrustedMeasurement] : rv.TrustedMeasurement,
          f('TrustedMeasurement'),
          48,
        );
  const chipIds = rv.AllowedChipIDs?.length ? hexList(rv.AllowedChipIDs, f('AllowedChipIDs'), 64) : undefined;
  return {
    product,
    measurements,
    minimumTcb: rv.MinimumTCB,
    guestPolicy: rv.GuestPolicy,
    platformInfo: rv.PlatformInfo,
    minimumMitigationVector: mit,
    chipIds,
    hostData: rv.HostData ? hexList(rv.HostData, f('HostData'), 32) : undefined,
    idKeyDigests: rv.TrustedIDKeyDigests
      ? hexList(rv.TrustedIDKeyDigests, f('TrustedIDKeyDigests'), 48)
      : undefined,
    vmpl,
  };
}

const fail = (code: VerifyFailure['code'], message: string, field: string): VerifyFailure => ({
  code,
  message,
  field,
});

function checkTcb(name: string, tcb: SnpTcb, min: SnpMinimumTcb, product: SnpProductLine | undefined) {
  const parts: [keyof SnpMinimumTcb, number | undefined, string][] = [
    ['BootloaderVersion', tcb.bootloader, 'bootloader'],
    ['TEEVersion', tcb.tee, 'tee'],
    ['SNPVersion', tcb.snp, 'snp'],
    ['MicrocodeVersion', tcb.microcode, 'microcode'],
  ];
  if (product === 'Turin') parts.push(['FMCVersion', tcb.fmc, 'fmc']);
  for (const [key, value, part] of parts) {
    const want = min[key];
    if (want !== undefined && (value ?? 0) < want) {
      return fail(
        'tcb-too-low',
        `${name} ${part} SVN ${value ?? 0} is below the minimum ${want}`,
        `${name}.${part}`,
      );
    }
  }
  return undefined;
}

/** Runs every reference-value check; the first failure wins. */
export function checkSnpReferenceValues(
  report: SnpReport,
  rv: CompiledSnpReferenceValues,
): VerifyFailure | undefined {
  if (rv.measurements && !rv.measurements.includes(toHex(report.measurement))) {
    return fail(
      'measurement-mismatch',
      `measurement ${toHex(report.measurement)} is not a trusted measurement`,
      'measurement',
    );
  }
  if (rv.hostData && !rv.hostData.includes(toHex(report.hostData))) {
    return fail('host-data-mismatch', `HOST_DATA ${toHex(report.hostData)} is not allowed`, 'host_data');
  }
  if (rv.idKeyDigests && !rv.idKeyDigests.includes(toHex(report.idKeyDigest))) {
    return fail('field-mismatch', 'ID_KEY_DIGEST is not a trusted ID key', 'id_key_digest');
  }
  if (report.vmpl !== rv.vmpl) {
    return fail('vmpl-mismatch', `VMPL is ${report.vmpl}, expected ${rv.vmpl}`, 'vmpl');
  }
  if (rv.minimumTcb) {
    for (const [name, tcb] of [
      ['current_tcb', report.currentTcb],
      ['reported_tcb', report.reportedTcb],
      ['committed_tcb', report.committedTcb],
      ['launch_tcb', report.launchTcb],
    ] as const) {
      const failure = checkTcb(name, tcb, rv.minimumTcb, report.product);
      if (failure) return failure;
    }
  }
  if (rv.guestPolicy) {
    const failure = checkGuestPolicy(report, rv.guestPolicy);
    if (failure) return failure;
  }
  if (rv.platformInfo) {
    const failure = checkPlatformInfo(report, rv.platformInfo);
    if (failure) return failure;
  }
  if (rv.minimumMitigationVector !== undefined && rv.minimumMitigationVector !== 0n) {
    const min = rv.minimumMitigationVector;
    if (report.launchMitVector === undefined || report.currentMitVector === undefined) {
      return fail(
        'mitigation-vector-too-low',
        `report version ${report.version} carries no mitigation vector (needs version 5)`,
        'launch_mit_vector',
      );
    }
    for (const [name, vec] of [
      ['launch_mit_vector', report.launchMitVector],
      ['current_mit_vector', report.currentMitVector],
    ] as const) {
      if ((vec & min) !== min) {
        return fail(
          'mitigation-vector-too-low',
          `${name} 0x${vec.toString(16)} lacks required mitigations 0x${(min & ~vec).toString(16)}`,
          name,
        );
      }
    }
  }
  if (rv.chipIds && !rv.chipIds.includes(toHex(report.chipId))) {
    return fail(
      'chip-id-not-allowed',
      `CHIP_ID ${toHex(report.chipId).slice(0, 16)}… is not allowed`,
      'chip_id',
    );
  }
  return undefined;
}

function checkGuestPolicy(report: SnpReport, want: SnpGuestPolicyValues): VerifyFailure | undefined {
  const p = report.guestPolicy;
  const wantMajor = want.ABIMajor ?? 0;
  const wantMinor = want.ABIMinor ?? 0;
  if (p.abiMajor < wantMajor || (p.abiMajor === wantMajor && p.abiMinor < wantMinor)) {
    return fail(
      'policy-mismatch',
      `guest policy ABI ${p.abiMajor}.${p.abiMinor} is below the required ${wantMajor}.${wantMinor}`,
      'policy.abi',
    );
  }
  if (p.debug && !want.Debug) return fail('debug-enabled', 'guest policy allows debugging', 'policy.debug');
  const capabilities: [boolean, boolean | undefined, string][] = [
    [p.smt, want.SMT, 'smt'],
    [p.migrateMa, want.MigrateMA, 'migrate_ma'],
    [p.cxlAllowed, want.CXLAllowed, 'cxl_allowed'],
  ];
  for (const [has, allowed, name] of capabilities) {
    if (has && !allowed)
      return fail('policy-mismatch', `guest policy has unauthorized ${name}`, `policy.${name}`);
  }
  const restrictions: [boolean, boolean | undefined, string][] = [
    [p.singleSocket, want.SingleSocket, 'single_socket'],
    [p.memAes256Xts, want.MemAES256XTS, 'mem_aes_256_xts'],
    [p.raplDis, want.RAPLDis, 'rapl_dis'],
    [p.ciphertextHiding, want.CipherTextHidingDRAM, 'ciphertext_hiding_dram'],
    [p.pageSwapDisable, want.PageSwapDisable, 'page_swap_disable'],
  ];
  for (const [has, required, name] of restrictions) {
    if (required && !has)
      return fail('policy-mismatch', `guest policy lacks required ${name}`, `policy.${name}`);
  }
  return undefined;
}

function checkPlatformInfo(report: SnpReport, want: SnpPlatformInfoValues): VerifyFailure | undefined {
  const p = report.platform;
  if (p.smtEnabled && !want.SMTEnabled) {
    return fail(
      'platform-info-mismatch',
      'platform has SMT enabled, which is not allowed',
      'platform_info.smt_enabled',
    );
  }
  const required: [boolean, boolean | undefined, string][] = [
    [p.tsmeEnabled, want.TSMEEnabled, 'tsme_enabled'],
    [p.eccEnabled, want.ECCEnabled, 'ecc_enabled'],
    [p.raplDisabled, want.RAPLDisabled, 'rapl_disabled'],
    [p.ciphertextHidingEnabled, want.CiphertextHidingDRAMEnabled, 'ciphertext_hiding_enabled'],
    [p.aliasCheckComplete, want.AliasCheckComplete, 'alias_check_complete'],
    [p.tioEnabled, want.TIOEnabled, 'tio_enabled'],
  ];
  for (const [has, req, name] of required) {
    if (req && !has) {
      return fail('platform-info-mismatch', `platform lacks required ${name}`, `platform_info.${name}`);
    }
  }
  return undefined;
}

/**
 * Multi-vCPU SNP guests: the launch digest depends on the vCPU count (one VMSA page per vCPU).
 * Upstream's newest manifests may carry `APEIP` (the AP reset EIP) so a verifier recomputes the
 * digest for every count; this verifier does not. Refuses such an entry with what to do instead:
 * one `ReferenceValues.snp` entry per vCPU count, each with its exact `TrustedMeasurement`.
 * @public
 */
export function refuseApeip(entry: { APEIP?: unknown }, base: string): void {
  if (entry.APEIP === undefined || entry.APEIP === null || entry.APEIP === '') return;
  throw new ContrastError(
    'invalid-argument',
    'APEIP (recomputing the launch digest for every vCPU count) is not supported. Give one ' +
      'ReferenceValues.snp entry per vCPU count your pods use, each with the exact TrustedMeasurement ' +
      'for that count (contrast runtime measure --snp --firmware <OVMF> --vcpus <N> --vcpu-type ' +
      '<EPYC-Milan|EPYC-Genoa>, or sev-snp-measure), and remove APEIP',
    { field: `${base}.APEIP` },
  );
}
