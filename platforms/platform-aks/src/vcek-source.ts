// Where the AKS guest gets the VCEK for its reports: the Azure host's certificate cache (THIM,
// served by the instance metadata endpoint), falling back to AMD KDS. The guest attaches what it
// gets to its evidence; the verifier checks it against AMD's roots as for any SNP report.

import { encodeTcb, type KdsClient, parseSnpReport } from '@contrast-cc/attestation/snp';
import { ContrastError, isContrastError, type Logger, noopLogger, readBody } from '@contrast-cc/core';

/** The Azure instance metadata endpoint (link-local; only reachable inside Azure). @public */
export const THIM_BASE_URL = 'http://169.254.169.254';
/** Path of the THIM AMD certification document. @public */
export const THIM_PATH = '/metadata/THIM/amd/certification';

/** Certificates for one report and where they came from. @public */
export interface AksCollateral {
  /** The VCEK (PEM or DER bytes). */
  vcek: Uint8Array;
  /** ASK and ARK, PEM. */
  certChain: string;
  source: 'thim' | 'kds';
}

/** Options of {@link createAksVcekSource}. @public */
export interface AksVcekSourceOptions {
  /** Default {@link THIM_BASE_URL}; tests point it at a loopback fake. */
  thimBaseUrl?: string;
  /** Fallback when THIM is unreachable, malformed or serves another TCB. Without it: no fallback. */
  kds?: KdsClient;
  fetch?: typeof globalThis.fetch;
  /** Timeout of the THIM request (default 5000 ms). */
  timeoutMs?: number;
  now?: () => number;
  logger?: Logger;
}

/** @public */
export interface AksVcekSource {
  /** Certificates for a raw 1184-byte SNP report. Throws `unavailable` when no source works. */
  collateralFor(report: Uint8Array): Promise<AksCollateral>;
}

interface ThimDocument {
  vcekCert: string;
  certificateChain: string;
  tcbm: string;
  cacheControl?: string;
}

const DEFAULT_CACHE_SECONDS = 86_400;
const MAX_THIM_BYTES = 1024 * 1024;

function parseThim(body: string): ThimDocument {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    throw new ContrastError('invalid-argument', 'THIM response is not JSON', { field: 'thim' });
  }
  const d = doc as Record<string, unknown>;
  for (const key of ['vcekCert', 'certificateChain', 'tcbm'] as const) {
    if (typeof d[key] !== 'string' || d[key] === '') {
      throw new ContrastError('invalid-argument', `THIM response lacks ${key}`, { field: `thim.${key}` });
    }
  }
  if (!(d['vcekCert'] as string).includes('-----BEGIN CERTIFICATE-----')) {
    throw new ContrastError('invalid-argument', 'THIM vcekCert is not a PEM certificate', {
      field: 'thim.vcekCert',
    });
  }
  if (!/^[0-9a-fA-F]{16}$/.test(d['tcbm'] as string)) {
    throw new ContrastError('invalid-argument', 'THIM tcbm is not 16 hex digits', { field: 'thim.tcbm' });
  }
  return d as unknown as ThimDocument;
}

/**
 * A VCEK source for AKS guests: THIM first (cached for its `cacheControl` seconds, default one
 * day), KDS when THIM fails or its VCEK is for another TCB than the report's REPORTED_TCB.
 * @public
 */
export function createAksVcekSource(options: AksVcekSourceOptions = {}): AksVcekSource {
  const base = (options.thimBaseUrl ?? THIM_BASE_URL).replace(/\/+$/, '');
  const doFetch = options.fetch ?? globalThis.fetch;
  const now = options.now ?? Date.now;
  const logger = (options.logger ?? noopLogger).child({ component: 'aks-vcek-source' });
  let cache: { doc: ThimDocument; expiresAt: number } | undefined;

  async function thim(): Promise<ThimDocument> {
    if (cache && cache.expiresAt > now()) return cache.doc;
    const response = await doFetch(`${base}${THIM_PATH}`, {
      headers: { Metadata: 'true' },
      signal: AbortSignal.timeout(options.timeoutMs ?? 5000),
    });
    if (!response.ok) {
      throw new ContrastError('unavailable', `THIM answered HTTP ${response.status}`, { field: 'thim' });
    }
    // A certification document is a few KiB; more is not read.
    const body = await readBody(response, {
      maxBytes: MAX_THIM_BYTES,
      tooLarge: () =>
        new ContrastError('invalid-argument', `THIM response is larger than ${MAX_THIM_BYTES} bytes`, {
          field: 'thim',
        }),
    });
    const doc = parseThim(new TextDecoder().decode(body));
    const seconds = Number.parseInt(doc.cacheControl ?? '', 10);
    const ttl = Number.isFinite(seconds) && seconds > 0 ? seconds : DEFAULT_CACHE_SECONDS;
    cache = { doc, expiresAt: now() + ttl * 1000 };
    return doc;
  }

  return {
    async collateralFor(raw: Uint8Array): Promise<AksCollateral> {
      const report = parseSnpReport(raw, { product: 'Milan' });
      const reportedTcb = encodeTcb(report.reportedTcb, 'Milan').toString(16).padStart(16, '0');
      let thimProblem: string;
      try {
        const doc = await thim();
        if (doc.tcbm.toLowerCase() === reportedTcb) {
          return {
            vcek: new TextEncoder().encode(doc.vcekCert),
            certChain: doc.certificateChain,
            source: 'thim',
          };
        }
        thimProblem = `THIM serves the VCEK for TCB ${doc.tcbm}, the report has ${reportedTcb}`;
      } catch (e) {
        thimProblem = isContrastError(e) ? e.message : `THIM unreachable: ${(e as Error).message}`;
      }
      if (!options.kds) {
        throw new ContrastError('unavailable', `no VCEK: ${thimProblem}, and no KDS fallback is configured`, {
          field: 'vcek',
        });
      }
      logger.info('THIM failed; fetching the VCEK from KDS', { reason: thimProblem });
      try {
        const c = await options.kds.collateralFor(report, { product: 'Milan' });
        return { vcek: c.vcek, certChain: c.certChain, source: 'kds' };
      } catch (e) {
        throw new ContrastError(
          'unavailable',
          `no VCEK: ${thimProblem}; KDS: ${e instanceof Error ? e.message : String(e)}`,
          { field: 'vcek', cause: e },
        );
      }
    },
  };
}
