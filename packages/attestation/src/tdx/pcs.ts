import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ContrastError, type Logger, noopLogger } from '@contrast-cc/core';
import { RateLimitedFetcher } from '../common/cache.js';
import { parseCrl } from '../common/x509.js';
import type { TdxCollateral } from './collateral.js';
import { rawJsonMember } from './json-raw.js';
import type { CollateralRequest } from './verifier.js';

/** Intel's Provisioning Certification Service. */
export const INTEL_PCS_BASE_URL = 'https://api.trustedservices.intel.com';

export interface PcsClientOptions {
  /** PCS base URL (no trailing slash); default Intel's. Tests point it at a loopback fake. */
  baseUrl?: string;
  /** Directory for the on-disk cache; absent = memory only. */
  cacheDir?: string;
  /** Entries older than this are refetched (they are also refetched after their nextUpdate). Default 1 day. */
  maxAgeMs?: number;
  /** Serve only from the cache; never touch the network. */
  offline?: boolean;
  /** Minimum spacing between two requests to PCS (rate limit). Default 0. */
  minIntervalMs?: number;
  /** Retries after 429/503 or a network error (default 3). */
  maxRetries?: number;
  /** Per-request timeout (default 20 000 ms). */
  timeoutMs?: number;
  /** First backoff without Retry-After (default 1000 ms), doubling per retry. */
  backoffMs?: number;
  fetch?: typeof fetch;
  logger?: Logger;
  now?: () => Date;
}

/** One cached PCS response: the body and, where PCS sends one, the issuer chain header. */
export interface PcsDocument {
  body: Uint8Array;
  issuerChain?: Uint8Array;
}

interface Entry extends PcsDocument {
  fetchedAt: number;
  /** nextUpdate of the document, ms since epoch (NaN when unknown). */
  nextUpdate: number;
}

function nextUpdateOf(kind: 'json' | 'crl', body: Uint8Array, member?: string): number {
  try {
    if (kind === 'crl') return parseCrl(body, 'crl').nextUpdate?.getTime() ?? Number.NaN;
    const raw = rawJsonMember(body, member!, member!);
    const v = raw ? (JSON.parse(new TextDecoder().decode(raw)) as { nextUpdate?: string }) : undefined;
    return v?.nextUpdate ? new Date(v.nextUpdate).getTime() : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/**
 * A client for the Intel PCS v4 endpoints a TDX verifier needs (TCB info, QE identity, PCK CRL,
 * root CA CRL), with an on-disk cache (`<cacheDir>/<key>/body` + `issuer_chain.pem` + `meta.json`),
 * in-flight de-duplication, an optional rate limit and an offline mode. When a refresh fails, a
 * stale cached copy is served (the verifier still checks its validity window).
 */
export class PcsClient {
  readonly baseUrl: string;
  private readonly memory = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<PcsDocument>>();
  private readonly fetcher: RateLimitedFetcher;
  private readonly logger: Logger;
  private readonly now: () => Date;
  /** Number of HTTP requests made (for tests and metrics). */
  requests = 0;

  constructor(private readonly options: PcsClientOptions = {}) {
    this.baseUrl = (options.baseUrl ?? INTEL_PCS_BASE_URL).replace(/\/+$/, '');
    this.fetcher = new RateLimitedFetcher({
      minIntervalMs: options.minIntervalMs ?? 0,
      maxRetries: options.maxRetries ?? 3,
      backoffMs: options.backoffMs ?? 1000,
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      ...(options.fetch ? { fetch: options.fetch } : {}),
      logger: options.logger ?? noopLogger,
    });
    this.logger = (options.logger ?? noopLogger).child({ component: 'pcs-client' });
    this.now = options.now ?? (() => new Date());
  }

  getTcbInfo(fmspc: string, tcbEvaluationDataNumber?: number): Promise<PcsDocument> {
    if (!/^[0-9a-fA-F]{12}$/.test(fmspc))
      throw new ContrastError('invalid-argument', 'FMSPC must be 6 bytes hex', { field: 'fmspc' });
    const q =
      tcbEvaluationDataNumber === undefined ? '' : `&tcbEvaluationDataNumber=${tcbEvaluationDataNumber}`;
    return this.get(
      `tcb-${fmspc.toLowerCase()}${q ? `-${tcbEvaluationDataNumber}` : ''}`,
      `/tdx/certification/v4/tcb?fmspc=${fmspc.toUpperCase()}${q}`,
      'tcb-info-issuer-chain',
      (b) => nextUpdateOf('json', b, 'tcbInfo'),
    );
  }

  getQeIdentity(): Promise<PcsDocument> {
    return this.get(
      'qe-identity',
      '/tdx/certification/v4/qe/identity',
      'sgx-enclave-identity-issuer-chain',
      (b) => nextUpdateOf('json', b, 'enclaveIdentity'),
    );
  }

  getPckCrl(ca: 'platform' | 'processor'): Promise<PcsDocument> {
    return this.get(
      `pck-crl-${ca}`,
      `/sgx/certification/v4/pckcrl?ca=${ca}&encoding=der`,
      'sgx-pck-crl-issuer-chain',
      (b) => nextUpdateOf('crl', b),
    );
  }

  getRootCaCrl(): Promise<PcsDocument> {
    return this.get('root-ca-crl', '/sgx/certification/v4/rootcacrl', undefined, (b) =>
      nextUpdateOf('crl', b),
    );
  }

  /** Everything the verifier uses for one platform, in {@link TdxCollateral} form. */
  async getCollateral(request: CollateralRequest): Promise<TdxCollateral> {
    const [tcb, qe, pckCrl, rootCrl] = await Promise.all([
      this.getTcbInfo(request.fmspc, request.tcbEvaluationDataNumber),
      this.getQeIdentity(),
      this.getPckCrl(request.ca),
      this.getRootCaCrl(),
    ]);
    const out: TdxCollateral = {
      tcbInfo: tcb.body,
      qeIdentity: qe.body,
      pckCrl: pckCrl.body,
      rootCaCrl: rootCrl.body,
    };
    if (tcb.issuerChain) out.tcbInfoIssuerChain = tcb.issuerChain;
    if (qe.issuerChain) out.qeIdentityIssuerChain = qe.issuerChain;
    if (pckCrl.issuerChain) out.pckCrlIssuerChain = pckCrl.issuerChain;
    return out;
  }

  private fresh(e: Entry): boolean {
    const now = this.now().getTime();
    const maxAge = this.options.maxAgeMs ?? 86_400_000;
    return now - e.fetchedAt < maxAge && (Number.isNaN(e.nextUpdate) || now < e.nextUpdate);
  }

  private async get(
    key: string,
    pathAndQuery: string,
    chainHeader: string | undefined,
    nextUpdate: (body: Uint8Array) => number,
  ): Promise<PcsDocument> {
    const cached = this.memory.get(key) ?? (await this.readDisk(key));
    if (cached) this.memory.set(key, cached);
    if (cached && (this.fresh(cached) || this.options.offline)) return cached;
    if (this.options.offline) {
      throw new ContrastError('unavailable', `offline and no cached ${key}`, { field: key });
    }
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = this.fetchAndStore(key, pathAndQuery, chainHeader, nextUpdate).finally(() =>
        this.inflight.delete(key),
      );
      this.inflight.set(key, pending);
    }
    try {
      return await pending;
    } catch (e) {
      if (cached) {
        this.logger.warn('PCS unreachable, serving a stale cached document', { key, error: String(e) });
        return cached;
      }
      throw e;
    }
  }

  private async fetchAndStore(
    key: string,
    pathAndQuery: string,
    chainHeader: string | undefined,
    nextUpdate: (body: Uint8Array) => number,
  ): Promise<PcsDocument> {
    this.requests++;
    const url = `${this.baseUrl}${pathAndQuery}`;
    // Spacing, retries on 429/503 (Retry-After or backoff) and timeouts: src/common's fetcher.
    const res = await this.fetcher.get(url);
    let body = res.body;
    // Some PCS versions serve the root CA CRL as hex text.
    if (
      key === 'root-ca-crl' &&
      body[0] !== 0x30 &&
      /^[0-9a-fA-F\s]+$/.test(new TextDecoder().decode(body))
    ) {
      body = new Uint8Array(Buffer.from(new TextDecoder().decode(body).trim(), 'hex'));
    }
    const entry: Entry = { body, fetchedAt: this.now().getTime(), nextUpdate: nextUpdate(body) };
    if (chainHeader) {
      const h = res.headers.get(chainHeader);
      if (!h)
        throw new ContrastError(
          'unavailable',
          `GET ${url}: HTTP ${res.status} without the ${chainHeader} header`,
          {
            field: chainHeader,
          },
        );
      entry.issuerChain = new TextEncoder().encode(decodeURIComponent(h));
    }
    this.memory.set(key, entry);
    await this.writeDisk(key, entry);
    this.logger.debug('fetched PCS document', { key, bytes: body.length });
    return entry;
  }

  private async readDisk(key: string): Promise<Entry | undefined> {
    if (!this.options.cacheDir) return undefined;
    const dir = path.join(this.options.cacheDir, key);
    try {
      const meta = JSON.parse(await readFile(path.join(dir, 'meta.json'), 'utf8')) as {
        fetchedAt: number;
        nextUpdate: number | null;
      };
      const body = new Uint8Array(await readFile(path.join(dir, 'body')));
      const entry: Entry = { body, fetchedAt: meta.fetchedAt, nextUpdate: meta.nextUpdate ?? Number.NaN };
      try {
        entry.issuerChain = new Uint8Array(await readFile(path.join(dir, 'issuer_chain.pem')));
      } catch {
        // documents without an issuer chain (root CA CRL)
      }
      return entry;
    } catch {
      return undefined;
    }
  }

  private async writeDisk(key: string, e: Entry): Promise<void> {
    if (!this.options.cacheDir) return;
    const dir = path.join(this.options.cacheDir, key);
    await mkdir(dir, { recursive: true });
    const put = async (name: string, data: Uint8Array | string) => {
      const tmp = path.join(dir, `.${name}.${process.pid}.tmp`);
      await writeFile(tmp, data);
      await rename(tmp, path.join(dir, name));
    };
    await put('body', e.body);
    if (e.issuerChain) await put('issuer_chain.pem', e.issuerChain);
    await put(
      'meta.json',
      JSON.stringify({
        fetchedAt: e.fetchedAt,
        nextUpdate: Number.isNaN(e.nextUpdate) ? null : e.nextUpdate,
      }),
    );
  }
}
