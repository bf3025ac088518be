import type { ClaimExtension, ClaimValue } from '@contrast-cc/core';
import type { TdxQuote } from './quote.js';

/**
 * The arc under which a mesh certificate carries a TDX quote's fields: upstream Contrast's
 * `RawTDXReport` OID, each field one extension `1.3.9901.2.2.N` (upstream's numbering; 28 is
 * unused there too), so an application written for upstream reads our certificates unchanged.
 * @public
 */
export const TDX_CLAIM_OID_ARC = '1.3.9901.2.2';

/** Field name -> number under {@link TDX_CLAIM_OID_ARC}, in upstream's numbering. @public */
export const TDX_CLAIM_FIELDS = Object.freeze({
  version: 1,
  attestationKeyType: 2,
  teeType: 3,
  qeSvn: 4,
  pceSvn: 5,
  qeVendorId: 6,
  userData: 7,
  teeTcbSvn: 8,
  mrSeam: 9,
  mrSignerSeam: 10,
  seamAttributes: 11,
  tdAttributes: 12,
  xfam: 13,
  mrTd: 14,
  mrConfigId: 15,
  mrOwner: 16,
  mrOwnerConfig: 17,
  rtmr0: 18,
  rtmr1: 19,
  rtmr2: 20,
  rtmr3: 21,
  reportData: 22,
  signedDataSize: 23,
  signature: 24,
  ecdsaAttestationKey: 25,
  certificationDataType: 26,
  certificationDataSize: 27,
  qeReportCpuSvn: 29,
  qeReportMiscSelect: 30,
  qeReportReserved1: 31,
  qeReportAttributes: 32,
  qeReportMrEnclave: 33,
  qeReportReserved2: 34,
  qeReportMrSigner: 35,
  qeReportReserved3: 36,
  qeReportIsvProdId: 37,
  qeReportIsvSvn: 38,
  qeReportReserved4: 39,
  qeReportReportData: 40,
  qeReportSignature: 41,
  qeAuthDataSize: 42,
  qeAuthData: 43,
  pckCertificateChainType: 44,
  pckCertificateChainSize: 45,
  pckCertificateChain: 46,
  extraBytes: 47,
} as const);

const uint = (value: number | bigint): ClaimValue => ({ type: 'uint', value: BigInt(value) });
const bytes = (value: Uint8Array): ClaimValue => ({ type: 'bytes', value: value.slice() });

/**
 * The certificate claim extensions of a parsed (and verified) TDX quote in upstream's layout:
 * header, TD report body, signature data, the QE report with its reserved fields, the QE
 * authentication data and the PCK certificate chain bytes as the quote holds them, and the bytes
 * after the declared signature data. Byte fields of the raw quote are taken at the offsets the
 * parser validated, so nothing here re-parses a length.
 * @public
 */
export function tdxClaimExtensions(quote: TdxQuote): ClaimExtension[] {
  // The parser's views all share the input buffer: the whole quote starts where the signed bytes do.
  const s = quote.signedBytes;
  const quoteBytes = new Uint8Array(s.buffer, s.byteOffset, quote.length + quote.trailingBytes);
  const f = TDX_CLAIM_FIELDS;
  const out: ClaimExtension[] = [];
  const add = (name: keyof typeof TDX_CLAIM_FIELDS, value: ClaimValue) =>
    out.push({ oid: `${TDX_CLAIM_OID_ARC}.${f[name]}`, name, value });
  const view = new DataView(quoteBytes.buffer, quoteBytes.byteOffset, quoteBytes.byteLength);
  const { header, body, signatureData: sd } = quote;

  add('version', uint(header.version));
  add('attestationKeyType', uint(header.attestationKeyType));
  add('teeType', uint(header.teeType));
  // The header's 4 bytes after TEE_TYPE: QE SVN and PCE SVN (2 bytes each, as upstream keeps them).
  add('qeSvn', bytes(header.reserved.subarray(0, 2)));
  add('pceSvn', bytes(header.reserved.subarray(2, 4)));
  add('qeVendorId', bytes(header.qeVendorId));
  add('userData', bytes(header.userData));

  add('teeTcbSvn', bytes(body.teeTcbSvn));
  add('mrSeam', bytes(body.mrSeam));
  add('mrSignerSeam', bytes(body.mrSignerSeam));
  add('seamAttributes', bytes(body.seamAttributes));
  add('tdAttributes', bytes(body.tdAttributes));
  add('xfam', bytes(body.xfam));
  add('mrTd', bytes(body.mrTd));
  add('mrConfigId', bytes(body.mrConfigId));
  add('mrOwner', bytes(body.mrOwner));
  add('mrOwnerConfig', bytes(body.mrOwnerConfig));
  add('rtmr0', bytes(body.rtmrs[0]));
  add('rtmr1', bytes(body.rtmrs[1]));
  add('rtmr2', bytes(body.rtmrs[2]));
  add('rtmr3', bytes(body.rtmrs[3]));
  add('reportData', bytes(body.reportData));

  // Signature data, from the end of the signed bytes: u32 length, signature, attestation key,
  // u16 type + u32 size of the certification data, QE report, its signature, u16 + auth data,
  // u16 type + u32 size + the PCK chain.
  let at = quote.signedBytes.length;
  add('signedDataSize', uint(view.getUint32(at, true)));
  at += 4;
  add('signature', bytes(sd.signature));
  add('ecdsaAttestationKey', bytes(sd.attestationKey));
  at += 128;
  add('certificationDataType', uint(view.getUint16(at, true)));
  add('certificationDataSize', uint(view.getUint32(at + 2, true)));
  at += 6;
  const qe = sd.qeReport.raw;
  add('qeReportCpuSvn', bytes(qe.subarray(0, 16)));
  add('qeReportMiscSelect', uint(sd.qeReport.miscSelect));
  add('qeReportReserved1', bytes(qe.subarray(20, 48)));
  add('qeReportAttributes', bytes(qe.subarray(48, 64)));
  add('qeReportMrEnclave', bytes(qe.subarray(64, 96)));
  add('qeReportReserved2', bytes(qe.subarray(96, 128)));
  add('qeReportMrSigner', bytes(qe.subarray(128, 160)));
  add('qeReportReserved3', bytes(qe.subarray(160, 256)));
  add('qeReportIsvProdId', uint(sd.qeReport.isvProdId));
  add('qeReportIsvSvn', uint(sd.qeReport.isvSvn));
  add('qeReportReserved4', bytes(qe.subarray(260, 320)));
  add('qeReportReportData', bytes(qe.subarray(320, 384)));
  at += 384;
  add('qeReportSignature', bytes(sd.qeReportSignature));
  at += 64;
  add('qeAuthDataSize', uint(view.getUint16(at, true)));
  add('qeAuthData', bytes(sd.qeAuthData));
  at += 2 + sd.qeAuthData.length;
  add('pckCertificateChainType', uint(view.getUint16(at, true)));
  const chainSize = view.getUint32(at + 2, true);
  add('pckCertificateChainSize', uint(chainSize));
  at += 6;
  add('pckCertificateChain', bytes(quoteBytes.subarray(at, at + chainSize)));
  add('extraBytes', bytes(quoteBytes.subarray(quote.length)));
  return out;
}
