import {
  createTdxVerifier,
  type TdxReferenceValues,
  type TdxTrustAnchors,
  type TdxVerifierOptions,
} from '@contrast-cc/attestation/tdx';
import { ContrastError, type Verifier, type VerifierContext } from '@contrast-cc/core';

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
  // The attestation verifier refuses what the evidence format forbids: bytes after the quote
  // (evidence is the quote exactly), a PCK chain that is not three strict PEM certificates.
  return createTdxVerifier({
    referenceValues: tdxReferenceValuesFromManifest(context.referenceValues, 'ReferenceValues.tdx[]'),
    requireCollateral: options.requireCollateral ?? true,
    logger: context.logger,
    ...(context.now ? { now: context.now } : {}),
    ...(options.trustAnchors ? { trustAnchors: options.trustAnchors } : {}),
    ...(options.collateral ? { collateral: options.collateral } : {}),
  });
}
