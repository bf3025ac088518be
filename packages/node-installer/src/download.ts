// The node installer's downloads of runtime files (QEMU, firmware, kernel, guest image) over
// https: bounded in time and size, retried when the failure is one another attempt can change.
// Every byte is checked against its digest afterwards (install.ts), so this guards availability,
// not integrity: a server that stalls, drips, never ends or answers 503 for a while must neither
// hang the DaemonSet's pod nor fill its memory.

import {
  ContrastError,
  type Logger,
  networkReason,
  noopLogger,
  readBody,
  retryAfterMs,
  withRetries,
} from '@contrast-cc/core';

/** Options of {@link downloadFile}. @public */
export interface DownloadOptions {
  /** Attempts per file (default 4). */
  attempts?: number;
  /** The wait before the second attempt (default 1000 ms), doubling up to 30 s; a Retry-After counts when longer. */
  retryDelayMs?: number;
  /** The longest Retry-After waited for (default 60 000 ms); a server asking for more fails the download at once. */
  maxRetryAfterMs?: number;
  /** An attempt that receives no byte for this long is given up (default 60 000 ms). */
  stallTimeoutMs?: number;
  /** The deadline of one attempt, headers to last byte (default 30 minutes). */
  attemptTimeoutMs?: number;
  /** The largest file accepted (default 2 GiB): a longer Content-Length is refused before the body, a longer body cut off. */
  maxBytes?: number;
  logger?: Logger;
  fetch?: typeof globalThis.fetch;
  sleep?: (ms: number) => Promise<void>;
}

const TRANSIENT_STATUS = new Set([408, 429, 500, 502, 503, 504]);
const MAX_RETRY_DELAY_MS = 30_000;
const MiB = 1024 * 1024;

/** One failed attempt: whether another could succeed, and what the server asked to wait. */
class AttemptFailure extends Error {
  constructor(
    message: string,
    readonly retry: boolean,
    readonly retryAfter?: number,
  ) {
    super(message);
  }
}

const mib = (n: number) => `${(n / MiB).toFixed(1)} MiB`;

/**
 * A URL as logs and errors show it: without user information and with its query elided, since a
 * mirror's URL may carry credentials (`https://user:token@...`) or a presigned signature (`?X-Amz-Signature=...`).
 */
export function shownUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return '(a URL that does not parse)';
  }
  if (u.protocol === 'file:') return `file://${u.pathname}`;
  return `${u.protocol}//${u.host}${u.pathname}${u.search ? '?…' : ''}`;
}

/**
 * Downloads `url` whole: retries network errors, stalls, missed deadlines and 408/429/500/502/503/504
 * (with backoff, or the server's Retry-After up to `maxRetryAfterMs`), refuses other statuses at
 * once, and never holds more than `maxBytes`. Throws `ContrastError` (`unavailable`, `not-found`
 * for 404, `invalid-argument` for a file over `maxBytes`) naming the URL.
 * @public
 */
export async function downloadFile(url: string, options: DownloadOptions = {}): Promise<Uint8Array> {
  const maxBytes = options.maxBytes ?? 2048 * MiB;
  const log = options.logger ?? noopLogger;
  const shown = shownUrl(url);
  if (/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(url)) {
    // fetch refuses them anyway, with the whole URL (credentials included) in its message.
    throw new ContrastError(
      'invalid-argument',
      `${shown}: a download URL cannot carry credentials (user:password@); serve the file without them`,
      { field: 'url' },
    );
  }
  const maxRetryAfter = options.maxRetryAfterMs ?? 60_000;
  let attempts = 0;
  try {
    return await withRetries(
      (n) => {
        attempts = n;
        return downloadOnce(url, shown, maxBytes, options, log);
      },
      (e) => (e instanceof AttemptFailure && e.retry ? { retryAfterMs: e.retryAfter } : undefined),
      {
        attempts: options.attempts ?? 4,
        delayMs: options.retryDelayMs ?? 1000,
        maxDelayMs: MAX_RETRY_DELAY_MS,
        maxRetryAfterMs: maxRetryAfter,
        tooLong: (e, asked) =>
          new ContrastError(
            'unavailable',
            `${shown}: ${(e as Error).message}, asked to retry in ${Math.ceil(asked / 1000)} s (more than the ${Math.ceil(maxRetryAfter / 1000)} s waited for)`,
          ),
        onRetry: (e, attempt, waitMs) =>
          log.warn('download failed, retrying', { url: shown, attempt, error: (e as Error).message, waitMs }),
        ...(options.sleep ? { sleep: options.sleep } : {}),
      },
    );
  } catch (e) {
    if (!(e instanceof AttemptFailure)) throw e;
    const after = attempts > 1 ? ` (after ${attempts} attempts)` : '';
    throw new ContrastError('unavailable', `${shown}: ${e.message}${after}`);
  }
}

async function downloadOnce(
  url: string,
  shown: string,
  maxBytes: number,
  options: DownloadOptions,
  log: Logger,
): Promise<Uint8Array> {
  const fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
  const stallMs = options.stallTimeoutMs ?? 60_000;
  const deadlineMs = options.attemptTimeoutMs ?? 30 * 60_000;
  const controller = new AbortController();
  let why: string | undefined;
  const abort = (reason: string) => {
    why ??= reason;
    controller.abort(new Error(reason));
  };
  const deadline = setTimeout(() => abort(`no complete answer within ${deadlineMs} ms`), deadlineMs);
  let stall: ReturnType<typeof setTimeout> | undefined;
  const armStall = () => {
    clearTimeout(stall);
    stall = setTimeout(() => abort(`no data for ${stallMs} ms`), stallMs);
  };
  try {
    armStall();
    let response: Response;
    try {
      response = await fetchImpl(url, { signal: controller.signal, redirect: 'follow' });
    } catch (e) {
      throw new AttemptFailure(why ?? networkReason(e).replaceAll(url, shown), true);
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      if (response.status === 404) throw new ContrastError('not-found', `${shown}: HTTP 404 (not found)`);
      throw new AttemptFailure(
        `HTTP ${response.status}`,
        TRANSIENT_STATUS.has(response.status),
        retryAfterMs(response.headers.get('retry-after')),
      );
    }
    const declared = Number(response.headers.get('content-length') ?? Number.NaN);
    if (Number.isFinite(declared) && declared <= maxBytes)
      log.info('downloading', { url: shown, size: mib(declared) });
    let body: Uint8Array;
    try {
      body = await readBody(response, {
        maxBytes,
        onChunk: armStall,
        tooLarge: (length) => {
          abort('too large');
          return new ContrastError(
            'invalid-argument',
            length === undefined
              ? `${shown}: more than the ${mib(maxBytes)} a runtime file may have`
              : `${shown}: ${mib(length)} is more than the ${mib(maxBytes)} a runtime file may have`,
          );
        },
      });
    } catch (e) {
      if (e instanceof ContrastError) throw e;
      throw new AttemptFailure(
        why ?? `the answer was cut off: ${networkReason(e).replaceAll(url, shown)}`,
        true,
      );
    }
    if (Number.isFinite(declared) && body.length !== declared) {
      throw new AttemptFailure(`the answer ended after ${body.length} of ${declared} bytes`, true);
    }
    return body;
  } finally {
    clearTimeout(deadline);
    clearTimeout(stall);
  }
}
