// AMD Key Distribution Service client. Endpoints (base https://kdsintf.amd.com):
//   GET /vcek/v1/{product}/{hwid-hex}?blSPL=NN&teeSPL=NN&snpSPL=NN&ucodeSPL=NN[&fmcSPL=NN]  -> VCEK (DER)
//   GET /{vcek|vlek}/v1/{product}/cert_chain                                            -> ASK|ASVK + ARK (PEM)
//   GET /{vcek|vlek}/v1/{product}/crl                                                   -> CRL (DER)
// hwid is the 64-byte CHIP_ID (Turin: its first 8 bytes); SPLs are the REPORTED_TCB components,
// two-digit decimals. Responses are cached on disk by URL (VCEKs and chains for a long time,
// CRLs until their nextUpdate) and requests go through a per-host rate limit (one per ~10 s).

import { ContrastError, type Logger, noopLogger, toHex } from '@contrast-cc/core';
import { DiskCache, RateLimitedFetcher } from '../common/cache.js';
import { loadCertificates, parseCrl } from '../common/x509.js';
import { decodeTcb, type SnpProductLine, type SnpReport, type SnpTcb } from './report.js';

/** AMD's KDS. @public */
export const AMD_KDS_BASE_URL = 'https://kdsintf.amd.com';

/** Options of {@link KdsClient}. @public */
export interface KdsClientOptions {
  /** Default https://kdsintf.amd.com; tests point it at a loopback fake. */
  baseUrl?: string;
  /** Directory of the on-disk cache; only an in-process cache when absent. */
  cacheDir?: string;
  /** Minimum spacing of requests to one host (default 10 000 ms). */
  minIntervalMs?: number;
  /** Per-request timeout (default 20 000 ms). */
  timeoutMs?: number;
  /** Retries after 429/503 or a network error (default 3). */
  maxRetries?: number;
  /** A shared fetcher (to share one rate limit between clients). */
  fetcher?: RateLimitedFetcher;
  fetch?: typeof globalThis.fetch;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  logger?: Logger;
  /** Lifetime of cached VCEKs and chains (default 30 days). */
  certTtlMs?: number;
  /** Lifetime of a cached CRL without nextUpdate (default 1 day). */
  crlTtlMs?: number;
}

/** Certificates for one report. @public */
export interface SnpCollateral {
  vcek: Uint8Array;
  certChain: string;
  crl?: Uint8Array;
}

const DAY = 86_400_000;

/**
 * Where a verifier gets SNP certificates the evidence does not carry: AMD KDS
 * ({@link KdsClient}), an offline directory ({@link SnpCollateralDirectory}), THIM on AKS, or
 * several in order ({@link firstSnpCollateral}). Failures throw a ContrastError whose message
 * names the URL (or file) and the status.
 * @public
 */
export interface SnpCollateralSource {
  /** A description for logs and errors, e.g. the base URL. */
  readonly description: string;
  /** VCEK and ASK/ARK chain for a parsed report (a VLEK must come with the evidence). */
  collateralFor(report: SnpReport, options?: { product?: SnpProductLine }): Promise<SnpCollateral>;
  /** The product's CRL (DER) for VCEK or VLEK chains. */
  getCrl(product: SnpProductLine, key?: 'vcek' | 'vlek'): Promise<Uint8Array>;
}

/** A client of AMD KDS with an on-disk cache and a rate limit. @public */
export class KdsClient implements SnpCollateralSource {
  readonly baseUrl: string;
  private readonly cache: DiskCache | undefined;
  /** In-process cache in front of the disk cache (and the only one without `cacheDir`). */
  private readonly memory = new Map<string, { body: Uint8Array; expiresAt?: number }>();
  /** One in-flight request per URL: concurrent callers share it. */
  private readonly inflight = new Map<string, Promise<Uint8Array>>();
  private readonly fetcher: RateLimitedFetcher;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly certTtlMs: number;
  private readonly crlTtlMs: number;

  constructor(options: KdsClientOptions = {}) {
    this.baseUrl = (options.baseUrl ?? AMD_KDS_BASE_URL).replace(/\/+$/, '');
    this.now = options.now ?? Date.now;
    this.cache = options.cacheDir ? new DiskCache(options.cacheDir, { now: this.now }) : undefined;
    this.logger = (options.logger ?? noopLogger).child({ component: 'kds' });
    this.fetcher =
      options.fetcher ??
      new RateLimitedFetcher({
        ...(options.minIntervalMs === undefined ? {} : { minIntervalMs: options.minIntervalMs }),
        ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
        ...(options.maxRetries === undefined ? {} : { maxRetries: options.maxRetries }),
        ...(options.fetch ? { fetch: options.fetch } : {}),
        ...(options.sleep ? { sleep: options.sleep } : {}),
        now: this.now,
        logger: this.logger,
      });
    this.certTtlMs = options.certTtlMs ?? 30 * DAY;
    this.crlTtlMs = options.crlTtlMs ?? DAY;
  }

  get description(): string {
    return `KDS ${this.baseUrl}`;
  }

  /** The VCEK URL for a chip and TCB. @public */
  vcekUrl(product: SnpProductLine, chipId: Uint8Array, tcb: SnpTcb): string {
    if (chipId.length !== 64) {
      throw new ContrastError('invalid-argument', 'CHIP_ID must be 64 bytes', { field: 'chip_id' });
    }
    const hwid = toHex(product === 'Turin' ? chipId.subarray(0, 8) : chipId);
    const n = (v: number | undefined) => String(v ?? 0).padStart(2, '0');
    const q = [
      ...(product === 'Turin' ? [`fmcSPL=${n(tcb.fmc)}`] : []),
      `blSPL=${n(tcb.bootloader)}`,
      `teeSPL=${n(tcb.tee)}`,
      `snpSPL=${n(tcb.snp)}`,
      `ucodeSPL=${n(tcb.microcode)}`,
    ];
    return `${this.baseUrl}/vcek/v1/${product}/${hwid}?${q.join('&')}`;
  }

  private async cached(url: string, ttl: (body: Uint8Array) => number | undefined): Promise<Uint8Array> {
    const mem = this.memory.get(url);
    if (mem && (mem.expiresAt === undefined || mem.expiresAt > this.now())) return mem.body;
    const hit = await this.cache?.get(url);
    if (hit) {
      this.logger.debug('KDS cache hit', { url });
      this.remember(url, hit.body, hit.expiresAt);
      return hit.body;
    }
    let pending = this.inflight.get(url);
    if (!pending) {
      pending = this.fetchAndStore(url, ttl).finally(() => this.inflight.delete(url));
      this.inflight.set(url, pending);
    }
    return pending;
  }

  private async fetchAndStore(
    url: string,
    ttl: (body: Uint8Array) => number | undefined,
  ): Promise<Uint8Array> {
    this.logger.debug('KDS request', { url });
    const { body } = await this.fetcher.get(url);
    let expiresAt: number | undefined;
    try {
      expiresAt = ttl(body);
    } catch (e) {
      throw new ContrastError(
        'unavailable',
        `GET ${url}: HTTP 200 but the body is unusable: ${e instanceof Error ? e.message : String(e)}`,
        { cause: e },
      );
    }
    await this.cache?.set(url, body, expiresAt === undefined ? {} : { expiresAt });
    this.remember(url, body, expiresAt);
    return body;
  }

  private remember(url: string, body: Uint8Array, expiresAt: number | undefined): void {
    if (this.memory.size >= 256) this.memory.delete(this.memory.keys().next().value!);
    this.memory.set(url, expiresAt === undefined ? { body } : { body, expiresAt });
  }

  /** The VCEK (DER) of a chip at a TCB (REPORTED_TCB). */
  async getVcek(product: SnpProductLine, chipId: Uint8Array, tcb: SnpTcb): Promise<Uint8Array> {
    const url = this.vcekUrl(product, chipId, tcb);
    return this.cached(url, (body) => {
      loadCertificates(body, 'kds.vcek');
      return this.now() + this.certTtlMs;
    });
  }

  /** The ASK (or ASVK) and ARK, PEM. */
  async getCertChain(product: SnpProductLine, key: 'vcek' | 'vlek' = 'vcek'): Promise<string> {
    const body = await this.cached(`${this.baseUrl}/${key}/v1/${product}/cert_chain`, (b) => {
      if (loadCertificates(b, 'kds.cert_chain').length < 2) {
        throw new ContrastError('invalid-argument', 'KDS cert_chain holds fewer than 2 certificates', {
          field: 'kds.cert_chain',
        });
      }
      return this.now() + this.certTtlMs;
    });
    return new TextDecoder().decode(body);
  }

  /** The product's CRL (DER), cached until its nextUpdate. */
  async getCrl(product: SnpProductLine, key: 'vcek' | 'vlek' = 'vcek'): Promise<Uint8Array> {
    return this.cached(`${this.baseUrl}/${key}/v1/${product}/crl`, (body) => {
      const crl = parseCrl(body, 'kds.crl');
      return Math.min(crl.nextUpdate?.getTime() ?? Number.POSITIVE_INFINITY, this.now() + this.crlTtlMs);
    });
  }

  /** VCEK, chain and (optionally) CRL for a parsed report. VLEKs are not served publicly. */
  async collateralFor(
    report: SnpReport,
    options: { crl?: boolean; product?: SnpProductLine } = {},
  ): Promise<SnpCollateral> {
    if (report.signingKey !== 'vcek') {
      throw new ContrastError('not-found', 'KDS serves VCEKs only; a VLEK must come with the evidence', {
        field: 'signing_key',
      });
    }
    const product = options.product ?? report.product;
    if (!product) {
      throw new ContrastError(
        'invalid-argument',
        'the product line is unknown (v2 report): pass it explicitly',
        {
          field: 'product',
        },
      );
    }
    const tcb = product === report.product ? report.reportedTcb : decodeTcb(report.reportedTcbRaw, product);
    const vcek = await this.getVcek(product, report.chipId, tcb);
    const certChain = await this.getCertChain(product);
    if (!options.crl) return { vcek, certChain };
    return { vcek, certChain, crl: await this.getCrl(product) };
  }
}
