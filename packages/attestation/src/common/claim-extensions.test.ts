// The certificate claims of SNP reports and TDX quotes, field by field against upstream
// Contrast's documented layout (reference/contrast.md §6.6: SNP `1.3.9901.2.1.N`, TDX
// `1.3.9901.2.2.N`). The expected values are read here straight from the raw bytes at the offsets
// of the AMD SEV-SNP ABI (ATTESTATION_REPORT) and Intel's TDX DCAP quote v4 layout, independently
// of the parsers the claims come from. Real evidence from ../shared, plus simulated evidence so
// the suite also runs where ../shared is absent.
import { readdirSync, readFileSync } from 'node:fs';
import type { ClaimExtension, ClaimValue } from '@contrast-cc/core';
import { describe, expect, it } from 'vitest';
import {
  parseSnpReport,
  SNP_CLAIM_FIELDS,
  SNP_CLAIM_OID_ARC,
  type SnpReport,
  snpClaimExtensions,
  snpReportExtraJson,
  snpReportToJson,
} from '../snp/index.js';
import { createSimulatedSnpIssuer } from '../snp/simulator.js';
import { parseTdxQuote, TDX_CLAIM_FIELDS, TDX_CLAIM_OID_ARC, tdxClaimExtensions } from '../tdx/index.js';
import { createSimulatedTdxIssuer } from '../tdx/simulator.js';
import { hasShared, sharedPath } from '../testing/shared-dir.js';

type Expected = Record<string, ClaimValue>;
const u = (value: number | bigint): ClaimValue => ({ type: 'uint', value: BigInt(value) });
const b = (value: boolean): ClaimValue => ({ type: 'bool', value });
const raw = (value: Uint8Array): ClaimValue => ({ type: 'bytes', value });

/** Upstream's SNP fields from a raw report, Milan/Genoa TCB layout (Turin: see turin below). */
function expectedSnp(r: Uint8Array, turin: boolean): Expected {
  const v = new DataView(r.buffer, r.byteOffset, r.byteLength);
  const policy = v.getBigUint64(0x08, true);
  const bit = (x: bigint, n: number) => ((x >> BigInt(n)) & 1n) === 1n;
  const tcb = (at: number) =>
    turin
      ? { bl: r[at + 1]!, tee: r[at + 2]!, snp: r[at + 3]!, ucode: r[at + 7]! }
      : { bl: r[at]!, tee: r[at + 1]!, snp: r[at + 6]!, ucode: r[at + 7]! };
  const out: Expected = {
    version: u(v.getUint32(0x00, true)),
    guestSvn: u(v.getUint32(0x04, true)),
    policyAbiMinor: u(policy & 0xffn),
    policyAbiMajor: u((policy >> 8n) & 0xffn),
    policySmt: b(bit(policy, 16)),
    policyMigrateMa: b(bit(policy, 18)),
    policyDebug: b(bit(policy, 19)),
    policySingleSocket: b(bit(policy, 20)),
    familyId: raw(r.slice(0x10, 0x20)),
    imageId: raw(r.slice(0x20, 0x30)),
    vmpl: u(v.getUint32(0x30, true)),
    platformInfoSmtEnabled: b(bit(v.getBigUint64(0x40, true), 0)),
    platformInfoTsmeEnabled: b(bit(v.getBigUint64(0x40, true), 1)),
    signerInfoAuthorKeyEn: b((v.getUint32(0x48, true) & 1) === 1),
    signerInfoMaskChipKey: b((v.getUint32(0x48, true) & 2) === 2),
    signerInfoSigningKey: u((v.getUint32(0x48, true) >> 2) & 7),
    reportData: raw(r.slice(0x50, 0x90)),
    measurement: raw(r.slice(0x90, 0xc0)),
    hostData: raw(r.slice(0xc0, 0xe0)),
    idKeyDigest: raw(r.slice(0xe0, 0x110)),
    authorKeyDigest: raw(r.slice(0x110, 0x140)),
    reportId: raw(r.slice(0x140, 0x160)),
    reportIdMa: raw(r.slice(0x160, 0x180)),
    chipId: raw(r.slice(0x1a0, 0x1e0)),
    currentBuild: u(r[0x1e8]!),
    currentMinor: u(r[0x1e9]!),
    currentMajor: u(r[0x1ea]!),
    committedBuild: u(r[0x1ec]!),
    committedMinor: u(r[0x1ed]!),
    committedMajor: u(r[0x1ee]!),
  };
  for (const [prefix, at] of [
    ['current', 0x38],
    ['reported', 0x180],
    ['committed', 0x1e0],
    ['launch', 0x1f0],
  ] as const) {
    const t = tcb(at);
    out[`${prefix}TcbBlSpl`] = u(t.bl);
    out[`${prefix}TcbTeeSpl`] = u(t.tee);
    out[`${prefix}TcbSnpSpl`] = u(t.snp);
    out[`${prefix}TcbUcodeSpl`] = u(t.ucode);
  }
  return out;
}

/** Upstream's TDX fields from a raw v4 quote (header 48, body 584, then the signature data). */
function expectedTdx(q: Uint8Array): Expected {
  const v = new DataView(q.buffer, q.byteOffset, q.byteLength);
  const body = 48;
  const at = (o: number, n: number) => raw(q.slice(body + o, body + o + n));
  const sig = body + 584;
  const sigLen = v.getUint32(sig, true);
  const cd = sig + 4 + 128; // certification data (type 6)
  const qe = cd + 6;
  const qeSig = qe + 384;
  const auth = qeSig + 64;
  const authLen = v.getUint16(auth, true);
  const pck = auth + 2 + authLen;
  const pckLen = v.getUint32(pck + 2, true);
  return {
    version: u(v.getUint16(0, true)),
    attestationKeyType: u(v.getUint16(2, true)),
    teeType: u(v.getUint32(4, true)),
    qeSvn: raw(q.slice(8, 10)),
    pceSvn: raw(q.slice(10, 12)),
    qeVendorId: raw(q.slice(12, 28)),
    userData: raw(q.slice(28, 48)),
    teeTcbSvn: at(0, 16),
    mrSeam: at(16, 48),
    mrSignerSeam: at(64, 48),
    seamAttributes: at(112, 8),
    tdAttributes: at(120, 8),
    xfam: at(128, 8),
    mrTd: at(136, 48),
    mrConfigId: at(184, 48),
    mrOwner: at(232, 48),
    mrOwnerConfig: at(280, 48),
    rtmr0: at(328, 48),
    rtmr1: at(376, 48),
    rtmr2: at(424, 48),
    rtmr3: at(472, 48),
    reportData: at(520, 64),
    signedDataSize: u(sigLen),
    signature: raw(q.slice(sig + 4, sig + 68)),
    ecdsaAttestationKey: raw(q.slice(sig + 68, sig + 132)),
    certificationDataType: u(v.getUint16(cd, true)),
    certificationDataSize: u(v.getUint32(cd + 2, true)),
    qeReportCpuSvn: raw(q.slice(qe, qe + 16)),
    qeReportMiscSelect: u(v.getUint32(qe + 16, true)),
    qeReportReserved1: raw(q.slice(qe + 20, qe + 48)),
    qeReportAttributes: raw(q.slice(qe + 48, qe + 64)),
    qeReportMrEnclave: raw(q.slice(qe + 64, qe + 96)),
    qeReportReserved2: raw(q.slice(qe + 96, qe + 128)),
    qeReportMrSigner: raw(q.slice(qe + 128, qe + 160)),
    qeReportReserved3: raw(q.slice(qe + 160, qe + 256)),
    qeReportIsvProdId: u(v.getUint16(qe + 256, true)),
    qeReportIsvSvn: u(v.getUint16(qe + 258, true)),
    qeReportReserved4: raw(q.slice(qe + 260, qe + 320)),
    qeReportReportData: raw(q.slice(qe + 320, qe + 384)),
    qeReportSignature: raw(q.slice(qeSig, qeSig + 64)),
    qeAuthDataSize: u(authLen),
    qeAuthData: raw(q.slice(auth + 2, auth + 2 + authLen)),
    pckCertificateChainType: u(v.getUint16(pck, true)),
    pckCertificateChainSize: u(pckLen),
    pckCertificateChain: raw(q.slice(pck + 6, pck + 6 + pckLen)),
    extraBytes: raw(q.slice(sig + 4 + sigLen)),
  };
}

function compare(
  claims: ClaimExtension[],
  expected: Expected,
  arc: string,
  fields: Readonly<Record<string, number>>,
) {
  // Every documented field once, under its documented number, with the value from the bytes.
  expect(claims.map((c) => c.name).sort()).toEqual(Object.keys(fields).sort());
  expect(Object.keys(expected).sort()).toEqual(Object.keys(fields).sort());
  for (const c of claims) {
    expect(c.oid, c.name).toBe(`${arc}.${fields[c.name]}`);
    expect(c.value, c.name).toEqual(expected[c.name]);
  }
}

const reportData = new Uint8Array(64).map((_, i) => i + 1);

/**
 * Where a mesh certificate carries each field of `snpReportToJson`: upstream's per-field claims
 * (their names), the verifier's verdict details (`product`), or `reportExtra`. A field added to
 * the report's JSON without a place here fails the test below.
 */
const SNP_JSON_FIELD_IN_CERT: Record<string, readonly string[] | 'verdict' | 'extra'> = {
  version: ['version'],
  product: 'verdict',
  guestSvn: ['guestSvn'],
  policy: 'extra',
  familyId: ['familyId'],
  imageId: ['imageId'],
  vmpl: ['vmpl'],
  signatureAlgo: 'extra',
  platformInfo: 'extra',
  signingKey: ['signerInfoSigningKey'],
  authorKeyEn: ['signerInfoAuthorKeyEn'],
  maskChipKey: ['signerInfoMaskChipKey'],
  reportData: ['reportData'],
  measurement: ['measurement'],
  hostData: ['hostData'],
  idKeyDigest: ['idKeyDigest'],
  authorKeyDigest: ['authorKeyDigest'],
  reportId: ['reportId'],
  reportIdMa: ['reportIdMa'],
  chipId: ['chipId'],
  currentTcb: ['currentTcbBlSpl', 'currentTcbTeeSpl', 'currentTcbSnpSpl', 'currentTcbUcodeSpl'],
  reportedTcb: ['reportedTcbBlSpl', 'reportedTcbTeeSpl', 'reportedTcbSnpSpl', 'reportedTcbUcodeSpl'],
  committedTcb: ['committedTcbBlSpl', 'committedTcbTeeSpl', 'committedTcbSnpSpl', 'committedTcbUcodeSpl'],
  launchTcb: ['launchTcbBlSpl', 'launchTcbTeeSpl', 'launchTcbSnpSpl', 'launchTcbUcodeSpl'],
  currentFirmware: ['currentMajor', 'currentMinor', 'currentBuild'],
  committedFirmware: ['committedMajor', 'committedMinor', 'committedBuild'],
  cpuid: 'extra',
  launchMitVector: 'extra',
  currentMitVector: 'extra',
};

/** Every report field is in the certificate once: in the claims or in reportExtra, not both. */
function expectEachFieldOnce(report: SnpReport): void {
  const json = snpReportToJson(report);
  const extra = snpReportExtraJson(report);
  const claims = new Set(snpClaimExtensions(report).map((c) => c.name));
  const placed = new Set<string>();
  for (const [field, value] of Object.entries(json)) {
    const where = SNP_JSON_FIELD_IN_CERT[field];
    expect(where, `report field ${field} has no place in the certificate`).toBeDefined();
    if (where === 'extra') {
      expect(extra[field], field).toEqual(value);
      placed.add(field);
    } else if (Array.isArray(where)) {
      for (const name of where) expect(claims.has(name), `${field} -> ${name}`).toBe(true);
      expect(extra[field], `${field} is in the claims and must not be repeated`).toBeUndefined();
    }
  }
  // Turin's FMC SPL has no upstream claim: reportExtra holds it for each TCB that has one.
  const fmc: Record<string, number> = {};
  for (const t of ['current', 'reported', 'committed', 'launch'] as const) {
    const v = report[`${t}Tcb`].fmc;
    if (v !== undefined) fmc[t] = v;
  }
  if (Object.keys(fmc).length > 0) {
    expect(extra['tcbFmcSpl']).toEqual(fmc);
    placed.add('tcbFmcSpl');
  } else {
    expect(extra['tcbFmcSpl']).toBeUndefined();
  }
  expect(new Set(Object.keys(extra))).toEqual(placed);
}

describe('SNP certificate claims in upstream layout', () => {
  it('numbers the fields 1..46 under 1.3.9901.2.1 as upstream documents', () => {
    expect(Object.values(SNP_CLAIM_FIELDS).sort((a, z) => a - z)).toEqual(
      Array.from({ length: 46 }, (_, i) => i + 1),
    );
    expect(SNP_CLAIM_OID_ARC).toBe('1.3.9901.2.1');
  });

  it('simulated report: every field equals the raw bytes at its ABI offset', async () => {
    const issuer = await createSimulatedSnpIssuer({ policy: 0x1b0000n, vmpl: 0 });
    const bytes = issuer.report(reportData);
    const claims = snpClaimExtensions(parseSnpReport(bytes));
    compare(claims, expectedSnp(bytes, false), SNP_CLAIM_OID_ARC, SNP_CLAIM_FIELDS);
    // A changed report changes its claim (the claim is read from the report, not made up).
    const other = bytes.slice();
    other[0x90] = (other[0x90] ?? 0) ^ 1;
    const changed = snpClaimExtensions(parseSnpReport(other)).find((c) => c.name === 'measurement');
    expect(changed?.value).toEqual(raw(other.slice(0x90, 0xc0)));
    expect(changed?.value).not.toEqual(expectedSnp(bytes, false).measurement);
    expectEachFieldOnce(parseSnpReport(bytes));
    // Decoded as Turin, the TCBs have an FMC SPL: reportExtra carries it (no upstream claim does).
    const turin = parseSnpReport(bytes, { product: 'Turin' });
    expect(turin.currentTcb.fmc).toBeDefined();
    expectEachFieldOnce(turin);
  }, 180_000); // a simulated chain is an RSA-4096 key generation: slow on a loaded machine

  const dir = 'testvectors/snp';
  it.runIf(hasShared(dir))('real reports: every field equals the raw bytes at its ABI offset', () => {
    let n = 0;
    for (const name of readdirSync(sharedPath(dir))) {
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(readFileSync(sharedPath(dir, name, 'report.bin')));
      } catch {
        continue; // a vector in another form (e.g. an HCL report): not a bare SNP report
      }
      let report: ReturnType<typeof parseSnpReport>;
      try {
        report = parseSnpReport(bytes.subarray(0, 0x4a0));
      } catch {
        continue;
      }
      const turin = report.product === 'Turin';
      expectEachFieldOnce(report);
      compare(
        snpClaimExtensions(report),
        expectedSnp(bytes.subarray(0, 0x4a0), turin),
        SNP_CLAIM_OID_ARC,
        SNP_CLAIM_FIELDS,
      );
      n++;
    }
    expect(n).toBeGreaterThan(3);
  });
});

describe('TDX certificate claims in upstream layout', () => {
  it('numbers the fields 1..47 under 1.3.9901.2.2 (28 unused) as upstream documents', () => {
    expect(Object.values(TDX_CLAIM_FIELDS).sort((a, z) => a - z)).toEqual(
      Array.from({ length: 47 }, (_, i) => i + 1).filter((n) => n !== 28),
    );
    expect(TDX_CLAIM_OID_ARC).toBe('1.3.9901.2.2');
  });

  it('simulated quote: every field equals the raw bytes at its offset', async () => {
    const issuer = await createSimulatedTdxIssuer();
    const bytes = issuer.quote(reportData);
    compare(
      tdxClaimExtensions(parseTdxQuote(bytes)),
      expectedTdx(bytes),
      TDX_CLAIM_OID_ARC,
      TDX_CLAIM_FIELDS,
    );
  }, 180_000); // a simulated chain is an RSA-4096 key generation: slow on a loaded machine

  const dir = 'testvectors/tdx';
  it.runIf(hasShared(dir))('real v4 quotes: every field equals the raw bytes at its offset', () => {
    let n = 0;
    for (const name of readdirSync(sharedPath(dir))) {
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(readFileSync(sharedPath(dir, name, 'quote.bin')));
      } catch {
        continue;
      }
      if (new DataView(bytes.buffer, bytes.byteOffset).getUint16(0, true) !== 4) continue;
      compare(
        tdxClaimExtensions(parseTdxQuote(bytes)),
        expectedTdx(bytes),
        TDX_CLAIM_OID_ARC,
        TDX_CLAIM_FIELDS,
      );
      n++;
    }
    expect(n).toBeGreaterThan(2);
  });
});
