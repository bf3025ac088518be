// A mesh certificate issued for verified evidence carries the evidence's fields in upstream
// Contrast's layout (reference/contrast.md §6.6), so applications written for upstream read them
// unchanged. The certificate is read back with @peculiar/x509 (not our reader), and each extension
// under 1.3.9901.2.1 / 1.3.9901.2.2 is compared byte for byte with the DER that Go's
// `asn1.Marshal` gives for upstream's value: INTEGER (minimal, non-negative), BOOLEAN (0xff/0x00),
// OCTET STRING.
import { generateKeyPairSync } from 'node:crypto';
import {
  createSimulatedSnpIssuer,
  parseSnpReport,
  SNP_CLAIM_FIELDS,
  snpReportExtraJson,
  verifySnpReport,
} from '@contrast-cc/attestation/snp';
import { createSimulatedTdxIssuer, TDX_CLAIM_FIELDS, verifyTdxQuote } from '@contrast-cc/attestation/tdx';
import { type EvidenceClaims, toHex } from '@contrast-cc/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { type CaHierarchy, createCaHierarchy } from './ca.js';
import { decodeClaimValue, encodeClaimValue, MESH_CERT_OIDS } from './extensions.js';
import { readMeshCertificate } from './read.js';
import { SeedEngine } from './seed-engine.js';
import { x509 } from './test-support/x509.js';

const engine = new SeedEngine(new Uint8Array(64).fill(3), new Uint8Array(32).fill(4));
const reportData = new Uint8Array(64).map((_, i) => 200 - i);

/** Go's asn1.Marshal of a non-negative *big.Int, written out independently of our DER writer. */
function goInteger(n: number): string {
  let hex = n.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  if (Number.parseInt(hex.slice(0, 2), 16) >= 0x80) hex = `00${hex}`;
  return `02${(hex.length / 2).toString(16).padStart(2, '0')}${hex}`;
}
const goBool = (v: boolean) => (v ? '0101ff' : '010100');
function goBytes(b: Uint8Array): string {
  const n = b.length;
  const len =
    n < 0x80
      ? n.toString(16).padStart(2, '0')
      : n < 0x100
        ? `81${n.toString(16).padStart(2, '0')}`
        : `82${n.toString(16).padStart(4, '0')}`;
  return `04${len}${toHex(b)}`;
}

async function issueFor(ca: CaHierarchy, claims: EvidenceClaims) {
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const cert = await ca.issueMeshCertificate({
    publicKey: key.publicKey,
    sans: ['web'],
    workloadSecretId: 'web',
    claims,
  });
  const parsed = new x509.X509Certificate(cert.der as BufferSource);
  const ext = new Map(parsed.extensions.map((e) => [e.type, toHex(new Uint8Array(e.value))]));
  return { cert, ext };
}

describe('mesh certificates carry upstream claim extensions', () => {
  let ca: CaHierarchy;
  beforeAll(async () => {
    ca = await createCaHierarchy(engine);
  });

  it('SNP: 1.3.9901.2.1.N for N = 1..46 with the report values, in Go encodings', async () => {
    const issuer = await createSimulatedSnpIssuer({ policy: 0x1f0003n, vmpl: 0 });
    const ev = await issuer.issue(reportData);
    const r = verifySnpReport(ev.data, {
      vcek: ev.extras!.vcek!,
      certChain: ev.extras!['cert-chain']!,
      trustAnchors: [issuer.trustAnchor],
      reportData,
    });
    if (!r.ok) throw new Error(r.reason.message);
    const { cert, ext } = await issueFor(ca, r.claims);
    const raw = ev.data;
    const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const oid = (name: keyof typeof SNP_CLAIM_FIELDS) => `1.3.9901.2.1.${SNP_CLAIM_FIELDS[name]}`;
    expect(ext.get(oid('version'))).toBe(goInteger(v.getUint32(0, true)));
    expect(ext.get(oid('policyAbiMajor'))).toBe(goInteger(0));
    expect(ext.get(oid('policyAbiMinor'))).toBe(goInteger(3));
    expect(ext.get(oid('policySmt'))).toBe(goBool(true));
    expect(ext.get(oid('policyMigrateMa'))).toBe(goBool(true));
    expect(ext.get(oid('policyDebug'))).toBe(goBool(true));
    expect(ext.get(oid('policySingleSocket'))).toBe(goBool(true));
    expect(ext.get(oid('reportData'))).toBe(goBytes(reportData));
    expect(ext.get(oid('measurement'))).toBe(goBytes(raw.subarray(0x90, 0xc0)));
    expect(ext.get(oid('hostData'))).toBe(goBytes(raw.subarray(0xc0, 0xe0)));
    expect(ext.get(oid('chipId'))).toBe(goBytes(raw.subarray(0x1a0, 0x1e0)));
    expect(ext.get(oid('currentTcbSnpSpl'))).toBe(goInteger(raw[0x38 + 6]!));
    expect(ext.get(oid('launchTcbUcodeSpl'))).toBe(goInteger(raw[0x1f0 + 7]!));
    for (let n = 1; n <= 46; n++) expect(ext.has(`1.3.9901.2.1.${n}`), `1.3.9901.2.1.${n}`).toBe(true);
    // Our own extensions stay (kind, insecure flag, verdict details), and our reader decodes both.
    expect(ext.has(MESH_CERT_OIDS.evidenceKind)).toBe(true);
    const read = readMeshCertificate(cert.pem);
    expect(read.claims?.measurement).toBe(r.claims.measurement);
    expect(read.upstreamClaims?.get(oid('measurement'))).toEqual({
      type: 'bytes',
      value: raw.slice(0x90, 0xc0),
    });
    expect(read.upstreamClaims?.size).toBe(46);
    // Each report field once: the details extension carries the verdict and only the fields that
    // upstream's layout lacks (whole guest policy, PLATFORM_INFO, ...), not the report again.
    const details = read.claims?.details ?? {};
    expect(details['report']).toBeUndefined();
    expect(details['reportExtra']).toEqual(
      JSON.parse(JSON.stringify(snpReportExtraJson(parseSnpReport(raw)))),
    );
    expect(details['reportExtra']).toMatchObject({ policy: { raw: '0x1f0003', cxlAllowed: false } });
    expect(details['product']).toBe('Genoa');
    expect(details['revocation']).toBe('not-checked');
    const detailsText = new TextDecoder().decode(
      new Uint8Array(Buffer.from(ext.get(MESH_CERT_OIDS.details)!, 'hex')),
    );
    expect(detailsText).not.toContain(r.claims.measurement);
    expect(detailsText).not.toContain(toHex(raw.subarray(0xc0, 0xe0))); // HOST_DATA
    // The verifier's own claims keep the whole report (what `contrast evidence verify` prints).
    expect(r.claims.details.report).toMatchObject({ measurement: r.claims.measurement });
  }, 180_000); // a simulated chain is an RSA-4096 key generation: slow on a loaded machine

  it('TDX: 1.3.9901.2.2.N with the quote values, in Go encodings', async () => {
    const issuer = await createSimulatedTdxIssuer();
    const ev = await issuer.issue(reportData);
    const r = verifyTdxQuote(ev.data, { trustAnchors: issuer.trustAnchors, reportData });
    if (!r.ok) throw new Error(r.reason.message);
    const { cert, ext } = await issueFor(ca, r.claims);
    const q = ev.data;
    const v = new DataView(q.buffer, q.byteOffset, q.byteLength);
    const oid = (name: keyof typeof TDX_CLAIM_FIELDS) => `1.3.9901.2.2.${TDX_CLAIM_FIELDS[name]}`;
    expect(ext.get(oid('version'))).toBe(goInteger(4));
    expect(ext.get(oid('teeType'))).toBe(goInteger(0x81));
    expect(ext.get(oid('mrTd'))).toBe(goBytes(q.subarray(48 + 136, 48 + 184)));
    expect(ext.get(oid('rtmr3'))).toBe(goBytes(q.subarray(48 + 472, 48 + 520)));
    expect(ext.get(oid('reportData'))).toBe(goBytes(reportData));
    expect(ext.get(oid('signedDataSize'))).toBe(goInteger(v.getUint32(48 + 584, true)));
    expect(ext.get(oid('extraBytes'))).toBe('0400');
    expect(ext.has('1.3.9901.2.2.28')).toBe(false);
    for (const n of Object.values(TDX_CLAIM_FIELDS)) expect(ext.has(`1.3.9901.2.2.${n}`)).toBe(true);
    // The TD report body is in those claims: the details extension keeps the verdict and the PCK
    // fields without repeating MRTD, RTMRs, MRCONFIGID ...
    const details = readMeshCertificate(cert.pem).claims?.details ?? {};
    for (const field of ['mrTd', 'rtmrs', 'mrConfigId', 'mrSeam', 'teeTcbSvn', 'tdAttributes']) {
      expect(details[field], field).toBeUndefined();
      expect(r.claims.details[field], field).toBeDefined();
    }
    expect(details['pck']).toEqual(JSON.parse(JSON.stringify(r.claims.details.pck)));
    expect(details['qeSvn']).toBe(r.claims.details.qeSvn);
  }, 180_000); // a simulated chain is an RSA-4096 key generation: slow on a loaded machine

  it('encodes and decodes claim values exactly, refusing other encodings', () => {
    expect(toHex(encodeClaimValue({ type: 'uint', value: 0n }))).toBe('020100');
    expect(toHex(encodeClaimValue({ type: 'uint', value: 127n }))).toBe('02017f');
    expect(toHex(encodeClaimValue({ type: 'uint', value: 128n }))).toBe('02020080');
    expect(toHex(encodeClaimValue({ type: 'uint', value: 0x10000n }))).toBe('0203010000');
    expect(() => encodeClaimValue({ type: 'uint', value: -1n })).toThrow(/negative/);
    for (const value of [0n, 1n, 255n, 256n, 0xffffffffn]) {
      expect(decodeClaimValue(encodeClaimValue({ type: 'uint', value }))).toEqual({ type: 'uint', value });
    }
    expect(decodeClaimValue(Uint8Array.of(0x02, 0x01, 0x80))).toBeUndefined(); // negative
    expect(decodeClaimValue(Uint8Array.of(0x02, 0x02, 0x00, 0x01))).toBeUndefined(); // not minimal
    expect(decodeClaimValue(Uint8Array.of(0x01, 0x01, 0x01))).toBeUndefined(); // BOOLEAN not 00/ff
    expect(decodeClaimValue(Uint8Array.of(0x0c, 0x01, 0x41))).toBeUndefined(); // another type
  });

  it('refuses a certificate whose upstream claim is not a valid encoding', () => {
    const bad = new Map([['1.3.9901.2.1.2', Uint8Array.of(0x02, 0x01, 0xff)]]);
    return import('./extensions.js').then(({ decodeMeshCertificateExtensions }) => {
      expect(() => decodeMeshCertificateExtensions(bad)).toThrow(/1\.3\.9901\.2\.1\.2/);
    });
  });
});
