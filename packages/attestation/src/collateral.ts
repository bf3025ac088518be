// One place that turns collateral settings (service URLs, an offline directory, a cache) into the
// sources the SNP and TDX verifiers use. The Coordinator (env CONTRAST_KDS_URL, CONTRAST_PCS_URL,
// CONTRAST_COLLATERAL_DIR) and the CLI (--online, --kds-url, --pcs-url) both build theirs here.

import path from 'node:path';
import type { Logger } from '@contrast-cc/core';
import { firstSnpCollateral, SnpCollateralDirectory } from './snp/collateral-source.js';
import { AMD_KDS_BASE_URL, KdsClient, type SnpCollateralSource } from './snp/kds.js';
import {
  firstTdxCollateral,
  pcsCollateralSource,
  type TdxCollateralSource,
  tdxCollateralDirectory,
} from './tdx/collateral-source.js';
import { INTEL_PCS_BASE_URL, PcsClient } from './tdx/pcs.js';

export {
  firstSnpCollateral,
  SNP_COLLATERAL_FILES,
  SnpCollateralDirectory,
} from './snp/collateral-source.js';
export type { SnpCollateral, SnpCollateralSource } from './snp/kds.js';
export {
  firstTdxCollateral,
  pcsCollateralSource,
  TDX_COLLATERAL_FILES,
  type TdxCollateralSource,
  tdxCollateralDirectory,
} from './tdx/collateral-source.js';

/** AMD KDS asks clients to space their requests; this is the spacing used for its host (ms). @public */
export const AMD_KDS_MIN_INTERVAL_MS = 10_000;

/** Where collateral comes from. Absent URLs and directory: that source is off. @public */
export interface CollateralConfig {
  /** AMD KDS (or a mirror/proxy of its paths) for SNP VCEKs, chains and CRLs. */
  kdsUrl?: string;
  /** Intel PCS, or an operator's PCCS (same v4 paths), for TDX TCB info, QE identity and CRLs. */
  pcsUrl?: string;
  /** An offline collateral directory, read before any network source. */
  dir?: string;
  /** On-disk cache of fetched collateral (`<cacheDir>/kds`, `<cacheDir>/pcs`); memory only when absent. */
  cacheDir?: string;
  /** Per-request timeout (default 20 000 ms). */
  timeoutMs?: number;
  /**
   * Spacing of KDS requests. Default {@link AMD_KDS_MIN_INTERVAL_MS} for AMD's host, 0 for other
   * URLs (a caching proxy or a local stand-in is not rate limited).
   */
  kdsMinIntervalMs?: number;
  /** Retries after 429/503 or a network error (default 3). */
  maxRetries?: number;
  fetch?: typeof globalThis.fetch;
  logger?: Logger;
}

/** The sources built from a {@link CollateralConfig}; a family is absent when nothing serves it. @public */
export interface CollateralSources {
  snp?: SnpCollateralSource;
  tdx?: TdxCollateralSource;
  /** One line per source, for a startup log line. */
  summary: string[];
}

/** The defaults of a production deployment: AMD KDS and Intel PCS. @public */
export const DEFAULT_COLLATERAL_URLS = { kdsUrl: AMD_KDS_BASE_URL, pcsUrl: INTEL_PCS_BASE_URL } as const;

/**
 * Builds the collateral sources: the offline directory first (when given), then KDS / PCS.
 * Fetched documents are cached (memory, and `cacheDir` when given); one request per document is
 * in flight at a time; KDS requests to AMD's host are spaced by {@link AMD_KDS_MIN_INTERVAL_MS}.
 * @public
 */
export function createCollateralSources(config: CollateralConfig): CollateralSources {
  const snp: SnpCollateralSource[] = [];
  const tdx: TdxCollateralSource[] = [];
  const summary: string[] = [];
  if (config.dir) {
    snp.push(new SnpCollateralDirectory(config.dir));
    tdx.push(tdxCollateralDirectory(config.dir));
    summary.push(`offline collateral directory ${config.dir}`);
  }
  if (config.kdsUrl) {
    const amd = new URL(config.kdsUrl).host === new URL(AMD_KDS_BASE_URL).host;
    const kds = new KdsClient({
      baseUrl: config.kdsUrl,
      minIntervalMs: config.kdsMinIntervalMs ?? (amd ? AMD_KDS_MIN_INTERVAL_MS : 0),
      ...(config.cacheDir ? { cacheDir: path.join(config.cacheDir, 'kds') } : {}),
      ...(config.fetch ? { fetch: config.fetch } : {}),
      ...(config.logger ? { logger: config.logger } : {}),
      ...(config.timeoutMs !== undefined ? { timeoutMs: config.timeoutMs } : {}),
      ...(config.maxRetries !== undefined ? { maxRetries: config.maxRetries } : {}),
    });
    snp.push(kds);
    summary.push(`AMD KDS ${kds.baseUrl}`);
  }
  if (config.pcsUrl) {
    const pcs = new PcsClient({
      baseUrl: config.pcsUrl,
      ...(config.cacheDir ? { cacheDir: path.join(config.cacheDir, 'pcs') } : {}),
      ...(config.timeoutMs !== undefined ? { timeoutMs: config.timeoutMs } : {}),
      ...(config.maxRetries !== undefined ? { maxRetries: config.maxRetries } : {}),
      ...(config.fetch ? { fetch: config.fetch } : {}),
      ...(config.logger ? { logger: config.logger } : {}),
    });
    tdx.push(pcsCollateralSource(pcs));
    summary.push(`Intel PCS/PCCS ${pcs.baseUrl}`);
  }
  return {
    ...(snp.length ? { snp: firstSnpCollateral(snp) } : {}),
    ...(tdx.length ? { tdx: firstTdxCollateral(tdx) } : {}),
    summary,
  };
}
