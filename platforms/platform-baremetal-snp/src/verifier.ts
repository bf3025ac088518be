import {
  createSnpVerifier,
  refuseApeip,
  type SnpCollateralSource,
  type SnpReferenceValues,
  type SnpTrustAnchor,
} from '@contrast-cc/attestation/snp';
import { ContrastError, type Verifier, type VerifierContext } from '@contrast-cc/core';

/** The manifest's `ReferenceValues.snp[]` entry, as far as this verifier reads it. */
interface ManifestSnpEntry extends Omit<SnpReferenceValues, 'TrustedMeasurement' | 'AllowedChipIDs'> {
  Insecure?: boolean;
  TrustedMeasurement?: string;
  APEIP?: string;
  AllowedChipIDs?: string[] | null;
}

const MINIMUM_TCB_FIELDS = ['BootloaderVersion', 'TEEVersion', 'SNPVersion', 'MicrocodeVersion'] as const;

/**
 * Turns a manifest entry into the attestation package's reference values, refusing (as misuse,
 * `invalid-argument` naming the field) an entry a secure platform must not verify with: no
 * trusted measurement, a minimum TCB not filled in, or APEIP (multi-vCPU recomputation is not
 * implemented: the measurement must match exactly).
 */
export function snpReferenceValuesFromManifest(entry: unknown, base: string): SnpReferenceValues {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw new ContrastError('invalid-argument', 'reference values must be an object', { field: base });
  }
  const rv = entry as ManifestSnpEntry;
  if (typeof rv.TrustedMeasurement !== 'string' || rv.TrustedMeasurement === '') {
    throw new ContrastError(
      'invalid-argument',
      'no trusted measurement: this runtime has no released launch measurement; use reference values of a released runtime',
      { field: `${base}.TrustedMeasurement` },
    );
  }
  for (const f of MINIMUM_TCB_FIELDS) {
    const v = rv.MinimumTCB?.[f];
    if (v === undefined || v === null) {
      throw new ContrastError('invalid-argument', 'please fill in the minimum TCB version of your hardware', {
        field: `${base}.MinimumTCB.${f}`,
      });
    }
  }
  refuseApeip(rv, base);
  const { Insecure: _i, APEIP: _a, AllowedChipIDs, MinimumTCB, ...rest } = rv;
  const minimumTcb = Object.fromEntries(
    Object.entries(MinimumTCB ?? {}).filter(([, v]) => v !== null && v !== undefined),
  );
  return {
    ...rest,
    MinimumTCB: minimumTcb,
    ...(AllowedChipIDs && AllowedChipIDs.length > 0 ? { AllowedChipIDs } : {}),
  };
}

/** Options of {@link createSnpPlatformVerifier}. */
export interface SnpPlatformVerifierOptions {
  /** Trusted roots; default AMD's embedded roots. */
  trustAnchors?: SnpTrustAnchor[];
  /**
   * Online mode: fetch the VCEK, chain and CRL from AMD KDS (or an offline collateral directory,
   * see `createCollateralSources`) when the evidence lacks them, and then check revocation, as
   * upstream does. Without it the evidence must carry its VCEK.
   */
  kds?: SnpCollateralSource;
}

/**
 * A verifier for raw SNP reports (`snp-report`) carrying their VCEK in the evidence extras (or fetched from KDS)
 * (`vcek`, optional `cert-chain` and `crl`), checked against one manifest entry.
 */
export function createSnpPlatformVerifier(
  context: VerifierContext,
  options: SnpPlatformVerifierOptions = {},
): Verifier {
  return createSnpVerifier({
    referenceValues: snpReferenceValuesFromManifest(context.referenceValues, 'ReferenceValues.snp[]'),
    logger: context.logger,
    ...(context.now ? { now: context.now } : {}),
    ...(options.trustAnchors ? { trustAnchors: options.trustAnchors } : {}),
    ...(options.kds ? { kds: options.kds } : {}),
  });
}
