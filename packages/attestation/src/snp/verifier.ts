// The core `Verifier` for `snp-report` evidence, and a file-based entry point for
// `contrast evidence verify --snp-report`.

import { readFile } from 'node:fs/promises';
import {
  type Evidence,
  isContrastError,
  type Logger,
  noopLogger,
  toHex,
  type Verifier,
  type VerifyExpectations,
  type VerifyFailure,
  type VerifyResult,
  verifyFail,
} from '@contrast-cc/core';
import type { SnpTrustAnchor } from './certs.js';
import type { KdsClient } from './kds.js';
import {
  type CompiledSnpReferenceValues,
  compileSnpReferenceValues,
  type SnpReferenceValues,
} from './policy.js';
import { parseSnpReport, type SnpProductLine } from './report.js';
import { SNP_EVIDENCE_KIND, type SnpClaims, type SnpVerifyOptions, verifySnpReport } from './verify.js';

/** Evidence.extras names the SNP verifier reads. @public */
export const SNP_EXTRAS = { vcek: 'vcek', certChain: 'cert-chain', crl: 'crl' } as const;

/** Options of {@link createSnpVerifier}. @public */
export interface SnpVerifierOptions {
  /** Reference values (the manifest's `ReferenceValues.snp[i]` entry). */
  referenceValues?: SnpReferenceValues | unknown;
  /** Trusted roots; default AMD's embedded roots. */
  trustAnchors?: SnpTrustAnchor[];
  /** Online mode: fetch the VCEK, chain and CRL from KDS when the evidence lacks them. */
  kds?: KdsClient;
  /** Check revocation: with `kds`, fetch the CRL when absent (default true with kds). */
  checkRevocation?: boolean;
  product?: SnpProductLine;
  logger?: Logger;
  now?: () => Date;
}

/**
 * A `Verifier` for evidence kind `snp-report`. Evidence.extras may carry `vcek` (DER or PEM),
 * `cert-chain` (PEM ASK/ASVK + ARK) and `crl` (DER); missing ones come from `kds` when given.
 * @public
 */
export function createSnpVerifier(options: SnpVerifierOptions = {}): Verifier<SnpClaims> {
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
      const result = verifySnpReport(evidence.data, opts);
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
  kds: KdsClient,
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
  const p = product ?? report.product;
  try {
    if (opts.vcek === undefined) {
      const c = await kds.collateralFor(report, p ? { product: p } : {});
      opts.vcek = c.vcek;
      opts.certChain ??= c.certChain;
    }
    if (crl && opts.crl === undefined) {
      if (!p) throw new Error('the product line is unknown: cannot fetch its CRL');
      opts.crl = await kds.getCrl(p, report.signingKey === 'vlek' ? 'vlek' : 'vcek');
    }
  } catch (e) {
    return {
      code: 'collateral-missing',
      message: `could not fetch SNP collateral from KDS: ${e instanceof Error ? e.message : String(e)}`,
      field: opts.vcek === undefined ? 'vcek' : 'crl',
    };
  }
  return opts;
}

/** Inputs of {@link verifySnpEvidenceFiles} (the `contrast evidence verify --snp-report` flags). @public */
export interface SnpEvidenceFiles {
  /** --snp-report: the raw 1184-byte report. */
  reportFile: string;
  /** --cert: the VCEK or VLEK, DER or PEM (a PEM may also hold ASK and ARK). */
  certFile?: string;
  /** --cert-chain: ASK/ASVK + ARK, PEM. */
  certChainFile?: string;
  /** A CRL file (DER or PEM). */
  crlFile?: string;
  /** --at: RFC 3339 time to verify at (default now). */
  at?: string;
  referenceValues?: SnpReferenceValues;
  reportData?: Uint8Array;
  trustAnchors?: SnpTrustAnchor[];
  /** Online mode for a missing --cert. */
  kds?: KdsClient;
}

/** What the CLI prints and returns. @public */
export interface SnpCliOutcome {
  /** 0 valid, 1 rejected, 2 bad input. */
  exitCode: 0 | 1 | 2;
  /** The `--json` document. */
  json:
    | { ok: true; kind: 'snp'; claims: Record<string, unknown> }
    | { ok: false; reason: { code: string; message: string; field?: string } };
  /** A human-readable summary (several lines). */
  summary: string;
}

/** JSON form of accepted claims (bytes as hex). @public */
export function snpClaimsToJson(claims: SnpClaims): Record<string, unknown> {
  return {
    reportData: toHex(claims.reportData),
    measurement: claims.measurement,
    policyDigest: claims.policyDigest,
    insecure: claims.insecure,
    ...claims.details,
  };
}

/** A short human summary of a verification result. @public */
export function describeSnpResult(result: VerifyResult<SnpClaims>): string {
  if (!result.ok) {
    const where = result.reason.field ? ` at ${result.reason.field}` : '';
    return `SNP report REJECTED (${result.reason.code}${where}): ${result.reason.message}`;
  }
  const c = result.claims;
  const d = c.details;
  const r = d.report as { version: number; reportedTcb: Record<string, unknown>; currentFirmware: string };
  const tcb = Object.entries(r.reportedTcb)
    .filter(([k]) => k !== 'raw')
    .map(([k, v]) => `${k} ${String(v)}`)
    .join(', ');
  return [
    `SNP report VALID${c.insecure ? ' — INSECURE: not rooted at an AMD key (simulated)' : ''}`,
    `  product       ${d.product} (report v${r.version}, firmware ${r.currentFirmware}), signed by ${d.signingKey.toUpperCase()}`,
    `  measurement   ${c.measurement}`,
    `  host_data     ${c.policyDigest}`,
    `  report_data   ${toHex(c.reportData)}`,
    `  reported TCB  ${tcb}`,
    `  chip_id       ${d.chipId}`,
    `  vmpl          ${d.vmpl}`,
    `  certificate   ${d.certificate.subject} serial ${d.certificate.serialNumber}, valid ${d.certificate.notBefore} .. ${d.certificate.notAfter}`,
    `  revocation    ${d.revocation === 'checked' ? 'checked against the CRL' : 'not checked (no CRL)'}`,
  ].join('\n');
}

function badInput(code: string, message: string, field?: string): SnpCliOutcome {
  const reason = field ? { code, message, field } : { code, message };
  return {
    exitCode: 2,
    json: { ok: false, reason },
    summary: `bad input${field ? ` (${field})` : ''}: ${message}`,
  };
}

/**
 * Reads the files and verifies: exit 0 valid, 1 rejected, 2 bad input (unreadable files,
 * truncated or unparseable report or certificates, a bad --at). Never throws for bad input.
 * @public
 */
export async function verifySnpEvidenceFiles(files: SnpEvidenceFiles): Promise<SnpCliOutcome> {
  const read = async (file: string, flag: string) => {
    try {
      return new Uint8Array(await readFile(file));
    } catch (e) {
      return `cannot read ${flag} ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`;
    }
  };
  let now: Date | undefined;
  if (files.at !== undefined) {
    const ok = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(files.at);
    now = new Date(files.at);
    if (!ok || Number.isNaN(now.getTime()))
      return badInput('invalid-argument', `--at "${files.at}" is not an RFC 3339 time`, 'at');
  }
  const report = await read(files.reportFile, '--snp-report');
  if (typeof report === 'string') return badInput('invalid-argument', report, 'snp-report');
  const opts: SnpVerifyOptions = {};
  if (now) opts.now = now;
  for (const [file, flag, key] of [
    [files.certFile, '--cert', 'vcek'],
    [files.certChainFile, '--cert-chain', 'certChain'],
    [files.crlFile, '--crl', 'crl'],
  ] as const) {
    if (file === undefined) continue;
    const bytes = await read(file, flag);
    if (typeof bytes === 'string') return badInput('invalid-argument', bytes, flag.slice(2));
    opts[key] = bytes;
  }
  try {
    parseSnpReport(report);
  } catch (e) {
    const err = isContrastError(e) ? e : undefined;
    return badInput('malformed', err?.message ?? String(e), err?.field ?? 'report');
  }
  const verifier = createSnpVerifier({
    ...(files.referenceValues ? { referenceValues: files.referenceValues } : {}),
    ...(files.trustAnchors ? { trustAnchors: files.trustAnchors } : {}),
    ...(files.kds ? { kds: files.kds } : {}),
    checkRevocation: false,
  });
  const extras: Record<string, Uint8Array> = {};
  if (opts.vcek) extras.vcek = opts.vcek as Uint8Array;
  if (opts.certChain) extras['cert-chain'] = opts.certChain as Uint8Array;
  if (opts.crl) extras.crl = opts.crl as Uint8Array;
  const result = await verifier.verify(
    { kind: SNP_EVIDENCE_KIND, data: report, extras },
    {
      reportData: files.reportData ?? parseSnpReport(report).reportData,
      ...(now ? { now } : {}),
    },
  );
  if (result.ok) {
    return {
      exitCode: 0,
      json: { ok: true, kind: 'snp', claims: snpClaimsToJson(result.claims) },
      summary: describeSnpResult(result),
    };
  }
  if (result.reason.code === 'malformed') {
    return badInput('malformed', result.reason.message, result.reason.field);
  }
  const reason = result.reason.field
    ? { code: result.reason.code, message: result.reason.message, field: result.reason.field }
    : { code: result.reason.code, message: result.reason.message };
  return { exitCode: 1, json: { ok: false, reason }, summary: describeSnpResult(result) };
}
