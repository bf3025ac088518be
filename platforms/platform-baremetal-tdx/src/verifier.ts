import {
  createTdxVerifier,
  parseTdxQuote,
  TDX_EVIDENCE_KIND,
  type TdxQuote,
  type TdxReferenceValues,
  type TdxTrustAnchors,
  type TdxVerifierOptions,
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

// TO MOVE into @contrast-cc/attestation (the TDX verifier): this checks the evidence format itself.
// Until the attestation verifier does, each platform that needs it keeps one copy (platforms
// may not import each other): platform-baremetal-tdx, platform-simulator.
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
  if (!/^[\r\n]*\0?$/.test(rest)) return 'the PCK chain holds data outside its PEM certificates';
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
  /** Collateral when the evidence carries none, e.g. `PcsClient.getCollateral` (online mode). */
  collateral?: TdxVerifierOptions['collateral'];
}

/** A verifier for TDX quotes (`tdx-quote`) with collateral in the extras, against one manifest entry. */
export function createTdxPlatformVerifier(
  context: VerifierContext,
  options: TdxPlatformVerifierOptions = {},
): Verifier {
  const inner = createTdxVerifier({
    referenceValues: tdxReferenceValuesFromManifest(context.referenceValues, 'ReferenceValues.tdx[]'),
    requireCollateral: options.requireCollateral ?? true,
    logger: context.logger,
    ...(context.now ? { now: context.now } : {}),
    ...(options.trustAnchors ? { trustAnchors: options.trustAnchors } : {}),
    ...(options.collateral ? { collateral: options.collateral } : {}),
  });
  return {
    kinds: inner.kinds,
    async verify(evidence: Evidence, expected: VerifyExpectations): Promise<VerifyResult> {
      if (evidence.kind === TDX_EVIDENCE_KIND) {
        const problem = strictnessProblem(evidence.data);
        if (problem) return problem;
      }
      const result = await inner.verify(evidence, expected);
      return result.ok ? result : { ok: false, reason: result.reason };
    },
  };
}

/**
 * Evidence is the quote byte-exact: padding after the signature data is unauthenticated, so
 * issuers trim it and this verifier refuses it; and the PCK chain must be exactly three
 * well-formed certificates. Parse failures are left to the inner verifier.
 */
function strictnessProblem(data: Uint8Array): VerifyResult | undefined {
  let quote: TdxQuote;
  try {
    quote = parseTdxQuote(data);
  } catch (e) {
    if (!isContrastError(e)) throw e;
    return undefined;
  }
  if (quote.trailingBytes > 0) {
    return verifyFail(
      'malformed',
      `${quote.trailingBytes} bytes follow the quote's signature data; evidence must be the quote exactly`,
      'quote',
    );
  }
  const chainProblem = pckChainProblem(quote.signatureData.pckChainPem);
  return chainProblem ? verifyFail('malformed', chainProblem, 'pck_cert_chain') : undefined;
}
