// The core `Verifier` for `snp-report` evidence, and a file-based entry point for
// `contrast evidence verify --snp-report`.

import { readFile } from 'node:fs/promises';
import { isContrastError, toHex, type Verifier, type VerifyResult } from '@contrast-cc/core';
import { runNode } from '../common/crypto-node.js';
import type { SnpTrustAnchor } from './certs.js';
import type { SnpCollateralSource } from './kds.js';
import type { SnpReferenceValues } from './policy.js';
import { parseSnpReport } from './report.js';
import { type SnpVerifierOptions, snpVerifierWith } from './verifier-core.js';
import { SNP_EVIDENCE_KIND, type SnpClaims, type SnpVerifyOptions } from './verify.js';

export { SNP_EXTRAS, type SnpVerifierOptions } from './verifier-core.js';

/**
 * A `Verifier` for evidence kind `snp-report`. Evidence.extras may carry `vcek` (DER or PEM),
 * `cert-chain` (PEM ASK/ASVK + ARK) and `crl` (DER); missing ones come from `kds` when given.
 * @public
 */
export function createSnpVerifier(options: SnpVerifierOptions = {}): Verifier<SnpClaims> {
  return snpVerifierWith(runNode, options);
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
  /** Online mode (`--online`): the source of a missing --cert / --cert-chain and of the CRL. */
  kds?: SnpCollateralSource;
  /** With `kds`: fetch and check the CRL (default true); false = `--no-crl-check`. */
  checkRevocation?: boolean;
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
    // Online, the CRL is fetched and checked as the Coordinator does; offline only a --crl given.
    checkRevocation: files.kds !== undefined && files.checkRevocation !== false,
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
