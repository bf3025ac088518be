import {
  COLLATERAL_FILE_NAMES,
  parseTdxQuote,
  TDX_EVIDENCE_KIND,
  type TdxCollateral,
  type TdxQuote,
  type TdxReferenceValues,
  type TdxTrustAnchors,
  verifyTdxQuote,
} from '@contrast-cc/attestation/tdx';
import {
  ContrastError,
  type Evidence,
  isContrastError,
  type Verifier,
  type VerifierContext,
  type VerifyExpectations,
  type VerifyResult,
  verifyFail,
} from '@contrast-cc/core';

/** The manifest's `ReferenceValues.tdx[]` entry, as far as this verifier reads it. */
interface ManifestTdxEntry extends Omit<TdxReferenceValues, 'Rtmr0Alternatives' | 'AllowedPIIDs'> {
  Insecure?: boolean;
  Rtmr0Alternatives?: string[] | null;
  AllowedPIIDs?: string[] | null;
}

/**
 * Intel collateral travels in the evidence extras under the PCS file names
 * (`tcb_info.json`, `tcb_info_issuer_chain.pem`, `qe_identity.json`, ... see
 * `COLLATERAL_FILE_NAMES` of `@contrast-cc/attestation/tdx`).
 */
export function collateralFromEvidence(evidence: Evidence): TdxCollateral {
  const out: TdxCollateral = {};
  for (const [key, file] of Object.entries(COLLATERAL_FILE_NAMES) as [keyof TdxCollateral, string][]) {
    const value = evidence.extras?.[file];
    if (value) out[key] = value;
  }
  return out;
}

/**
 * Turns a manifest entry into the attestation package's reference values, refusing (as misuse,
 * `invalid-argument` naming the field) what a secure platform must not verify with: no MRTD or
 * RTMRs (unreleased runtime) or no MRSEAM (the user has not filled it in).
 */
export function tdxReferenceValuesFromManifest(entry: unknown, base: string): TdxReferenceValues {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw new ContrastError('invalid-argument', 'reference values must be an object', { field: base });
  }
  const rv = entry as ManifestTdxEntry;
  if (typeof rv.MrTd !== 'string' || rv.MrTd === '' || !Array.isArray(rv.Rtmrs)) {
    throw new ContrastError(
      'invalid-argument',
      'no MRTD/RTMRs: this runtime has no released launch measurements; use reference values of a released runtime',
      { field: `${base}.${typeof rv.MrTd !== 'string' || rv.MrTd === '' ? 'MrTd' : 'Rtmrs'}` },
    );
  }
  if (typeof rv.MrSeam !== 'string' || rv.MrSeam === '') {
    throw new ContrastError(
      'invalid-argument',
      'please fill in the MRSEAM (sha384 of the TDX module, e.g. sha384sum /boot/efi/EFI/TDX/TDX-SEAM.so)',
      { field: `${base}.MrSeam` },
    );
  }
  const { Insecure: _i, Rtmr0Alternatives, AllowedPIIDs, ...rest } = rv;
  return {
    ...rest,
    ...(Rtmr0Alternatives?.length ? { Rtmr0Alternatives } : {}),
    ...(AllowedPIIDs?.length ? { AllowedPIIDs } : {}),
  };
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----\r?\n([A-Za-z0-9+/=\r\n]+?)-----END CERTIFICATE-----/g;

/**
 * The certification data of a quote must be exactly the PCK chain: three well-formed PEM
 * certificates (PCK, PCK CA, root) with canonical base64 and nothing but whitespace (and the
 * C string terminator) around them. A corrupted block must not silently drop out of the chain.
 */
function pckChainProblem(pem: string): string | undefined {
  let count = 0;
  for (const m of pem.matchAll(PEM_BLOCK)) {
    const b64 = m[1]!.replace(/\r?\n/g, '');
    if (Buffer.from(b64, 'base64').toString('base64') !== b64) {
      return `PCK chain certificate ${count} is not canonical base64`;
    }
    count++;
  }
  const rest = pem.replace(PEM_BLOCK, '');
  if (!/^[\s]*\0?$/.test(rest)) return 'the PCK chain holds data outside its PEM certificates';
  if (count !== 3) return `the PCK chain has ${count} certificates, expected 3 (PCK, PCK CA, root)`;
  return undefined;
}

/** Options of {@link createTdxPlatformVerifier}. */
export interface TdxPlatformVerifierOptions {
  /** Trusted roots; default Intel's SGX root CA. */
  trustAnchors?: TdxTrustAnchors;
  /**
   * Require Intel collateral (TCB info, QE identity, CRLs) in the evidence, as upstream always
   * fetches it. Default true.
   */
  requireCollateral?: boolean;
}

/** A verifier for TDX quotes (`tdx-quote`) with collateral in the extras, against one manifest entry. */
export function createTdxPlatformVerifier(
  context: VerifierContext,
  options: TdxPlatformVerifierOptions = {},
): Verifier {
  const referenceValues = tdxReferenceValuesFromManifest(context.referenceValues, 'ReferenceValues.tdx[]');
  const logger = context.logger;
  return {
    kinds: [TDX_EVIDENCE_KIND],
    async verify(evidence: Evidence, expected: VerifyExpectations): Promise<VerifyResult> {
      if (evidence.kind !== TDX_EVIDENCE_KIND) {
        return verifyFail(
          'unsupported-evidence-kind',
          `expected ${TDX_EVIDENCE_KIND} evidence, got "${evidence.kind}"`,
          'kind',
        );
      }
      let quote: TdxQuote;
      try {
        quote = parseTdxQuote(evidence.data);
      } catch (e) {
        if (!isContrastError(e)) throw e;
        return verifyFail('malformed', e.message, e.field ?? 'quote');
      }
      // Evidence is the quote byte-exact: padding after the signature data is unauthenticated,
      // so issuers trim it and verifiers refuse it.
      if (quote.trailingBytes > 0) {
        return verifyFail(
          'malformed',
          `${quote.trailingBytes} bytes follow the quote's signature data; evidence must be the quote exactly`,
          'quote',
        );
      }
      const chainProblem = pckChainProblem(quote.signatureData.pckChainPem);
      if (chainProblem) return verifyFail('malformed', chainProblem, 'pck_cert_chain');
      const result = verifyTdxQuote(quote, {
        collateral: collateralFromEvidence(evidence),
        referenceValues,
        reportData: expected.reportData,
        now: expected.now ?? context.now?.() ?? new Date(),
        requireCollateral: options.requireCollateral ?? true,
        ...(options.trustAnchors ? { trustAnchors: options.trustAnchors } : {}),
        logger,
      });
      if (!result.ok) return { ok: false, reason: result.reason };
      return { ok: true, claims: result.claims };
    },
  };
}
