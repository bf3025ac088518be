import {
  SNP_EVIDENCE_KIND,
  type SnpReferenceValues,
  type SnpTrustAnchor,
  verifySnpReport,
} from '@contrast-cc/attestation/snp';
import {
  ContrastError,
  type Evidence,
  type Verifier,
  type VerifierContext,
  type VerifyExpectations,
  type VerifyResult,
  verifyFail,
} from '@contrast-cc/core';

/** The manifest's `ReferenceValues.snp[]` entry, as far as this verifier reads it. */
interface ManifestSnpEntry extends Omit<SnpReferenceValues, 'TrustedMeasurement' | 'AllowedChipIDs'> {
  Insecure?: boolean;
  TrustedMeasurement?: string;
  APEIP?: string;
  AllowedChipIDs?: string[] | null;
}

/** Names of the evidence extras an SNP verifier reads. */
export const SNP_EXTRAS = {
  /** The VCEK or VLEK (DER or PEM; a PEM may carry ASK and ARK after it). */
  vcek: 'vcek',
  /** ASK/ASVK and ARK (PEM), KDS `cert_chain` form. */
  certChain: 'cert-chain',
  /** AMD's CRL for the product (DER or PEM). */
  crl: 'crl',
} as const;

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
  if (rv.APEIP !== undefined && rv.APEIP !== '') {
    throw new ContrastError(
      'invalid-argument',
      'APEIP (per-vCPU measurement recomputation) is not supported; give the exact TrustedMeasurement',
      { field: `${base}.APEIP` },
    );
  }
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

// The signature field is 0x2A0-0x49F: R (72 bytes), S (72 bytes), then reserved bytes that must be
// zero. They are outside the signed range, so the signature cannot vouch for them; refuse
// anything there instead of carrying unauthenticated bytes along.
const SIGNATURE_RESERVED = { start: 0x330, end: 0x4a0 } as const;

function unsignedTailProblem(data: Uint8Array): VerifyResult | undefined {
  if (data.length !== SIGNATURE_RESERVED.end) return undefined; // the size check reports it
  for (let i = SIGNATURE_RESERVED.start; i < SIGNATURE_RESERVED.end; i++) {
    if (data[i] !== 0) {
      return verifyFail(
        'malformed',
        `reserved byte 0x${i.toString(16)} of the signature field is not zero`,
        'signature',
      );
    }
  }
  return undefined;
}

/** Options of {@link createSnpPlatformVerifier}. */
export interface SnpPlatformVerifierOptions {
  /** Trusted roots; default AMD's embedded roots. */
  trustAnchors?: SnpTrustAnchor[];
  /** Fail when the evidence carries no CRL. */
  requireCrl?: boolean;
}

/**
 * A verifier for raw SNP reports (`snp-report`) carrying their VCEK in the evidence extras
 * (`vcek`, optional `cert-chain` and `crl`), checked against one manifest entry.
 */
export function createSnpPlatformVerifier(
  context: VerifierContext,
  options: SnpPlatformVerifierOptions = {},
): Verifier {
  const referenceValues = snpReferenceValuesFromManifest(context.referenceValues, 'ReferenceValues.snp[]');
  const logger = context.logger;
  return {
    kinds: [SNP_EVIDENCE_KIND],
    async verify(evidence: Evidence, expected: VerifyExpectations): Promise<VerifyResult> {
      if (evidence.kind !== SNP_EVIDENCE_KIND) {
        return verifyFail(
          'unsupported-evidence-kind',
          `expected ${SNP_EVIDENCE_KIND} evidence, got "${evidence.kind}"`,
          'kind',
        );
      }
      const tail = unsignedTailProblem(evidence.data);
      if (tail) return tail;
      const extras = evidence.extras ?? {};
      const vcek = extras[SNP_EXTRAS.vcek];
      const certChain = extras[SNP_EXTRAS.certChain];
      const crl = extras[SNP_EXTRAS.crl];
      const result = verifySnpReport(evidence.data, {
        ...(vcek ? { vcek } : {}),
        ...(certChain ? { certChain } : {}),
        ...(crl ? { crl } : {}),
        ...(options.trustAnchors ? { trustAnchors: options.trustAnchors } : {}),
        ...(options.requireCrl ? { requireCrl: true } : {}),
        referenceValues,
        reportData: expected.reportData,
        now: expected.now ?? context.now?.() ?? new Date(),
      });
      if (result.ok) logger.debug('snp report accepted', { measurement: result.claims.measurement });
      else logger.debug('snp report rejected', { code: result.reason.code, field: result.reason.field });
      return result;
    },
  };
}
