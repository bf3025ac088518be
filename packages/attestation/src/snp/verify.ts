// Full SNP report verification. Order (each step has its own failure code):
// 1. size, reserved bytes 0x330-0x49F of the signature field zero     -> malformed
// 2. VCEK/VLEK -> ASK/ASVK -> ARK against the trust anchors (cached)     -> chain-invalid
// 3. ECDSA P-384 signature over bytes 0x000-0x29F with the leaf key      -> signature-invalid
// 4. parse by declared version                                          -> malformed
// 5. certificate validity at `now`, CRL                                  -> certificate-expired, revoked
// 6. leaf <-> report binding: signing key kind, hwID == CHIP_ID, SPLs == REPORTED_TCB -> chain-invalid
// 7. REPORT_DATA, then reference values                                  -> report-data-mismatch, ...
//
// Written as crypto steps (common/crypto.ts): `verifySnpReport` (Node entry, verify-node.ts) runs
// them with node:crypto, `verifySnpReportAsync` (browser entry) with WebCrypto. Browser-safe.

import {
  bytesEqual,
  type EvidenceClaims,
  isContrastError,
  type VerifyFailure,
  type VerifyResult,
  verifyFail,
  verifyOk,
} from '@contrast-cc/core';
import { latin1, sameBytes } from '../common/bytes.js';
import { type CryptoSteps, verifyStep } from '../common/crypto.js';
import { loadCertificates, type ParsedCertificate, type ParsedCrl, parseCrl } from '../common/x509.js';
import {
  amdTrustAnchorsStep,
  buildSnpChainStep,
  type ChainFailure,
  checkChainRevocationStep,
  checkChainTime,
  type SnpTrustAnchor,
  type VerifiedChain,
} from './certs.js';
import { snpClaimExtensions, snpReportExtraJson } from './claim-extensions.js';
import {
  type CompiledSnpReferenceValues,
  checkSnpReferenceValues,
  compileSnpReferenceValues,
  type SnpReferenceValues,
} from './policy.js';
import {
  hex,
  parseSnpReport,
  productFromCpuid,
  SNP_REPORT_SIZE,
  SNP_SIGNATURE_RESERVED_OFFSET,
  SNP_SIGNED_LENGTH,
  type SnpProductLine,
  type SnpReport,
  snpReportToJson,
} from './report.js';

/** The evidence kind of raw SNP reports. @public */
export const SNP_EVIDENCE_KIND = 'snp-report';

/** Claims of an accepted SNP report. @public */
export interface SnpClaims extends EvidenceClaims {
  kind: typeof SNP_EVIDENCE_KIND;
  /** HOST_DATA as hex. */
  policyDigest: string;
  details: SnpClaimDetails;
}

/** JSON-friendly details of an accepted SNP report. @public */
export interface SnpClaimDetails extends Record<string, unknown> {
  product: SnpProductLine;
  signingKey: 'vcek' | 'vlek';
  chipId: string;
  vmpl: number;
  /** The leaf certificate (VCEK/VLEK): subject, serial, validity. */
  certificate: { subject: string; issuer: string; serialNumber: string; notBefore: string; notAfter: string };
  /** Whether a CRL was checked. */
  revocation: 'checked' | 'not-checked';
  /** Every parsed report field (see snpReportToJson). */
  report: Record<string, unknown>;
}

/** Options of {@link verifySnpReport}. @public */
export interface SnpVerifyOptions {
  /** The VCEK or VLEK, DER or PEM. A PEM may also hold the ASK and ARK after the leaf. */
  vcek?: Uint8Array | string;
  /** ASK (or ASVK) and ARK, PEM (KDS `cert_chain` form). Optional: the anchors carry them. */
  certChain?: Uint8Array | string;
  /** AMD's CRL (DER or PEM), issued by the ARK. */
  crl?: Uint8Array | string;
  /** Fail with `collateral-missing` when no CRL is given. */
  requireCrl?: boolean;
  /** What the report must satisfy; VMPL defaults to 0 when reference values are given. */
  referenceValues?: SnpReferenceValues | CompiledSnpReferenceValues;
  /** The exact REPORT_DATA the report must carry. */
  reportData?: Uint8Array;
  /** The time for certificate and CRL validity; defaults to now. */
  now?: Date;
  /** Trusted roots; default: AMD's embedded roots for Milan, Genoa and Turin. */
  trustAnchors?: SnpTrustAnchor[];
  /** The product line, when known beforehand (else: reference values, CPUID, the VCEK). */
  product?: SnpProductLine;
}

// Verified chains and parsed CRLs are cached by their exact input. An entry keeps its own copy of
// the input it was built from (taken once, when it is built); a lookup finds the entry by a short
// key (length and the last bytes: a certificate's signature) and is a hit only when the input
// equals that copy byte for byte. So nothing is hashed or copied per call, and a caller that
// reuses or mutates its buffer can never be answered with a result built from other bytes.
type CertInput = Uint8Array | string;
interface Entry<T> {
  inputs: (CertInput | undefined)[];
  value: T;
}

const chainCache = new WeakMap<SnpTrustAnchor[], Map<string, Entry<VerifiedChain | ChainFailure>>>();
const CHAIN_CACHE_LIMIT = 256;
const crlCache = new Map<string, Entry<ParsedCrl>>();
const CRL_CACHE_LIMIT = 32;

/** The lookup key of an input: its type, length and last 64 bytes (a certificate's signature). */
function shortKey(input: CertInput | undefined): string {
  if (input === undefined) return '-';
  if (typeof input === 'string') return `s${input.length}:${input.slice(-64)}`;
  const tail = Math.min(64, input.byteLength);
  const end = input.byteOffset + input.byteLength;
  return `b${input.byteLength}:${latin1(new Uint8Array(input.buffer, end - tail, tail))}`;
}

function sameInput(kept: CertInput | undefined, input: CertInput | undefined): boolean {
  if (typeof kept === 'string' || kept === undefined || typeof input === 'string' || input === undefined) {
    return kept === input;
  }
  return sameBytes(kept, input);
}

/** A copy the caller cannot change (strings are immutable). */
function keep(input: CertInput | undefined): CertInput | undefined {
  return input instanceof Uint8Array ? new Uint8Array(input) : input;
}

function* lookup<T>(
  cache: Map<string, Entry<T>>,
  key: string,
  inputs: (CertInput | undefined)[],
  limit: number,
  build: () => CryptoSteps<T>,
): CryptoSteps<T> {
  const hit = cache.get(key);
  if (hit?.inputs.every((kept, i) => sameInput(kept, inputs[i]))) return hit.value;
  const value = yield* build();
  cache.delete(key);
  if (cache.size >= limit) cache.delete(cache.keys().next().value!);
  cache.set(key, { inputs: inputs.map(keep), value });
  return value;
}

function cachedChain(
  anchors: SnpTrustAnchor[],
  leafInput: CertInput,
  chainInput: CertInput | undefined,
  signingKey: 'vcek' | 'vlek',
  product: SnpProductLine | undefined,
): CryptoSteps<VerifiedChain | ChainFailure> {
  let perAnchors = chainCache.get(anchors);
  if (!perAnchors) {
    perAnchors = new Map();
    chainCache.set(anchors, perAnchors);
  }
  const key = `${signingKey}:${product ?? ''}:${shortKey(leafInput)}:${shortKey(chainInput)}`;
  return lookup(perAnchors, key, [leafInput, chainInput], CHAIN_CACHE_LIMIT, function* () {
    const leafCerts = loadCertificates(leafInput, signingKey);
    const supplied = [
      ...leafCerts.slice(1),
      ...(chainInput === undefined ? [] : loadCertificates(chainInput, 'cert-chain')),
    ];
    return yield* buildSnpChainStep(leafCerts[0]!, supplied, anchors, signingKey, product);
  });
}

function cachedCrl(input: CertInput): CryptoSteps<ParsedCrl> {
  // biome-ignore lint/correctness/useYield: parsing needs no crypto; lookup takes steps
  return lookup(crlCache, shortKey(input), [input], CRL_CACHE_LIMIT, function* () {
    return parseCrl(input);
  });
}

function isFailure(x: VerifiedChain | ChainFailure): x is ChainFailure {
  return 'code' in x;
}

function isCompiled(rv: SnpReferenceValues | CompiledSnpReferenceValues): rv is CompiledSnpReferenceValues {
  return 'vmpl' in rv && 'measurements' in rv;
}

/** The product line named by the caller: explicit option first, then reference values. */
function productHint(options: SnpVerifyOptions, rv: CompiledSnpReferenceValues | undefined) {
  return options.product ?? rv?.product;
}

/**
 * Verifies a raw SNP report (or one parsed before: only its `raw` bytes are used) completely: chain, signature, validity at
 * `now`, optional CRL, VCEK binding, REPORT_DATA and reference values. Never throws for bad
 * evidence (returns a failure with a code and field); throws `invalid-argument` for malformed
 * reference values or trust anchors (misuse). Crypto steps: run by `verifySnpReport` (node:crypto)
 * and `verifySnpReportAsync` (WebCrypto).
 */
export function* verifySnpReportStep(
  input: Uint8Array | SnpReport,
  options: SnpVerifyOptions = {},
): CryptoSteps<VerifyResult<SnpClaims>> {
  const rv =
    options.referenceValues === undefined
      ? undefined
      : isCompiled(options.referenceValues)
        ? options.referenceValues
        : compileSnpReferenceValues(options.referenceValues);
  const anchors = options.trustAnchors ?? (yield* amdTrustAnchorsStep());
  try {
    return yield* verifyInner(input, options, rv, anchors);
  } catch (e) {
    if (isContrastError(e)) {
      return verifyFail('malformed', e.message, e.field ?? 'report');
    }
    return verifyFail(
      'malformed',
      `unreadable evidence: ${e instanceof Error ? e.message : String(e)}`,
      'report',
    );
  }
}

function* verifyInner(
  input: Uint8Array | SnpReport,
  options: SnpVerifyOptions,
  rv: CompiledSnpReferenceValues | undefined,
  anchors: SnpTrustAnchor[],
): CryptoSteps<VerifyResult<SnpClaims>> {
  const raw = input instanceof Uint8Array ? input : input.raw;
  if (!(raw instanceof Uint8Array) || raw.length !== SNP_REPORT_SIZE) {
    return verifyFail(
      'malformed',
      `an SNP report is ${SNP_REPORT_SIZE} bytes, got ${raw instanceof Uint8Array ? raw.length : typeof raw}`,
      'report',
    );
  }
  const reserved = signatureReservedFailure(raw);
  if (reserved) return { ok: false, reason: reserved };
  if (options.vcek === undefined) {
    return verifyFail('collateral-missing', 'no VCEK or VLEK certificate was given', 'vcek');
  }
  const hint = productHint(options, rv);
  // SIGNING_KEY (bits 4:2 of KEY_INFO at 0x48) selects the leaf kind before parsing.
  const signingKeyId = (raw[0x48]! >> 2) & 0x7;
  if (signingKeyId !== 0 && signingKeyId !== 1) {
    return verifyFail(
      'signature-invalid',
      `report SIGNING_KEY is ${signingKeyId}: not signed by a VCEK or VLEK`,
      'signing_key',
    );
  }
  const signingKey = signingKeyId === 0 ? 'vcek' : 'vlek';

  // 2. chain
  const chain = yield* cachedChain(anchors, options.vcek, options.certChain, signingKey, hint);
  if (isFailure(chain)) return verifyFail(chain.code, chain.message, chain.field);

  // 3. signature
  const failure = yield* checkSignature(raw, chain.leaf);
  if (failure) return { ok: false, reason: failure };

  // 4. parse (always from the signed bytes, never from a caller's parsed object)
  let report = parseSnpReport(raw);
  const cpuProduct = report.cpuid ? productFromCpuid(report.cpuid.family, report.cpuid.model) : undefined;
  if (cpuProduct && cpuProduct !== chain.product) {
    return verifyFail(
      'chain-invalid',
      `report CPUID says ${cpuProduct}, the ${signingKey.toUpperCase()} is for ${chain.product}`,
      'product',
    );
  }
  if (report.product !== chain.product) report = parseSnpReport(raw, { product: chain.product });

  // 5. time and revocation
  const now = options.now ?? new Date();
  const timeFailure = checkChainTime(chain, now, signingKey);
  if (timeFailure) return verifyFail(timeFailure.code, timeFailure.message, timeFailure.field);
  let revocation: SnpClaimDetails['revocation'] = 'not-checked';
  if (options.crl !== undefined) {
    const crl = yield* cachedCrl(options.crl);
    const r = yield* checkChainRevocationStep(chain, crl, now, signingKey);
    if (r.failure) return verifyFail(r.failure.code, r.failure.message, r.failure.field);
    revocation = 'checked';
  } else if (options.requireCrl) {
    return verifyFail('collateral-missing', 'a CRL is required but none was given', 'crl');
  }

  // 6. binding of the leaf to this report
  const binding = checkBinding(report, chain, signingKey);
  if (binding) return { ok: false, reason: binding };

  // 7. report data and reference values
  if (options.reportData !== undefined && !bytesEqual(report.reportData, options.reportData)) {
    return verifyFail(
      'report-data-mismatch',
      'REPORT_DATA does not match the expected binding',
      'report_data',
    );
  }
  if (rv) {
    if (rv.product && rv.product !== chain.product) {
      return verifyFail('chain-invalid', `product is ${chain.product}, expected ${rv.product}`, 'product');
    }
    const policyFailure = checkSnpReferenceValues(report, rv);
    if (policyFailure) return { ok: false, reason: policyFailure };
  }

  const leaf = chain.leaf;
  const verdict = {
    product: chain.product,
    signingKey,
    chipId: hex(report.chipId),
    vmpl: report.vmpl,
    certificate: {
      subject: leaf.subjectCommonName,
      issuer: leaf.issuerCommonName,
      serialNumber: leaf.serialNumber,
      notBefore: leaf.notBefore.toISOString(),
      notAfter: leaf.notAfter.toISOString(),
    },
    revocation,
  } as const;
  const claims: SnpClaims = {
    kind: SNP_EVIDENCE_KIND,
    reportData: report.reportData,
    measurement: hex(report.measurement),
    policyDigest: hex(report.hostData),
    insecure: chain.anchor.insecure,
    details: { ...verdict, report: snpReportToJson(report) },
    certificateClaims: snpClaimExtensions(report),
    // The report's fields are in certificateClaims (upstream's layout); the certificate adds
    // only those that layout lacks.
    certificateDetails: { ...verdict, reportExtra: snpReportExtraJson(report) },
  };
  return verifyOk(claims);
}

/**
 * The SIGNATURE field (0x2A0-0x49F) is R (72 bytes), S (72 bytes) and 368 reserved bytes
 * (0x330-0x49F) that the firmware writes as zero. No signature covers them, so anything else
 * there is refused rather than carried along unauthenticated.
 */
function signatureReservedFailure(raw: Uint8Array): VerifyFailure | undefined {
  for (let i = SNP_SIGNATURE_RESERVED_OFFSET; i < SNP_REPORT_SIZE; i++) {
    if (raw[i] !== 0) {
      return {
        code: 'malformed',
        message: `reserved byte 0x${i.toString(16)} of the signature field (0x330-0x49f, must be zero) is 0x${raw[i]!.toString(16).padStart(2, '0')}`,
        field: 'signature',
      };
    }
  }
  return undefined;
}

function* checkSignature(raw: Uint8Array, leaf: ParsedCertificate): CryptoSteps<VerifyFailure | undefined> {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const algo = view.getUint32(0x34, true);
  if (algo !== 1) {
    return {
      code: 'signature-invalid',
      message: `unsupported SIGNATURE_ALGO ${algo} (1 = ECDSA P-384/SHA-384)`,
      field: 'signature_algo',
    };
  }
  const sig = new Uint8Array(96);
  for (let i = 0; i < 48; i++) {
    sig[47 - i] = raw[0x2a0 + i]!;
    sig[95 - i] = raw[0x2e8 + i]!;
  }
  let upperZero = true;
  for (let i = 48; i < 72; i++) if (raw[0x2a0 + i] !== 0 || raw[0x2e8 + i] !== 0) upperZero = false;
  let ok = false;
  if (upperZero && leaf.publicKey.curve === 'P-384') {
    ok = yield* verifyStep(
      { name: 'ecdsa', hash: 'SHA-384', encoding: 'p1363' },
      leaf.publicKey,
      raw.subarray(0, SNP_SIGNED_LENGTH),
      sig,
    );
  }
  if (!ok) {
    return {
      code: 'signature-invalid',
      message: `report signature does not verify with the ${leaf.subjectCommonName} key`,
      field: 'signature',
    };
  }
  return undefined;
}

function checkBinding(
  report: SnpReport,
  chain: VerifiedChain,
  signingKey: 'vcek' | 'vlek',
): VerifyFailure | undefined {
  const ext = chain.extensions;
  const name = signingKey.toUpperCase();
  if (signingKey === 'vcek') {
    if (!ext.hwId)
      return { code: 'chain-invalid', message: 'the VCEK has no hwID extension', field: 'vcek.hwID' };
    const prefix = report.chipId.subarray(0, ext.hwId.length);
    const rest = report.chipId.subarray(ext.hwId.length);
    if (!bytesEqual(prefix, ext.hwId) || rest.some((b) => b !== 0)) {
      return {
        code: 'chain-invalid',
        message: `the VCEK belongs to chip ${hex(ext.hwId).slice(0, 16)}…, the report comes from chip ${hex(report.chipId).slice(0, 16)}…`,
        field: 'vcek.hwID',
      };
    }
  } else if (ext.hwId) {
    return {
      code: 'chain-invalid',
      message: 'the report is VLEK-signed but the certificate is a VCEK',
      field: 'vlek',
    };
  }
  const t = report.reportedTcb;
  const pairs: [string, number, number | undefined][] = [
    ['blSPL', ext.blSpl, t.bootloader],
    ['teeSPL', ext.teeSpl, t.tee],
    ['snpSPL', ext.snpSpl, t.snp],
    ['ucodeSPL', ext.ucodeSpl, t.microcode],
  ];
  if (chain.product === 'Turin') pairs.push(['fmcSPL', ext.fmcSpl ?? 0, t.fmc]);
  for (const [spl, certValue, reportValue] of pairs) {
    if (certValue !== reportValue) {
      return {
        code: 'chain-invalid',
        message: `${name} ${spl} ${certValue} does not match REPORTED_TCB (${reportValue})`,
        field: `${signingKey}.${spl}`,
      };
    }
  }
  return undefined;
}
