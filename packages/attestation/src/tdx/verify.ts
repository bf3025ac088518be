// Written as crypto steps (common/crypto.ts): `verifyTdxQuote` (Node entry, verify-node.ts) runs
// them with node:crypto, `verifyTdxQuoteAsync` (browser entry) with WebCrypto. Browser-safe.

import {
  bytesEqual,
  concatBytes,
  type EvidenceClaims,
  isContrastError,
  type Logger,
  noopLogger,
  type VerifyFailure,
} from '@contrast-cc/core';
import { hex as hexOf, sameBytes } from '../common/bytes.js';
import {
  type CryptoSteps,
  digestStep,
  type PublicKeyInfo,
  p256KeyFromRaw,
  someStep,
  verifyStep,
} from '../common/crypto.js';
import { DER_TAG, derChildren, derContent, readDerExact } from '../common/der.js';
import {
  loadCertificates,
  type ParsedCertificate,
  type ParsedCrl,
  parseCrl,
  signedByStep,
  verifyWithAlgorithmStep,
} from '../common/x509.js';
import { tdxClaimExtensions } from './claim-extensions.js';
import {
  parseQeIdentity,
  parseTcbInfo,
  type QeIdentity,
  splitSignedJson,
  type TcbInfo,
  type TdxCollateral,
} from './collateral.js';
import { type PckExtensions, parsePckExtensions, pckExtensionsJson, SGX_EXTENSIONS_OID } from './pck.js';
import {
  ECDSA_P256_KEY_TYPE,
  hex,
  INTEL_QE_VENDOR_ID,
  parseTdxQuote,
  type TdxQuote,
  tdReportBodyHex,
  trailingBytesFailure,
} from './quote.js';
import {
  type CompiledReferenceValues,
  checkReferenceValues,
  compileReferenceValues,
  DEFAULT_ACCEPTED_TCB_STATUSES,
  type TdxReferenceValues,
} from './reference-values.js';
import { Reject } from './reject.js';
import { INTEL_SGX_ROOT_CA_PEM } from './roots.js';
import { evaluateQeIdentity, evaluateTdxTcb, type TdxTcbEvaluation, type TdxTcbStatus } from './tcb.js';

export const TDX_EVIDENCE_KIND = 'tdx-quote';

/** Trust anchors prepared once (parsed, fingerprinted). */
export interface TdxTrustAnchors {
  readonly certs: readonly ParsedCertificate[];
  /** True when every anchor is Intel's SGX Root CA. */
  readonly intel: boolean;
  readonly key: string;
}

/** Parses trust anchors (PEM text or DER). Throws `invalid-argument` for unparseable input. */
export function createTrustAnchors(anchors: readonly (string | Uint8Array)[]): TdxTrustAnchors {
  const certs: ParsedCertificate[] = [];
  for (const [i, a] of anchors.entries()) {
    certs.push(...loadCertificates(a, `trustAnchors[${i}]`));
  }
  intelRootDer ??= loadCertificates(INTEL_SGX_ROOT_CA_PEM, 'INTEL_SGX_ROOT_CA_PEM')[0]!.der;
  const root = intelRootDer;
  return {
    certs,
    intel: certs.every((c) => sameBytes(c.der, root)),
    // The anchors' identity for cache keys: each certificate's length and signature.
    key: certs.map((c) => `${c.der.length}:${hexOf(c.signature)}`).join(','),
  };
}

let intelRootDer: Uint8Array | undefined;

let intelAnchors: TdxTrustAnchors | undefined;
/** The default trust anchors: the embedded Intel SGX Root CA. */
export function intelTrustAnchors(): TdxTrustAnchors {
  intelAnchors ??= createTrustAnchors([INTEL_SGX_ROOT_CA_PEM]);
  return intelAnchors;
}

export interface TdxVerifyOptions {
  /** Intel collateral (any subset); TCB status is evaluated when `tcbInfo` is present. */
  collateral?: TdxCollateral;
  /** Reference values (upstream manifest field names); TD attributes default to SEPT_VE_DISABLE only. */
  referenceValues?: TdxReferenceValues;
  /** The exact REPORT_DATA the quote must carry (64 bytes). */
  reportData?: Uint8Array;
  /** Allowed policy digests (hex of MRCONFIGID[0:32]); absent = not checked. */
  policyDigests?: readonly string[];
  /** Time at which certificates and collateral must be valid; default now. */
  now?: Date;
  /** Trusted roots; default the embedded Intel SGX Root CA. Claims are `insecure` for any other. */
  trustAnchors?: TdxTrustAnchors;
  /** Overrides the reference values' AcceptedTcbStatuses. */
  acceptedTcbStatuses?: readonly TdxTcbStatus[];
  /** Fail with `collateral-missing` when no TCB info is given. */
  requireCollateral?: boolean;
  /**
   * Remember verified QE report signatures (per exact report and signature bytes, under the exact
   * PCK chain) across calls, as the PCK chain and collateral are remembered. Default true; the
   * quote signature is checked on every call.
   */
  cacheQeReport?: boolean;
  /**
   * Accept bytes after the quote's declared signature data (and ignore them: no signature covers
   * them). Default false: evidence is the quote exactly. Set it for captures stored as padded
   * buffers (e.g. an 8000-byte configfs-tsm read), as the file-based CLI entry point does.
   */
  allowTrailingBytes?: boolean;
  logger?: Logger;
}

/** JSON-friendly claim details of a verified TDX quote. */
export interface TdxClaimDetails extends Record<string, unknown> {
  version: number;
  bodyType: number;
  teeTcbSvn: string;
  mrSeam: string;
  mrSignerSeam: string;
  seamAttributes: string;
  tdAttributes: string;
  xfam: string;
  mrTd: string;
  mrConfigId: string;
  mrOwner: string;
  mrOwnerConfig: string;
  rtmrs: string[];
  debug: boolean;
  qeSvn: number;
  pck: Record<string, unknown>;
  tcbStatus?: TdxTcbStatus;
  advisoryIds?: string[];
  tcbDate?: string;
  tcbEvaluationDataNumber?: number;
  /** Earliest nextUpdate of the collateral used (RFC 3339), when collateral was given. */
  collateralNextUpdate?: string;
}

export interface TdxClaims extends EvidenceClaims {
  details: TdxClaimDetails;
  /** The TCB evaluation, when TCB info was given. */
  tcb?: TdxTcbEvaluation;
}

/** The TD report body fields that the quote's certificate claims (upstream's layout) carry too. */
const BODY_FIELDS_IN_CLAIMS = new Set([
  'version',
  'teeTcbSvn',
  'mrSeam',
  'mrSignerSeam',
  'seamAttributes',
  'tdAttributes',
  'xfam',
  'mrTd',
  'mrConfigId',
  'mrOwner',
  'mrOwnerConfig',
  'rtmrs',
]);

/**
 * `details` as a mesh certificate carries them: without the fields its per-field extensions
 * (`1.3.9901.2.2.N`) hold, so the certificate carries each once. TDX 1.5's TEE_TCB_SVN2 and
 * MRSERVICETD, which upstream's layout lacks, stay, as do the verdict (TCB status, PCK fields).
 */
function certificateDetailsOf(details: TdxClaimDetails): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(details)) if (!BODY_FIELDS_IN_CLAIMS.has(k)) out[k] = v;
  return out;
}

/** A core VerifyResult whose failure may carry the TCB evaluation (e.g. a rejected status). */
export type TdxVerifyResult =
  | { ok: true; claims: TdxClaims }
  | { ok: false; reason: VerifyFailure; tcb?: TdxTcbEvaluation };

// --- caches (content-keyed, bounded) ---

class Lru<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly max: number) {}
  get(k: string): V | undefined {
    const v = this.map.get(k);
    if (v !== undefined) {
      this.map.delete(k);
      this.map.set(k, v);
    }
    return v;
  }
  set(k: string, v: V): void {
    this.map.delete(k);
    this.map.set(k, v);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value as string);
  }
}

interface VerifiedChain {
  leaf: ParsedCertificate;
  intermediate: ParsedCertificate;
  anchor: ParsedCertificate;
  pck: PckExtensions;
  pckKey: PublicKeyInfo;
  /** hex(QE report || its signature) already verified with pckKey. */
  verifiedQeReports: Set<string>;
}
const chainCache = new Lru<{ pem: string; result: VerifiedChain | Reject }>(64);
const keyCache = new Lru<PublicKeyInfo>(256);

interface SignedCollateral<T> {
  value: T;
  signer: ParsedCertificate;
}
interface VerifiedCollateral {
  tcbInfo?: SignedCollateral<TcbInfo>;
  qeIdentity?: SignedCollateral<QeIdentity>;
  pckCrl?: ParsedCrl;
  rootCrl?: ParsedCrl;
}
const collateralCache = new Lru<VerifiedCollateral | Reject>(64);

/** ECDSA P-256 / SHA-256 check of an r||s signature (as in quotes and PCS JSON). */
export function* ecdsaP256Step(key: PublicKeyInfo, data: Uint8Array, rs: Uint8Array): CryptoSteps<boolean> {
  if (rs.length !== 64 || key.curve !== 'P-256') return false;
  return yield* verifyStep({ name: 'ecdsa', hash: 'SHA-256', encoding: 'p1363' }, key, data, rs);
}

function attestationKey(raw: Uint8Array): PublicKeyInfo {
  const id = hex(raw);
  let key = keyCache.get(id);
  if (!key) {
    try {
      key = p256KeyFromRaw(raw);
    } catch {
      throw new Reject('signature-invalid', 'the attestation key is not a P-256 point', 'attestation_key');
    }
    keyCache.set(id, key);
  }
  return key;
}

function* verifyChain(pem: string, anchors: TdxTrustAnchors): CryptoSteps<VerifiedChain> {
  // A short key finds the entry; the full PEM is then compared, so a hit is exact.
  const cacheKey = `${anchors.key}|${pem.length}|${pem.slice(-96)}`;
  const cached = chainCache.get(cacheKey);
  if (cached && cached.pem === pem) {
    if (cached.result instanceof Reject) throw cached.result;
    return cached.result;
  }
  let result: VerifiedChain | Reject;
  try {
    result = yield* buildChain(pem, anchors);
  } catch (e) {
    if (!(e instanceof Reject)) throw e;
    result = e;
  }
  chainCache.set(cacheKey, { pem, result });
  if (result instanceof Reject) throw result;
  return result;
}

function* buildChain(pem: string, anchors: TdxTrustAnchors): CryptoSteps<VerifiedChain> {
  // Certification data type 5 is the PEM concatenation PCK ‖ PCK CA ‖ root. No signature covers
  // the text itself, so it must be exact: three certificates in RFC 7468 strict form, nothing else.
  let certs: ParsedCertificate[];
  try {
    certs = loadCertificates(pem, 'pck_cert_chain', { exact: true });
  } catch (e) {
    if (isContrastError(e)) throw new Reject('malformed', e.message, e.field ?? 'pck_cert_chain');
    throw e;
  }
  const [leaf, intermediate, root] = certs;
  if (!leaf || !intermediate || !root || certs.length !== 3) {
    throw new Reject(
      'malformed',
      `the PCK chain holds ${certs.length} certificates, expected 3 (PCK, PCK CA, root)`,
      'pck_cert_chain',
    );
  }
  const anchor = anchors.certs.find((a) => bytesEqual(a.der, root.der));
  if (!anchor) {
    throw new Reject('chain-invalid', 'the PCK chain does not end in a trusted root', 'pck_cert_chain.root');
  }
  if (!isCa(intermediate) || !(yield* signedByStep(intermediate, anchor))) {
    throw new Reject(
      'chain-invalid',
      'the PCK CA is not signed by the trusted root',
      'pck_cert_chain.intermediate',
    );
  }
  if (!(yield* signedByStep(leaf, intermediate))) {
    throw new Reject('chain-invalid', 'the PCK certificate is not signed by the PCK CA', 'pck_certificate');
  }
  const key = leaf.publicKey;
  if (key.type !== 'ec' || key.curve !== 'P-256') {
    throw new Reject('chain-invalid', 'the PCK key is not a P-256 key', 'pck_certificate');
  }
  let pck: PckExtensions;
  try {
    const ext = leaf.extensions.get(SGX_EXTENSIONS_OID)?.value;
    if (!ext)
      throw new Reject(
        'chain-invalid',
        'the PCK certificate has no SGX extensions',
        'pck_certificate.sgx_extensions',
      );
    pck = parsePckExtensions(ext);
  } catch (e) {
    if (isContrastError(e)) throw new Reject('malformed', e.message, e.field ?? 'pck_certificate');
    throw e;
  }
  return {
    leaf,
    intermediate,
    anchor,
    pck,
    pckKey: key,
    verifiedQeReports: new Set(),
  };
}

function checkValidity(cert: ParsedCertificate, now: Date, field: string): void {
  if (now < cert.notBefore || now > cert.notAfter) {
    throw new Reject(
      'certificate-expired',
      `certificate not valid at ${now.toISOString()} (valid ${cert.notBefore.toISOString()} .. ${cert.notAfter.toISOString()})`,
      field,
    );
  }
}

function* crlSignatureOk(crl: ParsedCrl, issuer: ParsedCertificate): CryptoSteps<boolean> {
  if (!bytesEqual(crl.issuerDer, issuer.subjectDer)) return false;
  return yield* verifyWithAlgorithmStep(crl.signatureAlgorithm, crl.tbs, crl.signature, issuer.publicKey);
}

/** basicConstraints cA = TRUE. */
function isCa(cert: ParsedCertificate): boolean {
  const bc = cert.extensions.get('2.5.29.19');
  if (!bc) return false;
  try {
    const [first] = derChildren(readDerExact(bc.value, 'basicConstraints'), 'basicConstraints');
    return first?.tag === DER_TAG.boolean && derContent(first)[0] !== 0;
  } catch {
    return false;
  }
}

function* verifySigned<T>(
  doc: Uint8Array,
  chainPem: Uint8Array | undefined,
  member: string,
  name: string,
  parse: (v: unknown) => T,
  anchors: TdxTrustAnchors,
): CryptoSteps<SignedCollateral<T>> {
  if (!chainPem)
    throw new Reject('collateral-missing', `${name} needs its issuer chain`, `${name}_issuer_chain`);
  let signer: ParsedCertificate;
  let signed: ReturnType<typeof splitSignedJson>;
  let value: T;
  try {
    signer = loadCertificates(chainPem, `${name}_issuer_chain`)[0]!;
    signed = splitSignedJson(doc, member, name);
  } catch (e) {
    if (isContrastError(e)) throw new Reject('collateral-invalid', e.message, e.field ?? name);
    throw e;
  }
  if (!(yield* someStep(anchors.certs, (a) => signedByStep(signer, a)))) {
    throw new Reject(
      'collateral-invalid',
      `the ${name} signer is not signed by a trusted root`,
      `${name}_issuer_chain`,
    );
  }
  if (!(yield* ecdsaP256Step(signer.publicKey, signed.signed, signed.signature))) {
    throw new Reject('collateral-invalid', `the ${name} signature does not verify`, `${name}.signature`);
  }
  try {
    value = parse(signed.value);
  } catch (e) {
    if (isContrastError(e)) throw new Reject('collateral-invalid', e.message, e.field ?? name);
    throw e;
  }
  return { value, signer };
}

/**
 * Collateral verified for one TdxCollateral object, keyed by the identity of its byte arrays (the
 * PcsClient and loadCollateralDir hand out the same arrays until they refresh): a hit costs no
 * hashing. Byte arrays passed as collateral must not be mutated afterwards.
 */
const collateralByObject = new WeakMap<
  TdxCollateral,
  {
    pieces: (Uint8Array | undefined)[];
    intermediate: ParsedCertificate;
    anchors: string;
    result: VerifiedCollateral;
  }
>();

function* verifyCollateral(
  c: TdxCollateral,
  chain: VerifiedChain,
  anchors: TdxTrustAnchors,
): CryptoSteps<VerifiedCollateral> {
  const pieces = [
    c.tcbInfo,
    c.tcbInfoIssuerChain,
    c.qeIdentity,
    c.qeIdentityIssuerChain,
    c.pckCrl,
    c.rootCaCrl,
  ];
  const known = collateralByObject.get(c);
  if (
    known &&
    known.intermediate === chain.intermediate &&
    known.anchors === anchors.key &&
    known.pieces.every((p, i) => p === pieces[i])
  ) {
    return known.result;
  }
  const result = yield* verifyCollateralByContent(c, pieces, chain, anchors);
  collateralByObject.set(c, { pieces, intermediate: chain.intermediate, anchors: anchors.key, result });
  return result;
}

function* verifyCollateralByContent(
  c: TdxCollateral,
  pieces: (Uint8Array | undefined)[],
  chain: VerifiedChain,
  anchors: TdxTrustAnchors,
): CryptoSteps<VerifiedCollateral> {
  const parts: Uint8Array[] = [new TextEncoder().encode(anchors.key), chain.intermediate.der];
  for (const piece of pieces) {
    const n = piece ? piece.length + 1 : 0;
    parts.push(Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff));
    if (piece) parts.push(piece);
  }
  const cacheKey = hex(yield* digestStep('SHA-256', concatBytes(...parts)));
  const cached = collateralCache.get(cacheKey);
  if (cached instanceof Reject) throw cached;
  if (cached) return cached;
  let result: VerifiedCollateral | Reject;
  try {
    result = yield* buildCollateral(c, chain, anchors);
  } catch (e) {
    if (!(e instanceof Reject)) throw e;
    result = e;
  }
  collateralCache.set(cacheKey, result);
  if (result instanceof Reject) throw result;
  return result;
}

function* buildCollateral(
  c: TdxCollateral,
  chain: VerifiedChain,
  anchors: TdxTrustAnchors,
): CryptoSteps<VerifiedCollateral> {
  const out: VerifiedCollateral = {};
  const crl = (bytes: Uint8Array, field: string) => {
    try {
      return parseCrl(bytes, field);
    } catch (e) {
      if (isContrastError(e)) throw new Reject('collateral-invalid', e.message, e.field ?? field);
      throw e;
    }
  };
  if (c.rootCaCrl) {
    const parsed = crl(c.rootCaCrl, 'root_ca_crl');
    if (!(yield* someStep(anchors.certs, (a) => crlSignatureOk(parsed, a)))) {
      throw new Reject(
        'collateral-invalid',
        'the root CA CRL is not signed by a trusted root',
        'root_ca_crl',
      );
    }
    out.rootCrl = parsed;
  }
  if (c.pckCrl) {
    const parsed = crl(c.pckCrl, 'pck_crl');
    if (!(yield* crlSignatureOk(parsed, chain.intermediate))) {
      throw new Reject('collateral-invalid', "the PCK CRL is not signed by the quote's PCK CA", 'pck_crl');
    }
    out.pckCrl = parsed;
  }
  if (c.tcbInfo) {
    out.tcbInfo = yield* verifySigned(
      c.tcbInfo,
      c.tcbInfoIssuerChain,
      'tcbInfo',
      'tcb_info',
      parseTcbInfo,
      anchors,
    );
    const info = out.tcbInfo.value;
    if (info.id !== 'TDX')
      throw new Reject('collateral-invalid', `TCB info id is ${info.id}, not TDX`, 'tcb_info.id');
  }
  if (c.qeIdentity) {
    out.qeIdentity = yield* verifySigned(
      c.qeIdentity,
      c.qeIdentityIssuerChain,
      'enclaveIdentity',
      'qe_identity',
      parseQeIdentity,
      anchors,
    );
    if (out.qeIdentity.value.id !== 'TD_QE') {
      throw new Reject(
        'collateral-invalid',
        `QE identity id is ${out.qeIdentity.value.id}, not TD_QE`,
        'qe_identity.id',
      );
    }
  }
  return out;
}

function checkCrlTime(crl: ParsedCrl, now: Date, field: string): void {
  if (now < crl.thisUpdate || (crl.nextUpdate && now > crl.nextUpdate)) {
    throw new Reject(
      'collateral-invalid',
      `${field} is not current at ${now.toISOString()}`,
      `${field}.nextUpdate`,
    );
  }
}

function checkIssued(issue: Date, next: Date, now: Date, field: string): void {
  if (now < issue || now > next) {
    throw new Reject(
      'collateral-invalid',
      `${field} is valid ${issue.toISOString()} .. ${next.toISOString()}, not at ${now.toISOString()}`,
      `${field}.nextUpdate`,
    );
  }
}

const compiledCache = new WeakMap<TdxReferenceValues, CompiledReferenceValues>();
function compiled(rv: TdxReferenceValues): CompiledReferenceValues {
  let c = compiledCache.get(rv);
  if (!c) {
    c = compileReferenceValues(rv);
    compiledCache.set(rv, c);
  }
  return c;
}

/**
 * Verifies a TDX quote: PCK chain to a trust anchor, QE report signature, attestation-key binding,
 * quote signature; with collateral the CRLs, TCB info and QE identity (signatures over the exact
 * received bytes, issuer chains, validity) and Intel's TCB status; then the reference values and
 * REPORT_DATA. Never throws for bad evidence; throws `invalid-argument` for malformed options.
 * Crypto steps: run by `verifyTdxQuote` (node:crypto) and `verifyTdxQuoteAsync` (WebCrypto).
 */
export function* verifyTdxQuoteStep(
  input: Uint8Array | TdxQuote,
  options: TdxVerifyOptions = {},
): CryptoSteps<TdxVerifyResult> {
  const logger = options.logger ?? noopLogger;
  const rv = options.referenceValues ? compiled(options.referenceValues) : undefined;
  let tcb: TdxTcbEvaluation | undefined;
  try {
    let quote: TdxQuote;
    if (input instanceof Uint8Array) {
      try {
        quote = parseTdxQuote(input);
      } catch (e) {
        if (isContrastError(e)) throw new Reject('malformed', e.message, e.field ?? 'quote');
        throw e;
      }
    } else {
      quote = input;
    }
    const trailing = trailingBytesFailure(quote, options.allowTrailingBytes);
    if (trailing) throw new Reject(trailing.code, trailing.message, trailing.field);
    const claims = yield* verifyParsed(quote, options, rv, (t) => {
      tcb = t;
    });
    logger.debug('tdx quote verified', { mrTd: claims.measurement, tcbStatus: claims.details.tcbStatus });
    return { ok: true, claims };
  } catch (e) {
    if (e instanceof Reject) {
      logger.debug('tdx quote rejected', { code: e.reason.code, field: e.reason.field });
      return tcb ? { ok: false, reason: e.reason, tcb } : { ok: false, reason: e.reason };
    }
    throw e;
  }
}

function* verifyParsed(
  quote: TdxQuote,
  options: TdxVerifyOptions,
  rv: CompiledReferenceValues | undefined,
  onTcb: (t: TdxTcbEvaluation) => void,
): CryptoSteps<TdxClaims> {
  const now = options.now ?? new Date();
  const anchors = options.trustAnchors ?? intelTrustAnchors();
  const { header, body, signatureData: sd } = quote;

  if (header.attestationKeyType !== ECDSA_P256_KEY_TYPE) {
    throw new Reject(
      'malformed',
      `attestation key type ${header.attestationKeyType} is not ECDSA P-256`,
      'header.att_key_type',
    );
  }
  if (hex(header.qeVendorId) !== INTEL_QE_VENDOR_ID) {
    throw new Reject('field-mismatch', 'the QE vendor id is not Intel', 'header.qe_vendor_id');
  }

  // 1. PCK chain (cached by its exact PEM), then validity at `now`.
  const chain = yield* verifyChain(sd.pckChainPem, anchors);
  checkValidity(chain.anchor, now, 'pck_cert_chain.root');
  checkValidity(chain.intermediate, now, 'pck_cert_chain.intermediate');
  checkValidity(chain.leaf, now, 'pck_certificate');

  // 2. QE report signed by the PCK key (a QE report and its signature are the same for every
  // quote of a platform until its attestation key changes: verified once per exact bytes unless
  // the cache is turned off); 3. it binds the attestation key; 4. the quote signature.
  const useCache = options.cacheQeReport !== false;
  const qeId = useCache ? hex(sd.qeReport.raw) + hex(sd.qeReportSignature) : '';
  if (useCache && chain.verifiedQeReports.has(qeId)) {
    // verified before under this exact chain
  } else if (yield* ecdsaP256Step(chain.pckKey, sd.qeReport.raw, sd.qeReportSignature)) {
    if (useCache) {
      if (chain.verifiedQeReports.size >= 16) chain.verifiedQeReports.clear();
      chain.verifiedQeReports.add(qeId);
    }
  } else {
    throw new Reject(
      'signature-invalid',
      'the QE report signature does not verify with the PCK key',
      'qe_report_signature',
    );
  }
  const binding = yield* digestStep('SHA-256', concatBytes(sd.attestationKey, sd.qeAuthData));
  const rd = sd.qeReport.reportData;
  let tail = 0;
  for (let i = 32; i < 64; i++) tail |= rd[i]!;
  if (!bytesEqual(rd.subarray(0, 32), binding) || tail !== 0) {
    throw new Reject(
      'signature-invalid',
      'QE report data is not SHA-256(attestation key || QE auth data)',
      'qe_report.report_data',
    );
  }
  if (!(yield* ecdsaP256Step(attestationKey(sd.attestationKey), quote.signedBytes, sd.signature))) {
    throw new Reject(
      'signature-invalid',
      'the quote signature does not verify with the attestation key',
      'signature',
    );
  }

  // 5. Collateral.
  const { reportData: _reportData, ...bodyHex } = tdReportBodyHex(body);
  const details = {
    version: header.version,
    bodyType: body.bodyType,
    ...bodyHex,
    debug: (body.tdAttributes[0]! & 1) === 1,
    qeSvn: sd.qeReport.isvSvn,
    pck: pckExtensionsJson(chain.pck),
  } as TdxClaimDetails;
  let tcb: TdxTcbEvaluation | undefined;
  const c = options.collateral;
  if (c && Object.values(c).some((v) => v !== undefined)) {
    const v = yield* verifyCollateral(c, chain, anchors);
    const nextUpdates: Date[] = [];
    if (v.rootCrl) {
      checkCrlTime(v.rootCrl, now, 'root_ca_crl');
      if (v.rootCrl.nextUpdate) nextUpdates.push(v.rootCrl.nextUpdate);
      if (v.rootCrl.revoked.has(chain.intermediate.serialNumber)) {
        throw new Reject('revoked', 'the PCK CA certificate is revoked', 'pck_cert_chain.intermediate');
      }
    }
    if (v.pckCrl) {
      checkCrlTime(v.pckCrl, now, 'pck_crl');
      if (v.pckCrl.nextUpdate) nextUpdates.push(v.pckCrl.nextUpdate);
      if (v.pckCrl.revoked.has(chain.leaf.serialNumber)) {
        throw new Reject('revoked', 'the PCK certificate is revoked', 'pck_certificate');
      }
    }
    for (const [name, signed] of [
      ['tcb_info', v.tcbInfo],
      ['qe_identity', v.qeIdentity],
    ] as const) {
      if (!signed) continue;
      checkValidity(signed.signer, now, `${name}_issuer_chain`);
      if (v.rootCrl?.revoked.has(signed.signer.serialNumber)) {
        throw new Reject('revoked', `the ${name} signing certificate is revoked`, `${name}_issuer_chain`);
      }
      checkIssued(signed.value.issueDate, signed.value.nextUpdate, now, name);
      nextUpdates.push(signed.value.nextUpdate);
    }
    if (v.tcbInfo) {
      const info = v.tcbInfo.value;
      if (!bytesEqual(info.fmspc, chain.pck.fmspc)) {
        throw new Reject('collateral-invalid', 'TCB info is for another FMSPC', 'tcb_info.fmspc');
      }
      if (!bytesEqual(info.pceId, chain.pck.pceId)) {
        throw new Reject('collateral-invalid', 'TCB info is for another PCE id', 'tcb_info.pceId');
      }
      tcb = evaluateTdxTcb(info, chain.pck, body, sd.qeReport, v.qeIdentity?.value);
      onTcb(tcb);
      details.tcbStatus = tcb.status;
      details.advisoryIds = tcb.advisoryIds;
      if (tcb.platform.tcbDate) details.tcbDate = tcb.platform.tcbDate;
      details.tcbEvaluationDataNumber = info.tcbEvaluationDataNumber;
    } else if (v.qeIdentity) {
      // Without TCB info the QE identity still has to match.
      details.qeTcbStatus = evaluateQeIdentity(sd.qeReport, v.qeIdentity.value).status;
    }
    if (nextUpdates.length > 0) {
      details.collateralNextUpdate = new Date(Math.min(...nextUpdates.map((d) => d.getTime()))).toISOString();
    }
  }

  // 6. Policy: TCB status, reference values, REPORT_DATA.
  const wantCollateral =
    options.requireCollateral || rv?.acceptedTcbStatuses || rv?.minTcbEvaluationDataNumber;
  if (!tcb && wantCollateral) {
    throw new Reject('collateral-missing', 'TCB info collateral is required', 'tcb_info');
  }
  if (tcb) {
    const accepted = options.acceptedTcbStatuses ?? rv?.acceptedTcbStatuses ?? DEFAULT_ACCEPTED_TCB_STATUSES;
    if (!accepted.includes(tcb.status)) {
      throw new Reject(
        'tcb-status-rejected',
        tcb.status === 'no-matching-tcb-level'
          ? 'no TCB level matches the platform'
          : `TCB status ${tcb.status} is not accepted${tcb.advisoryIds.length ? ` (${tcb.advisoryIds.join(', ')})` : ''}`,
        'tcbStatus',
      );
    }
    if (
      rv?.minTcbEvaluationDataNumber !== undefined &&
      tcb.tcbEvaluationDataNumber < rv.minTcbEvaluationDataNumber
    ) {
      throw new Reject(
        'tcb-too-low',
        `collateral tcbEvaluationDataNumber ${tcb.tcbEvaluationDataNumber} is below ${rv.minTcbEvaluationDataNumber}`,
        'tcbEvaluationDataNumber',
      );
    }
  }
  if (rv) checkReferenceValues(rv, body, chain.pck, sd.qeReport.isvSvn);
  const policyDigest = hex(body.mrConfigId.subarray(0, 32));
  if (options.policyDigests && !options.policyDigests.some((d) => d.toLowerCase() === policyDigest)) {
    throw new Reject('policy-mismatch', 'MRCONFIGID does not carry an allowed policy digest', 'mrConfigId');
  }
  if (options.reportData && !bytesEqual(options.reportData, body.reportData)) {
    throw new Reject('report-data-mismatch', 'REPORT_DATA differs from the expected value', 'report_data');
  }

  const claims: TdxClaims = {
    kind: TDX_EVIDENCE_KIND,
    reportData: body.reportData,
    measurement: hex(body.mrTd),
    policyDigest,
    insecure: !anchors.intel,
    details,
    certificateClaims: tdxClaimExtensions(quote),
    certificateDetails: certificateDetailsOf(details),
  };
  if (tcb) claims.tcb = tcb;
  return claims;
}
