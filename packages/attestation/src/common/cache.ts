// Shared helpers for SNP and TDX (src/common): collateral caching and polite fetching.
//
// - `DiskCache(dir)`: a small on-disk key -> bytes store with expiry. Files are named by the
//   SHA-256 of the key (`<hash>.bin` + `<hash>.json` metadata), written atomically (temp file +
//   rename), so several processes may share a directory.
// - `RateLimitedFetcher`: fetch() with one queue per host: requests to the same host start at
//   least `minIntervalMs` apart (AMD KDS allows about one request per 10 s per address), and
//   429/503 answers are retried after Retry-After or an exponential backoff. `fetch`, `sleep`
//   and `now` are injectable for tests (which use loopback servers only).

import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  ContrastError,
  delay,
  type Logger,
  networkReason,
  noopLogger,
  readBody,
  retryAfterMs,
  withRetries,
} from '@contrast-cc/core';
import { z } from 'zod';

/** The metadata file beside a cached body. */
const CacheMetaSchema = z.object({
  key: z.string(),
  storedAt: z.number().finite(),
  expiresAt: z.number().finite().optional(),
});

/** A cached entry. */
export interface CacheEntry {
  body: Uint8Array;
  storedAt: number;
  /** Epoch ms after which the entry is stale; absent = never. */
  expiresAt?: number;
}

/** An on-disk cache of byte values by string key. */
export class DiskCache {
  private readonly now: () => number;

  constructor(
    readonly dir: string,
    options: { now?: () => number } = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  private file(key: string): string {
    return path.join(this.dir, createHash('sha256').update(key).digest('hex'));
  }

  /** The fresh entry for `key`, or undefined (missing, expired, or unreadable). */
  async get(key: string): Promise<CacheEntry | undefined> {
    const base = this.file(key);
    try {
      // An on-disk file anyone with access may have changed: parsed, not cast.
      const parsed = CacheMetaSchema.safeParse(JSON.parse(await readFile(`${base}.json`, 'utf8')));
      if (!parsed.success) return undefined;
      const meta = parsed.data;
      if (meta.key !== key) return undefined;
      if (meta.expiresAt !== undefined && meta.expiresAt <= this.now()) return undefined;
      const body = new Uint8Array(await readFile(`${base}.bin`));
      return meta.expiresAt === undefined
        ? { body, storedAt: meta.storedAt }
        : { body, storedAt: meta.storedAt, expiresAt: meta.expiresAt };
    } catch {
      return undefined;
    }
  }

  /** Stores `body` under `key`; `expiresAt` (epoch ms) or `ttlMs` bound its freshness. */
  async set(
    key: string,
    body: Uint8Array,
    options: { ttlMs?: number; expiresAt?: number } = {},
  ): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const base = this.file(key);
    const storedAt = this.now();
    const expiresAt =
      options.expiresAt ?? (options.ttlMs === undefined ? undefined : storedAt + options.ttlMs);
    const tmp = `.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(`${base}${tmp}`, body);
    await rename(`${base}${tmp}`, `${base}.bin`);
    await writeFile(
      `${base}${tmp}`,
      JSON.stringify({ key, storedAt, ...(expiresAt === undefined ? {} : { expiresAt }) }),
    );
    await rename(`${base}${tmp}`, `${base}.json`);
  }
}

/** Options of {@link RateLimitedFetcher}. */
export interface RateLimitOptions {
  /** Minimum time between request starts to one host (default 10 000 ms). */
  minIntervalMs?: number;
  /** Retries after 429/503 or a network error (default 3). */
  maxRetries?: number;
  /** First backoff when the server gives no Retry-After (default = minIntervalMs); doubles each retry. */
  backoffMs?: number;
  /**
   * The longest Retry-After waited for (default 60 000 ms): a server asking for more fails the
   * fetch at once (`unavailable`, naming the wait it asked for) instead of holding this host's
   * queue, and every verification behind it, for as long as it says.
   */
  maxRetryAfterMs?: number;
  /** Per-attempt timeout (default 20 000 ms). */
  timeoutMs?: number;
  fetch?: typeof globalThis.fetch;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  logger?: Logger;
}

/** The largest collateral document read (VCEKs, chains, CRLs, TCB info: kilobytes). */
const MAX_COLLATERAL_BYTES = 32 * 1024 * 1024;

/** A successful response body with its headers. */
export interface FetchedBody {
  status: number;
  body: Uint8Array;
  headers: Headers;
}

/** fetch() with a per-host queue, minimum spacing and retry with backoff. */
export class RateLimitedFetcher {
  private readonly tails = new Map<string, Promise<unknown>>();
  private readonly last = new Map<string, number>();
  private readonly o: Required<Omit<RateLimitOptions, 'logger'>> & { logger: Logger };

  constructor(options: RateLimitOptions = {}) {
    const minIntervalMs = options.minIntervalMs ?? 10_000;
    this.o = {
      minIntervalMs,
      maxRetries: options.maxRetries ?? 3,
      backoffMs: options.backoffMs ?? minIntervalMs,
      maxRetryAfterMs: options.maxRetryAfterMs ?? 60_000,
      timeoutMs: options.timeoutMs ?? 20_000,
      fetch: options.fetch ?? globalThis.fetch.bind(globalThis),
      sleep: options.sleep ?? ((ms: number) => delay(ms)),
      now: options.now ?? Date.now,
      logger: options.logger ?? noopLogger,
    };
  }

  /**
   * GETs `url` in its host's queue. Resolves with 2xx bodies; throws ContrastError `not-found`
   * for 404, `unavailable` when retries are exhausted or for other statuses.
   */
  get(url: string): Promise<FetchedBody> {
    const host = new URL(url).host;
    const prev = this.tails.get(host) ?? Promise.resolve();
    const run = prev.catch(() => undefined).then(() => this.attempts(url, host));
    this.tails.set(
      host,
      run.catch(() => undefined),
    );
    return run;
  }

  private async waitTurn(host: string): Promise<void> {
    const last = this.last.get(host);
    if (last !== undefined) {
      // Loop: timers may fire a millisecond early.
      for (let wait = last + this.o.minIntervalMs - this.o.now(); wait > 0; ) {
        await this.o.sleep(wait);
        wait = last + this.o.minIntervalMs - this.o.now();
      }
    }
    this.last.set(host, this.o.now());
  }

  private async attempts(url: string, host: string): Promise<FetchedBody> {
    let tries = 0;
    try {
      return await withRetries(
        async (n) => {
          tries = n;
          await this.waitTurn(host);
          return await this.once(url);
        },
        (e) => (e instanceof RetryableFetch ? { retryAfterMs: e.retryAfterMs } : undefined),
        {
          attempts: this.o.maxRetries + 1,
          delayMs: this.o.backoffMs,
          maxRetryAfterMs: this.o.maxRetryAfterMs,
          tooLong: (e, asked) =>
            new CollateralFetchError(
              `GET ${url}: HTTP ${(e as RetryableFetch).status}, asked to retry in ${Math.ceil(asked / 1000)} s (more than the ${Math.ceil(this.o.maxRetryAfterMs / 1000)} s waited for)`,
              { url, status: (e as RetryableFetch).status },
            ),
          onRetry: (e, attempt, waitMs) => {
            const f = e as RetryableFetch;
            if (f.status === undefined) {
              this.o.logger.warn('collateral request failed, retrying', {
                url,
                attempt,
                backoffMs: waitMs,
                error: f.message,
              });
            } else
              this.o.logger.warn('collateral server asks to slow down', { url, status: f.status, waitMs });
          },
          sleep: (ms) => this.o.sleep(ms),
        },
      );
    } catch (e) {
      if (!(e instanceof RetryableFetch)) throw e;
      if (e.status === undefined)
        throw new CollateralFetchError(`GET ${url}: ${e.message}`, { url, cause: e.cause });
      const retried = tries > 1 ? ` (after ${tries} attempts)` : '';
      throw new CollateralFetchError(`GET ${url}: HTTP ${e.status}${retried}`, { url, status: e.status });
    }
  }

  /** One request: the body, or a failure (RetryableFetch when another attempt may succeed). */
  private async once(url: string): Promise<FetchedBody> {
    let response: Response;
    try {
      response = await this.o.fetch(url, { signal: AbortSignal.timeout(this.o.timeoutMs) });
      // The body inside the attempt: cut off or too slow, it is retried like a failed request.
      if (response.ok) {
        const body = await readBody(response, {
          maxBytes: MAX_COLLATERAL_BYTES,
          tooLarge: () =>
            new CollateralFetchError(`GET ${url}: the answer is larger than ${MAX_COLLATERAL_BYTES} bytes`, {
              url,
              status: response.status,
            }),
        });
        return { status: response.status, body, headers: response.headers };
      }
      await response.body?.cancel().catch(() => undefined);
    } catch (e) {
      if (e instanceof CollateralFetchError) throw e;
      const timedOut = (e as Error)?.name === 'TimeoutError';
      throw new RetryableFetch(
        timedOut ? `no answer within ${this.o.timeoutMs} ms` : networkReason(e),
        undefined,
        undefined,
        e,
      );
    }
    if (response.status === 404) {
      throw new CollateralFetchError(`GET ${url}: HTTP 404 (not found)`, {
        url,
        status: 404,
        notFound: true,
      });
    }
    if (response.status === 429 || response.status === 503) {
      // Retry-After (seconds or an HTTP date); absent or unreadable: the backoff.
      const asked = retryAfterMs(response.headers.get('retry-after'), this.o.now());
      throw new RetryableFetch(`HTTP ${response.status}`, response.status, asked);
    }
    throw new CollateralFetchError(`GET ${url}: HTTP ${response.status}`, { url, status: response.status });
  }
}

/** A failed attempt another one may fix: no answer (no status) or 429/503 (with its Retry-After). */
class RetryableFetch extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly retryAfterMs: number | undefined,
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
  }
}

/**
 * A collateral request that failed: the message names the URL and the HTTP status (or the network
 * error). Code `not-found` for 404, `unavailable` otherwise.
 */
export class CollateralFetchError extends ContrastError {
  readonly url: string;
  readonly status: number | undefined;

  constructor(
    message: string,
    options: { url: string; status?: number; notFound?: boolean; cause?: unknown },
  ) {
    super(options.notFound ? 'not-found' : 'unavailable', message, {
      ...(options.cause === undefined ? {} : { cause: options.cause }),
    });
    this.url = options.url;
    this.status = options.status;
  }
}
