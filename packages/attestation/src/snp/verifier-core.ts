// The core `Verifier` for `snp-report` evidence over a crypto runner: node:crypto in the Node entry
// (verifier.ts), WebCrypto in the browser entry. Browser-safe: no node: imports.

import {
  type Evidence,
  isContrastError,
  type Logger,
  noopLogger,
  type Verifier,
  type VerifyExpectations,
  type VerifyFailure,
  type VerifyResult,
  verifyFail,
} from '@contrast-cc/core';
import type { CryptoRunner } from '../common/crypto.js';
import { loadCertificates } from '../common/x509.js';
import { parseSnpKeyExtensions, type SnpTrustAnchor } from './certs.js';
import type { SnpCollateralSource } from './kds.js';
import {
  type CompiledSnpReferenceValues,
  compileSnpReferenceValues,
  type SnpReferenceValues,
} from './policy.js';
import { parseSnpReport, type SnpProductLine } from './report.js';
import { SNP_EVIDENCE_KIND, type SnpClaims, type SnpVerifyOptions, verifySnpReportStep } from './verify.js';

/** Evidence.extras names the SNP verifier reads. @public */
export const SNP_EXTRAS = { vcek: 'vcek', certChain: 'cert-chain', crl: 'crl' } as const;

/** Options of {@link createSnpVerifier}. @public */
export interface SnpVerifierOptions {
  /** Reference values (the manifest's `ReferenceValues.snp[i]` entry). */
  referenceValues?: SnpReferenceValues | unknown;
  /** Trusted roots; default AMD's embedded roots. */
  trustAnchors?: SnpTrustAnchor[];
  /**
   * Online (or offline-directory) mode: get the VCEK, chain and CRL from this source (a
   * `KdsClient`, an `SnpCollateralDirectory`, or several via `firstSnpCollateral`) when the
   * evidence lacks them. A failure refuses the evidence with `collateral-unavailable`.
   */
  kds?: SnpCollateralSource;
  /** Check revocation: with `kds`, fetch the CRL when absent (default true with kds). */
  checkRevocation?: boolean;
  product?: SnpProductLine;
  logger?: Logger;
  now?: () => Date;
}

/**
 * A `Verifier` for evidence kind `snp-report`, its crypto answered by `run`. Evidence.extras may carry `vcek` (DER or PEM),
 * `cert-chain` (PEM ASK/ASVK + ARK) and `crl` (DER); missing ones come from `kds` when given.
 * @public
 */
export function snpVerifierWith(run: CryptoRunner, options: SnpVerifierOptions = {}): Verifier<SnpClaims> {
  const rv: CompiledSnpReferenceValues | undefined =
    options.referenceValues === undefined
      ? undefined
      : compileSnpReferenceValues(options.referenceValues as SnpReferenceValues);
  const logger = (options.logger ?? noopLogger).child({ component: 'snp-verifier' });
  const checkRevocation = options.checkRevocation ?? options.kds !== undefined;
  return {
    kinds: [SNP_EVIDENCE_KIND],
    async verify(evidence: Evidence, expected: VerifyExpectations): Promise<VerifyResult<SnpClaims>> {
      if (evidence.kind !== SNP_EVIDENCE_KIND) {
        return verifyFail(
          'unsupported-evidence-kind',
          `SNP verifier cannot check "${evidence.kind}" evidence`,
          'kind',
        );
      }
      const extras = evidence.extras ?? {};
      const opts: SnpVerifyOptions = {
        reportData: expected.reportData,
        now: expected.now ?? options.now?.() ?? new Date(),
        requireCrl: checkRevocation,
      };
      if (rv) opts.referenceValues = rv;
      if (options.trustAnchors) opts.trustAnchors = options.trustAnchors;
      if (options.product) opts.product = options.product;
      if (extras[SNP_EXTRAS.vcek]) opts.vcek = extras[SNP_EXTRAS.vcek];
      if (extras[SNP_EXTRAS.certChain]) opts.certChain = extras[SNP_EXTRAS.certChain];
      if (extras[SNP_EXTRAS.crl]) opts.crl = extras[SNP_EXTRAS.crl];
      if (options.kds && (opts.vcek === undefined || (checkRevocation && opts.crl === undefined))) {
        const fetched = await fetchMissing(
          options.kds,
          evidence.data,
          opts,
          checkRevocation,
          options.product ?? rv?.product,
        );
        if ('code' in fetched) return { ok: false, reason: fetched };
      }
      const result = await run(verifySnpReportStep(evidence.data, opts));
      if (result.ok) {
        logger.debug('SNP evidence accepted', {
          measurement: result.claims.measurement,
          product: result.claims.details.product,
          insecure: result.claims.insecure,
        });
      } else {
        logger.info('SNP evidence rejected', { code: result.reason.code, field: result.reason.field });
      }
      return result;
    },
  };
}

async function fetchMissing(
  kds: SnpCollateralSource,
  data: Uint8Array,
  opts: SnpVerifyOptions,
  crl: boolean,
  product: SnpProductLine | undefined,
): Promise<SnpVerifyOptions | VerifyFailure> {
  let report: ReturnType<typeof parseSnpReport>;
  try {
    report = parseSnpReport(data, product ? { product } : {});
  } catch (e) {
    const err = isContrastError(e) ? e : undefined;
    return { code: 'malformed', message: err?.message ?? String(e), field: err?.field ?? 'report' };
  }
  // A v2 report names no product (no CPUID): the VCEK's productName tells, else Milan is assumed
  // as go-sev-guest does (the product line that produced v2 reports); a wrong guess fails the chain.
  const p = product ?? report.product ?? productOfVcek(opts.vcek) ?? 'Milan';
  try {
    if (opts.vcek === undefined) {
      const c = await kds.collateralFor(report, { product: p });
      opts.vcek = c.vcek;
      opts.certChain ??= c.certChain;
    }
    if (crl && opts.crl === undefined) {
      opts.crl = await kds.getCrl(p, report.signingKey === 'vlek' ? 'vlek' : 'vcek');
    }
  } catch (e) {
    const what = opts.vcek === undefined ? 'VCEK and certificate chain' : 'CRL';
    return {
      code: 'collateral-unavailable',
      message: `could not get the ${what} from ${kds.description}: ${e instanceof Error ? e.message : String(e)}`,
      field: opts.vcek === undefined ? 'vcek' : 'crl',
    };
  }
  return opts;
}

/** The product line named by a VCEK's productName extension (v2 reports have no CPUID). */
function productOfVcek(vcek: SnpVerifyOptions['vcek']): SnpProductLine | undefined {
  if (vcek === undefined) return undefined;
  try {
    const [cert] = loadCertificates(vcek as Uint8Array | string, 'vcek');
    const name = cert ? parseSnpKeyExtensions(cert).productName : '';
    return (['Milan', 'Genoa', 'Turin'] as const).find((p) => name.startsWith(p));
  } catch {
    return undefined; // the verifier reports a malformed VCEK itself
  }
}
