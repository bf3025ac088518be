import { readFile } from 'node:fs/promises';
import { ContrastError, fromHex, isContrastError, toHex } from '@contrast-cc/core';
import type { TdxCollateral } from './collateral.js';
import { loadCollateralDir } from './collateral-dir.js';
import type { TdxCollateralSource } from './collateral-source.js';
import { parseTdxQuote } from './quote.js';
import type { TdxReferenceValues } from './reference-values.js';
import { createTdxVerifier } from './verifier.js';
import { TDX_EVIDENCE_KIND, type TdxTrustAnchors, type TdxVerifyResult } from './verify.js';

export interface TdxQuoteFileOptions {
  quoteFile: string;
  /** Offline collateral directory (PCS file names, any subset). */
  collateralDir?: string;
  /** RFC 3339 time to verify at; default now. */
  at?: string;
  referenceValues?: TdxReferenceValues;
  /** Expected REPORT_DATA as hex (64 bytes). */
  reportData?: string;
  trustAnchors?: TdxTrustAnchors;
  /**
   * Online mode (`--online`): where collateral comes from when no `collateralDir` is given (Intel
   * PCS or a PCCS); collateral is then required, and a failed fetch is `collateral-unavailable`.
   */
  collateralSource?: TdxCollateralSource;
}

/** What `contrast evidence verify --tdx-quote` prints and exits with. */
export interface TdxQuoteFileReport {
  /** 0 verified, 1 verification failed, 2 unusable input (unreadable file, malformed quote or flags). */
  exitCode: 0 | 1 | 2;
  result: TdxVerifyResult;
  /** Lines for a person. */
  summary: string;
  /** The `--json` document: `{ ok, kind: "tdx", claims | reason }` (as the SNP entry point, kind "snp") with bytes as hex. */
  json: Record<string, unknown>;
}

function usage(message: string, field: string): TdxQuoteFileReport {
  const result: TdxVerifyResult = { ok: false, reason: { code: 'malformed', message, field } };
  return {
    exitCode: 2,
    result,
    summary: `TDX quote: unusable input: ${field}: ${message}`,
    json: { ok: false, kind: 'tdx', reason: result.reason },
  };
}

/** Reads a quote file (and optional collateral directory), verifies it and describes the outcome. */
export async function verifyTdxQuoteFile(options: TdxQuoteFileOptions): Promise<TdxQuoteFileReport> {
  let now = new Date();
  if (options.at !== undefined) {
    now = new Date(options.at);
    if (Number.isNaN(now.getTime()) || !/^\d{4}-\d{2}-\d{2}T/.test(options.at)) {
      return usage('not an RFC 3339 time', '--at');
    }
  }
  let reportData: Uint8Array | undefined;
  try {
    if (options.reportData !== undefined)
      reportData = fromHex(options.reportData, { field: '--report-data', length: 64 });
  } catch (e) {
    return usage((e as Error).message, '--report-data');
  }
  let quote: Uint8Array;
  try {
    quote = new Uint8Array(await readFile(options.quoteFile));
  } catch {
    return usage('cannot read the quote file', '--tdx-quote');
  }
  let collateral: TdxCollateral | undefined;
  if (options.collateralDir !== undefined) {
    try {
      collateral = await loadCollateralDir(options.collateralDir);
    } catch (e) {
      return usage(e instanceof ContrastError ? e.message : String(e), '--collateral');
    }
  }
  let reportDataOfQuote: Uint8Array;
  try {
    reportDataOfQuote = parseTdxQuote(quote).body.reportData;
  } catch (e) {
    return usage(
      e instanceof Error ? e.message : String(e),
      isContrastError(e) ? (e.field ?? 'quote') : 'quote',
    );
  }
  let result: TdxVerifyResult;
  try {
    // The verifier the platforms (and so the Coordinator) build, with this file's collateral.
    const source = collateral ?? options.collateralSource;
    const verifier = createTdxVerifier({
      // A file is often a padded capture (configfs-tsm reads into a fixed buffer): bytes after the
      // declared quote are ignored here and reported, never verified.
      allowTrailingBytes: true,
      ...(source ? { collateral: source } : {}),
      ...(!collateral && options.collateralSource ? { requireCollateral: true } : {}),
      ...(options.referenceValues ? { referenceValues: options.referenceValues } : {}),
      ...(options.trustAnchors ? { trustAnchors: options.trustAnchors } : {}),
    });
    result = await verifier.verify(
      { kind: TDX_EVIDENCE_KIND, data: quote },
      // Without --report-data the quote's own REPORT_DATA: the file is checked, not bound.
      { reportData: reportData ?? reportDataOfQuote, now },
    );
  } catch (e) {
    // Misuse, not bad evidence: malformed reference values.
    if (isContrastError(e)) return usage(e.message, e.field ?? 'referenceValues');
    throw e;
  }
  if (!result.ok) {
    const tcb = result.tcb ? ` (TCB status ${result.tcb.status})` : '';
    return {
      exitCode: result.reason.code === 'malformed' ? 2 : 1,
      result,
      summary: `TDX quote REJECTED: ${result.reason.code}${result.reason.field ? ` [${result.reason.field}]` : ''}: ${result.reason.message}${tcb}`,
      json: {
        ok: false,
        kind: 'tdx',
        reason: result.reason,
        ...(result.tcb ? { tcb: result.tcb } : {}),
      },
    };
  }
  const c = result.claims;
  const d = c.details;
  const lines = [
    `TDX quote verified (v${d.version}, ${d.bodyType === 3 ? 'TDX 1.5' : 'TDX 1.0'} body) at ${now.toISOString()}`,
    c.insecure
      ? 'WARNING: signed by a non-Intel root (simulated evidence): INSECURE'
      : 'PCK chain: Intel SGX Root CA',
    `MRTD        ${c.measurement}`,
    ...d.rtmrs.map((r, i) => `RTMR${i}       ${r}`),
    `MRSEAM      ${d.mrSeam}`,
    `MRCONFIGID  ${d.mrConfigId}`,
    `REPORT_DATA ${toHex(c.reportData)}`,
    `FMSPC ${String(d.pck['fmspc'])}  PCESVN ${String(d.pck['pceSvn'])}  QESVN ${d.qeSvn}  TEE_TCB_SVN ${d.teeTcbSvn}`,
    d.tcbStatus
      ? `TCB status: ${d.tcbStatus}${d.advisoryIds?.length ? ` (advisories: ${d.advisoryIds.join(', ')})` : ''}`
      : 'TCB status: not evaluated (no TCB info collateral)',
  ];
  const ignored = parseTdxQuote(quote).trailingBytes;
  if (ignored > 0)
    lines.push(`Ignored ${ignored} bytes after the quote (padding of the capture; not signed)`);
  const {
    tcb,
    certificateClaims: _certificateClaims,
    certificateDetails: _certificateDetails,
    ...claims
  } = c;
  return {
    exitCode: 0,
    result,
    summary: lines.join('\n'),
    json: {
      ok: true,
      kind: 'tdx',
      claims: { ...claims, reportData: toHex(c.reportData), ...(tcb ? { tcb } : {}) },
      ...(ignored > 0 ? { ignoredTrailingBytes: ignored } : {}),
    },
  };
}
