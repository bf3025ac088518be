import type { Logger } from './logger.js';

/**
 * What kind of evidence a document is. Real kinds are `snp-report` and `tdx-quote`; plugins may
 * add their own (the fakes use `fake`). Verifiers refuse kinds they do not handle with
 * `unsupported-evidence-kind`, so several verifiers can be tried in turn.
 * @public
 */
export type EvidenceKind = string;

/** REPORT_DATA is 64 bytes on SNP and TDX alike. @public */
export const REPORT_DATA_LENGTH = 64;

/**
 * A piece of attestation evidence as it travels: the raw document plus optional side material
 * (certificates, collateral) by name.
 * @public
 */
export interface Evidence {
  kind: EvidenceKind;
  /** The raw report or quote, byte-exact as the hardware produced it. */
  data: Uint8Array;
  /** Side material by name, e.g. `vcek` (DER), `cert-chain` (PEM), `tcb-info` (JSON bytes). */
  extras?: Record<string, Uint8Array>;
}

/**
 * The guest side: produces evidence whose REPORT_DATA is exactly `reportData`.
 * @public
 */
export interface Issuer {
  readonly kind: EvidenceKind;
  issue(reportData: Uint8Array): Promise<Evidence>;
}

/**
 * Why a verification failed. Codes are stable; `field` names the report field or reference
 * value involved (e.g. `measurement`, `tcb.snp`, `report_data`).
 * @public
 */
export const VERIFY_FAILURE_CODES = [
  'unsupported-evidence-kind',
  'malformed',
  'signature-invalid',
  'chain-invalid',
  'certificate-expired',
  'revoked',
  'collateral-missing',
  /**
   * Collateral (VCEK, certificate chain, CRL, TCB info, ...) was needed and could not be fetched
   * (the service answered an error status, timed out or is unreachable); the message names the URL
   * and status. Transient: the same evidence may verify once the service answers.
   */
  'collateral-unavailable',
  'collateral-invalid',
  'report-data-mismatch',
  'measurement-mismatch',
  'tcb-too-low',
  'tcb-status-rejected',
  'policy-mismatch',
  'host-data-mismatch',
  'field-mismatch',
  'debug-enabled',
  'insecure-platform',
  /** SNP PLATFORM_INFO lacks a required feature or has a forbidden one. */
  'platform-info-mismatch',
  /** The report was produced at another VM privilege level than required. */
  'vmpl-mismatch',
  /** The hardware id (SNP CHIP_ID, TDX PIID) is not in the allowed list. */
  'chip-id-not-allowed',
  /** A required CPU mitigation is missing from the SNP mitigation vectors. */
  'mitigation-vector-too-low',
] as const;

/** @public */
export type VerifyFailureCode = (typeof VERIFY_FAILURE_CODES)[number];

/** @public */
export interface VerifyFailure {
  code: VerifyFailureCode;
  message: string;
  field?: string;
}

/**
 * What a verifier vouches for once evidence is accepted.
 * @public
 */
export interface EvidenceClaims {
  kind: EvidenceKind;
  /** The 64 bytes the evidence binds (nonce, key, state digest — see the attested channel). */
  reportData: Uint8Array;
  /** The launch measurement (SNP MEASUREMENT, TDX MRTD) as lower-case hex. */
  measurement: string;
  /**
   * The policy binding as lower-case hex: SNP HOST_DATA, TDX MRCONFIGID's first 32 bytes, or
   * the legacy policy hash. Absent where the platform binds none.
   */
  policyDigest?: string;
  /** True for simulated evidence: never mix with real platforms. */
  insecure: boolean;
  /** Kind-specific parsed fields (TCB, chip id, RTMRs, ...), JSON-friendly. */
  details: Record<string, unknown>;
  /**
   * The evidence's fields as a mesh certificate carries them, in upstream Contrast's layout
   * (SNP under `1.3.9901.2.1.N`, TDX under `1.3.9901.2.2.N`), so applications written for
   * upstream read them unchanged. Set by the SNP and TDX verifiers; the certs package encodes
   * them (INTEGER, BOOLEAN, OCTET STRING) into the certificate.
   */
  certificateClaims?: readonly ClaimExtension[];
  /**
   * `details` as a mesh certificate carries them (extension `1.3.9901.4.6`) where that differs:
   * without what `certificateClaims` already carry, so a certificate holds each field once. The
   * SNP verifier replaces the whole report (`details.report`) by the fields upstream's layout
   * lacks (`reportExtra`); the TDX verifier leaves out the TD report body. Absent: the certificate
   * carries `details`.
   */
  certificateDetails?: Record<string, unknown>;
}

/** The value of one certificate claim extension, before DER encoding. @public */
export type ClaimValue =
  | { type: 'uint'; value: bigint }
  | { type: 'bool'; value: boolean }
  | { type: 'bytes'; value: Uint8Array };

/** One certificate claim extension: its OID, the field it carries and the value. @public */
export interface ClaimExtension {
  oid: string;
  /** The report or quote field, in upstream's words (e.g. `guestSvn`, `mrTd`). */
  name: string;
  value: ClaimValue;
}

/** @public */
export type VerifyResult<C extends EvidenceClaims = EvidenceClaims> =
  | { ok: true; claims: C }
  | { ok: false; reason: VerifyFailure };

/** What the caller expects of the evidence beyond its reference values. @public */
export interface VerifyExpectations {
  /** The exact REPORT_DATA the evidence must carry. */
  reportData: Uint8Array;
  /** The time at which certificates and collateral must be valid; defaults to now. */
  now?: Date;
}

/**
 * The relying side. `verify` never throws for bad evidence: it returns a failure with a code.
 * It throws only for misuse (e.g. reference values of the wrong shape) or bugs.
 * @public
 */
export interface Verifier<C extends EvidenceClaims = EvidenceClaims> {
  readonly kinds: readonly EvidenceKind[];
  verify(evidence: Evidence, expected: VerifyExpectations): Promise<VerifyResult<C>>;
}

/** What a platform's verifier factory receives. @public */
export interface VerifierContext {
  /** The platform's entry of the manifest's ReferenceValues (already schema-checked). */
  referenceValues: unknown;
  logger: Logger;
  /** Optional clock for certificate validity; defaults to `() => new Date()`. */
  now?: () => Date;
}

/** What a platform's issuer factory receives (guest side). @public */
export interface IssuerContext {
  logger: Logger;
  /**
   * The policy digest (32 bytes, the initdata sha256) the host binds into the evidence as SNP
   * HOST_DATA or TDX MRCONFIGID[0:32]. Hardware issuers ignore it (the real host sets it at
   * launch); simulated issuers put it where the hardware would.
   */
  hostData?: Uint8Array;
}

/** @public */
export function verifyOk<C extends EvidenceClaims>(claims: C): VerifyResult<C> {
  return { ok: true, claims };
}

/** @public */
export function verifyFail(code: VerifyFailureCode, message: string, field?: string): VerifyResult<never> {
  return { ok: false, reason: field === undefined ? { code, message } : { code, message, field } };
}

/**
 * Tries each verifier that handles the evidence kind; returns the first success, or the joined
 * failures (as upstream's validator list does). Refuses kinds nobody handles.
 * @public
 */
export async function verifyWithAny(
  verifiers: readonly Verifier[],
  evidence: Evidence,
  expected: VerifyExpectations,
): Promise<VerifyResult> {
  const applicable = verifiers.filter((v) => v.kinds.includes(evidence.kind));
  if (applicable.length === 0) {
    return verifyFail(
      'unsupported-evidence-kind',
      `no verifier handles evidence of kind "${evidence.kind}"`,
      'kind',
    );
  }
  const failures: VerifyFailure[] = [];
  for (const v of applicable) {
    const result = await v.verify(evidence, expected);
    if (result.ok) return result;
    failures.push(result.reason);
  }
  if (failures.length === 1) return { ok: false, reason: failures[0]! };
  return {
    ok: false,
    reason: {
      code: failures[0]!.code,
      message: failures.map((f, i) => `verifier ${i + 1}: ${f.message}`).join('; '),
      ...(failures[0]!.field ? { field: failures[0]!.field } : {}),
    },
  };
}
