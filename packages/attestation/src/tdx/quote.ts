import { ContrastError, type VerifyFailure } from '@contrast-cc/core';
import { hex } from '../common/bytes.js';

// Lower-case hex: Node's native encoder where present (the verifier's hot path uses it).
export { hex };

/** Intel's QE vendor id (the DCAP Quoting Enclave): 939a7233-f79c-4ca9-940a-0db3957f0607. */
export const INTEL_QE_VENDOR_ID = '939a7233f79c4ca9940a0db3957f0607';
/** TEE type of a TDX quote (SGX quotes carry 0x00). */
export const TDX_TEE_TYPE = 0x81;
/** Attestation key type 2 = ECDSA-256-with-P-256. */
export const ECDSA_P256_KEY_TYPE = 2;

export const QUOTE_HEADER_LENGTH = 48;
export const TD_REPORT_BODY_10_LENGTH = 584;
export const TD_REPORT_BODY_15_LENGTH = 648;
export const SGX_REPORT_BODY_LENGTH = 384;

/** Quote header (48 bytes, v4 and v5 alike). */
export interface TdxQuoteHeader {
  version: 4 | 5;
  attestationKeyType: number;
  teeType: number;
  /** Bytes 8..12: reserved in v4/v5 (QE SVN / PCE SVN in older layouts), kept for completeness. */
  reserved: Uint8Array;
  qeVendorId: Uint8Array;
  userData: Uint8Array;
}

/** TD report body: TDX 1.0 (584 bytes) or TDX 1.5 (648 bytes, adds teeTcbSvn2 and mrServiceTd). */
export interface TdReportBody {
  /** 2 = TDX 1.0, 3 = TDX 1.5 (the v5 body descriptor type; v4 quotes always carry 2). */
  bodyType: 2 | 3;
  teeTcbSvn: Uint8Array;
  mrSeam: Uint8Array;
  mrSignerSeam: Uint8Array;
  seamAttributes: Uint8Array;
  tdAttributes: Uint8Array;
  xfam: Uint8Array;
  mrTd: Uint8Array;
  mrConfigId: Uint8Array;
  mrOwner: Uint8Array;
  mrOwnerConfig: Uint8Array;
  rtmrs: [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  reportData: Uint8Array;
  teeTcbSvn2?: Uint8Array;
  mrServiceTd?: Uint8Array;
}

/** SGX enclave report body (the Quoting Enclave's report), 384 bytes. */
export interface SgxReportBody {
  cpuSvn: Uint8Array;
  miscSelect: number;
  attributes: Uint8Array;
  mrEnclave: Uint8Array;
  mrSigner: Uint8Array;
  isvProdId: number;
  isvSvn: number;
  reportData: Uint8Array;
  /** The 384 raw bytes, as signed by the PCK key. */
  raw: Uint8Array;
}

/** ECDSA quote signature data with certification data type 6 (QE report certification data). */
export interface TdxQuoteSignatureData {
  /** r||s over header||body (64 bytes). */
  signature: Uint8Array;
  /** Raw P-256 point x||y (64 bytes). */
  attestationKey: Uint8Array;
  qeReport: SgxReportBody;
  /** r||s over the QE report by the PCK key. */
  qeReportSignature: Uint8Array;
  qeAuthData: Uint8Array;
  /** Inner certification data type: 5 = PCK certificate chain (PEM). */
  certificationDataType: number;
  /** The PEM chain: PCK leaf, intermediate (Platform/Processor CA), root (one C-string NUL terminator removed). */
  pckChainPem: string;
}

export interface TdxQuote {
  header: TdxQuoteHeader;
  body: TdReportBody;
  signatureData: TdxQuoteSignatureData;
  /** Exactly the bytes the attestation key signs: header || (v5: body descriptor ||) body. */
  signedBytes: Uint8Array;
  /** Declared quote length (everything up to the end of the signature data). */
  length: number;
  /**
   * Bytes after the declared signature data (padding some producers append). The parser ignores
   * them; the verifier refuses them unless told the input is a padded capture
   * (`allowTrailingBytes`).
   */
  trailingBytes: number;
}

class Reader {
  constructor(
    readonly buf: Uint8Array,
    public at = 0,
    readonly limit = buf.length,
  ) {}
  need(n: number, field: string): void {
    if (n < 0 || this.at + n > this.limit) {
      throw new ContrastError(
        'invalid-argument',
        `quote truncated: need ${n} bytes at offset ${this.at}, have ${Math.max(0, this.limit - this.at)}`,
        { field },
      );
    }
  }
  bytes(n: number, field: string): Uint8Array {
    this.need(n, field);
    const out = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }
  u16(field: string): number {
    this.need(2, field);
    const v = this.buf[this.at]! | (this.buf[this.at + 1]! << 8);
    this.at += 2;
    return v;
  }
  u32(field: string): number {
    this.need(4, field);
    const b = this.buf;
    const v = (b[this.at]! | (b[this.at + 1]! << 8) | (b[this.at + 2]! << 16)) + b[this.at + 3]! * 0x1000000;
    this.at += 4;
    return v;
  }
}

function bad(message: string, field: string): ContrastError {
  return new ContrastError('invalid-argument', message, { field });
}

/** Parses the 384-byte SGX report body of the Quoting Enclave. */
export function parseSgxReportBody(raw: Uint8Array): SgxReportBody {
  if (raw.length !== SGX_REPORT_BODY_LENGTH) throw bad('SGX report body must be 384 bytes', 'qe_report');
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  return {
    cpuSvn: raw.subarray(0, 16),
    miscSelect: dv.getUint32(16, true),
    attributes: raw.subarray(48, 64),
    mrEnclave: raw.subarray(64, 96),
    mrSigner: raw.subarray(128, 160),
    isvProdId: dv.getUint16(256, true),
    isvSvn: dv.getUint16(258, true),
    reportData: raw.subarray(320, 384),
    raw,
  };
}

function parseBody(raw: Uint8Array, bodyType: 2 | 3): TdReportBody {
  const at = (o: number, n: number) => raw.subarray(o, o + n);
  const body: TdReportBody = {
    bodyType,
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
    rtmrs: [at(328, 48), at(376, 48), at(424, 48), at(472, 48)],
    reportData: at(520, 64),
  };
  if (bodyType === 3) {
    body.teeTcbSvn2 = at(584, 16);
    body.mrServiceTd = at(600, 48);
  }
  return body;
}

/**
 * Parses a TDX DCAP quote (v4, or v5 with a TDX 1.0 / 1.5 body) by its declared lengths, which
 * must nest exactly (signature data = signature, key, certification data; certification data
 * ends with the PCK chain); trailing bytes after the signature data are ignored and counted. Throws
 * `ContrastError('invalid-argument')` naming the field on malformed input. Does not verify.
 */
export function parseTdxQuote(bytes: Uint8Array): TdxQuote {
  if (!(bytes instanceof Uint8Array)) throw bad('quote must be bytes', 'quote');
  const r = new Reader(bytes);
  const version = r.u16('header.version');
  if (version !== 4 && version !== 5) {
    throw bad(`unsupported quote version ${version} (expected 4 or 5)`, 'header.version');
  }
  const attestationKeyType = r.u16('header.att_key_type');
  const teeType = r.u32('header.tee_type');
  if (teeType !== TDX_TEE_TYPE) {
    throw bad(`TEE type 0x${teeType.toString(16)} is not TDX (0x81)`, 'header.tee_type');
  }
  const reserved = r.bytes(4, 'header.reserved');
  const qeVendorId = r.bytes(16, 'header.qe_vendor_id');
  const userData = r.bytes(20, 'header.user_data');
  const header: TdxQuoteHeader = { version, attestationKeyType, teeType, reserved, qeVendorId, userData };

  let bodyType: 2 | 3 = 2;
  let bodyLength = TD_REPORT_BODY_10_LENGTH;
  if (version === 5) {
    const type = r.u16('body.type');
    const size = r.u32('body.size');
    if (type === 2 && size === TD_REPORT_BODY_10_LENGTH) bodyType = 2;
    else if (type === 3 && size === TD_REPORT_BODY_15_LENGTH) bodyType = 3;
    else throw bad(`unsupported v5 body descriptor type ${type} size ${size}`, 'body.type');
    bodyLength = size;
  }
  const body = parseBody(r.bytes(bodyLength, 'body'), bodyType);
  const signedBytes = bytes.subarray(0, r.at);

  const sigDataLength = r.u32('signature_data_len');
  const sigEnd = r.at + sigDataLength;
  if (sigEnd > bytes.length) throw bad('signature data runs past the end of the quote', 'signature_data_len');
  const s = new Reader(bytes, r.at, sigEnd);
  const signature = s.bytes(64, 'signature');
  const attestationKey = s.bytes(64, 'attestation_key');
  const outerType = s.u16('certification_data.type');
  if (outerType !== 6) {
    throw bad(`certification data type ${outerType} is not 6 (QE report)`, 'certification_data.type');
  }
  const outerSize = s.u32('certification_data.size');
  const q = new Reader(bytes, s.at, s.at + outerSize);
  s.need(outerSize, 'certification_data.size');
  const qeReport = parseSgxReportBody(q.bytes(SGX_REPORT_BODY_LENGTH, 'qe_report'));
  const qeReportSignature = q.bytes(64, 'qe_report_signature');
  const authLen = q.u16('qe_auth_data.size');
  const qeAuthData = q.bytes(authLen, 'qe_auth_data');
  const certificationDataType = q.u16('pck_cert_chain.type');
  if (certificationDataType !== 5) {
    throw bad(
      `QE certification data type ${certificationDataType} is not 5 (PCK chain)`,
      'pck_cert_chain.type',
    );
  }
  const chainSize = q.u32('pck_cert_chain.size');
  const chainBytes = q.bytes(chainSize, 'pck_cert_chain');
  // The declared sizes nest exactly: the PCK chain ends the certification data, which ends the
  // signature data. Bytes left over inside a declared size are covered by no signature.
  if (q.at !== q.limit) {
    throw bad(
      `certification data size ${outerSize} leaves ${q.limit - q.at} bytes after the PCK chain`,
      'certification_data.size',
    );
  }
  if (s.at + outerSize !== sigEnd) {
    throw bad(
      `signature data length ${sigDataLength} leaves ${sigEnd - s.at - outerSize} bytes after the certification data`,
      'signature_data_len',
    );
  }
  // PEM text; producers may terminate it like a C string (one NUL). Anything else stays in the
  // text, where the verifier's exact PEM reader refuses it.
  const chainEnd =
    chainBytes.length > 0 && chainBytes[chainBytes.length - 1] === 0
      ? chainBytes.length - 1
      : chainBytes.length;
  const pckChainPem = new TextDecoder('utf-8', { fatal: false }).decode(chainBytes.subarray(0, chainEnd));

  return {
    header,
    body,
    signatureData: {
      signature,
      attestationKey,
      qeReport,
      qeReportSignature,
      qeAuthData,
      certificationDataType,
      pckChainPem,
    },
    signedBytes,
    length: sigEnd,
    trailingBytes: bytes.length - sigEnd,
  };
}

/**
 * Evidence is the quote exactly: bytes after the declared signature data are covered by no
 * signature, so they are refused (`malformed`, field `quote`) unless the input is known to be a
 * padded capture (`allowTrailingBytes`).
 */
export function trailingBytesFailure(quote: TdxQuote, allowTrailingBytes = false): VerifyFailure | undefined {
  if (quote.trailingBytes === 0 || allowTrailingBytes) return undefined;
  return {
    code: 'malformed',
    message: `${quote.trailingBytes} bytes follow the quote's declared signature data; evidence must be the quote exactly`,
    field: 'quote',
  };
}

/** The body's fields as lower-case hex, for claims and printing. */
export function tdReportBodyHex(body: TdReportBody): Record<string, string | string[]> {
  // One native hex conversion of the whole body when the fields are views of one buffer (as the
  // parser makes them), then substrings; else field by field.
  const base = body.teeTcbSvn;
  const whole =
    body.reportData.buffer === base.buffer && body.reportData.byteOffset === base.byteOffset + 520
      ? hex(new Uint8Array(base.buffer, base.byteOffset, 584))
      : undefined;
  const f = (b: Uint8Array, at: number) =>
    whole && b.buffer === base.buffer && b.byteOffset === base.byteOffset + at
      ? whole.slice(2 * at, 2 * (at + b.length))
      : hex(b);
  const out: Record<string, string | string[]> = {
    teeTcbSvn: f(body.teeTcbSvn, 0),
    mrSeam: f(body.mrSeam, 16),
    mrSignerSeam: f(body.mrSignerSeam, 64),
    seamAttributes: f(body.seamAttributes, 112),
    tdAttributes: f(body.tdAttributes, 120),
    xfam: f(body.xfam, 128),
    mrTd: f(body.mrTd, 136),
    mrConfigId: f(body.mrConfigId, 184),
    mrOwner: f(body.mrOwner, 232),
    mrOwnerConfig: f(body.mrOwnerConfig, 280),
    rtmrs: body.rtmrs.map((r, i) => f(r, 328 + 48 * i)),
    reportData: f(body.reportData, 520),
  };
  if (body.teeTcbSvn2) out['teeTcbSvn2'] = hex(body.teeTcbSvn2);
  if (body.mrServiceTd) out['mrServiceTd'] = hex(body.mrServiceTd);
  return out;
}
