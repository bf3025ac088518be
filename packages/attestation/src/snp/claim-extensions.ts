import type { ClaimExtension, ClaimValue } from '@contrast-cc/core';
import type { SnpReport, SnpTcb } from './report.js';

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

/**
 * The certificate claim extensions of a parsed (and verified) SNP report, in upstream's layout:
 * integers as INTEGER, flags as BOOLEAN, byte fields as OCTET STRING. TCB versions are split
 * with the report's own product layout (Turin puts the SPLs at other bytes than Milan/Genoa).
 * @public
 */
export function snpClaimExtensions(report: SnpReport): ClaimExtension[] {
  const f = SNP_CLAIM_FIELDS;
  const out: ClaimExtension[] = [];
  const add = (name: keyof typeof SNP_CLAIM_FIELDS, value: ClaimValue) =>
    out.push({ oid: `${SNP_CLAIM_OID_ARC}.${f[name]}`, name, value });
  const tcb = (prefix: 'current' | 'reported' | 'committed' | 'launch', t: SnpTcb) => {
    add(`${prefix}TcbBlSpl`, uint(t.bootloader));
    add(`${prefix}TcbTeeSpl`, uint(t.tee));
    add(`${prefix}TcbSnpSpl`, uint(t.snp));
    add(`${prefix}TcbUcodeSpl`, uint(t.microcode));
  };
  const p = report.guestPolicy;
  add('version', uint(report.version));
  add('guestSvn', uint(report.guestSvn));
  add('policyAbiMajor', uint(p.abiMajor));
  add('policyAbiMinor', uint(p.abiMinor));
  add('policySmt', bool(p.smt));
  add('policyMigrateMa', bool(p.migrateMa));
  add('policyDebug', bool(p.debug));
  add('policySingleSocket', bool(p.singleSocket));
  add('familyId', bytes(report.familyId));
  add('imageId', bytes(report.imageId));
  add('vmpl', uint(report.vmpl));
  tcb('current', report.currentTcb);
  add('platformInfoSmtEnabled', bool(report.platform.smtEnabled));
  add('platformInfoTsmeEnabled', bool(report.platform.tsmeEnabled));
  add('signerInfoSigningKey', uint(report.signingKeyId));
  add('signerInfoAuthorKeyEn', bool(report.authorKeyEn));
  add('signerInfoMaskChipKey', bool(report.maskChipKey));
  add('reportData', bytes(report.reportData));
  add('measurement', bytes(report.measurement));
  add('hostData', bytes(report.hostData));
  add('idKeyDigest', bytes(report.idKeyDigest));
  add('authorKeyDigest', bytes(report.authorKeyDigest));
  add('reportId', bytes(report.reportId));
  add('reportIdMa', bytes(report.reportIdMa));
  tcb('reported', report.reportedTcb);
  add('chipId', bytes(report.chipId));
  tcb('committed', report.committedTcb);
  const raw = report.raw;
  add('currentBuild', uint(raw[CURRENT_BUILD] ?? 0));
  add('currentMinor', uint(raw[CURRENT_BUILD + 1] ?? 0));
  add('currentMajor', uint(raw[CURRENT_BUILD + 2] ?? 0));
  add('committedBuild', uint(raw[COMMITTED_BUILD] ?? 0));
  add('committedMinor', uint(raw[COMMITTED_BUILD + 1] ?? 0));
  add('committedMajor', uint(raw[COMMITTED_BUILD + 2] ?? 0));
  tcb('launch', report.launchTcb);
  return out;
}
