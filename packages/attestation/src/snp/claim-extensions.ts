import type { ClaimExtension, ClaimValue } from '@contrast-cc/core';
import { hex64, type SnpReport, type SnpTcb } from './report.js';

/**
 * The arc under which a mesh certificate carries an SNP report's fields: upstream Contrast's
 * `RawSNPReport` OID, each field one extension `1.3.9901.2.1.N` (upstream's numbering), so an
 * application written for upstream reads our certificates unchanged.
 * @public
 */
export const SNP_CLAIM_OID_ARC = '1.3.9901.2.1';

/** Field name -> number under {@link SNP_CLAIM_OID_ARC}, in upstream's numbering. @public */
export const SNP_CLAIM_FIELDS = Object.freeze({
  version: 1,
  guestSvn: 2,
  policyAbiMajor: 3,
  policyAbiMinor: 4,
  policyDebug: 5,
  policyMigrateMa: 6,
  policySmt: 7,
  policySingleSocket: 8,
  familyId: 9,
  imageId: 10,
  vmpl: 11,
  currentTcbBlSpl: 12,
  currentTcbSnpSpl: 13,
  currentTcbTeeSpl: 14,
  currentTcbUcodeSpl: 15,
  platformInfoSmtEnabled: 16,
  platformInfoTsmeEnabled: 17,
  signerInfoAuthorKeyEn: 18,
  signerInfoMaskChipKey: 19,
  signerInfoSigningKey: 20,
  reportData: 21,
  measurement: 22,
  hostData: 23,
  idKeyDigest: 24,
  authorKeyDigest: 25,
  reportId: 26,
  reportIdMa: 27,
  reportedTcbBlSpl: 28,
  reportedTcbSnpSpl: 29,
  reportedTcbTeeSpl: 30,
  reportedTcbUcodeSpl: 31,
  chipId: 32,
  committedTcbBlSpl: 33,
  committedTcbSnpSpl: 34,
  committedTcbTeeSpl: 35,
  committedTcbUcodeSpl: 36,
  currentBuild: 37,
  currentMinor: 38,
  currentMajor: 39,
  committedBuild: 40,
  committedMinor: 41,
  committedMajor: 42,
  launchTcbBlSpl: 43,
  launchTcbSnpSpl: 44,
  launchTcbTeeSpl: 45,
  launchTcbUcodeSpl: 46,
} as const);

// Report offsets of the firmware version bytes (AMD SEV-SNP ABI, ATTESTATION_REPORT).
const CURRENT_BUILD = 0x1e8;
const COMMITTED_BUILD = 0x1ec;

const uint = (value: number | bigint): ClaimValue => ({ type: 'uint', value: BigInt(value) });
const bool = (value: boolean): ClaimValue => ({ type: 'bool', value });
const bytes = (value: Uint8Array): ClaimValue => ({ type: 'bytes', value: value.slice() });

type ClaimName = keyof typeof SNP_CLAIM_FIELDS;
type TcbPrefix = 'current' | 'reported' | 'committed' | 'launch';

// Each field's OID string, made once (not per certificate), and module-level helpers instead of
// closures made per report: V8 compiled fresh optimized copies of such closures again and again
// on the Coordinator's per-certificate path.
const CLAIM_OIDS = new Map<string, string>(
  Object.entries(SNP_CLAIM_FIELDS).map(([name, n]) => [name, `${SNP_CLAIM_OID_ARC}.${n}`]),
);

function addClaim(out: ClaimExtension[], name: ClaimName, value: ClaimValue): void {
  out.push({ oid: CLAIM_OIDS.get(name)!, name, value });
}

function addTcb(out: ClaimExtension[], prefix: TcbPrefix, t: SnpTcb): void {
  addClaim(out, `${prefix}TcbBlSpl`, uint(t.bootloader));
  addClaim(out, `${prefix}TcbTeeSpl`, uint(t.tee));
  addClaim(out, `${prefix}TcbSnpSpl`, uint(t.snp));
  addClaim(out, `${prefix}TcbUcodeSpl`, uint(t.microcode));
}

/**
 * The certificate claim extensions of a parsed (and verified) SNP report, in upstream's layout:
 * integers as INTEGER, flags as BOOLEAN, byte fields as OCTET STRING. TCB versions are split
 * with the report's own product layout (Turin puts the SPLs at other bytes than Milan/Genoa).
 * @public
 */
export function snpClaimExtensions(report: SnpReport): ClaimExtension[] {
  const out: ClaimExtension[] = [];
  const p = report.guestPolicy;
  addClaim(out, 'version', uint(report.version));
  addClaim(out, 'guestSvn', uint(report.guestSvn));
  addClaim(out, 'policyAbiMajor', uint(p.abiMajor));
  addClaim(out, 'policyAbiMinor', uint(p.abiMinor));
  addClaim(out, 'policySmt', bool(p.smt));
  addClaim(out, 'policyMigrateMa', bool(p.migrateMa));
  addClaim(out, 'policyDebug', bool(p.debug));
  addClaim(out, 'policySingleSocket', bool(p.singleSocket));
  addClaim(out, 'familyId', bytes(report.familyId));
  addClaim(out, 'imageId', bytes(report.imageId));
  addClaim(out, 'vmpl', uint(report.vmpl));
  addTcb(out, 'current', report.currentTcb);
  addClaim(out, 'platformInfoSmtEnabled', bool(report.platform.smtEnabled));
  addClaim(out, 'platformInfoTsmeEnabled', bool(report.platform.tsmeEnabled));
  addClaim(out, 'signerInfoSigningKey', uint(report.signingKeyId));
  addClaim(out, 'signerInfoAuthorKeyEn', bool(report.authorKeyEn));
  addClaim(out, 'signerInfoMaskChipKey', bool(report.maskChipKey));
  addClaim(out, 'reportData', bytes(report.reportData));
  addClaim(out, 'measurement', bytes(report.measurement));
  addClaim(out, 'hostData', bytes(report.hostData));
  addClaim(out, 'idKeyDigest', bytes(report.idKeyDigest));
  addClaim(out, 'authorKeyDigest', bytes(report.authorKeyDigest));
  addClaim(out, 'reportId', bytes(report.reportId));
  addClaim(out, 'reportIdMa', bytes(report.reportIdMa));
  addTcb(out, 'reported', report.reportedTcb);
  addClaim(out, 'chipId', bytes(report.chipId));
  addTcb(out, 'committed', report.committedTcb);
  const raw = report.raw;
  addClaim(out, 'currentBuild', uint(raw[CURRENT_BUILD] ?? 0));
  addClaim(out, 'currentMinor', uint(raw[CURRENT_BUILD + 1] ?? 0));
  addClaim(out, 'currentMajor', uint(raw[CURRENT_BUILD + 2] ?? 0));
  addClaim(out, 'committedBuild', uint(raw[COMMITTED_BUILD] ?? 0));
  addClaim(out, 'committedMinor', uint(raw[COMMITTED_BUILD + 1] ?? 0));
  addClaim(out, 'committedMajor', uint(raw[COMMITTED_BUILD + 2] ?? 0));
  addTcb(out, 'launch', report.launchTcb);
  return out;
}

/**
 * The report fields a mesh certificate carries beyond {@link snpClaimExtensions}, as JSON (the
 * certificate's `details.reportExtra`): upstream's layout has no extension for the whole guest
 * policy (only ABI, SMT, migration agent, debug, single socket), the signature algorithm, the
 * whole PLATFORM_INFO (only SMT and TSME), the CPUID of version 3+, the mitigation vectors of
 * version 5+, or Turin's FMC SPL. Everything else of the report is in the per-field extensions,
 * so a certificate carries each field once.
 * @public
 */
export function snpReportExtraJson(report: SnpReport): Record<string, unknown> {
  const out: Record<string, unknown> = {
    policy: report.guestPolicy,
    signatureAlgo: report.signatureAlgo,
    platformInfo: report.platform,
  };
  if (report.cpuid) out['cpuid'] = report.cpuid;
  if (report.launchMitVector !== undefined) out['launchMitVector'] = hex64(report.launchMitVector);
  if (report.currentMitVector !== undefined) out['currentMitVector'] = hex64(report.currentMitVector);
  const fmc: Record<string, number> = {};
  for (const [name, tcb] of [
    ['current', report.currentTcb],
    ['reported', report.reportedTcb],
    ['committed', report.committedTcb],
    ['launch', report.launchTcb],
  ] as const) {
    if (tcb.fmc !== undefined) fmc[name] = tcb.fmc;
  }
  if (Object.keys(fmc).length > 0) out['tcbFmcSpl'] = fmc;
  return out;
}
