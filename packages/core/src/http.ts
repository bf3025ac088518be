import { concatByteList } from './bytes.js';

/**
 * A `Retry-After` header (RFC 9110 10.2.3: delay-seconds or an HTTP-date) as a delay in ms from
 * `now`; undefined when absent or unreadable. A date in the past is 0. The HTTP-date forms
 * (IMF-fixdate, RFC 850, asctime) are all GMT, asctime's too, though it does not say so.
 * @public
 */
export function retryAfterMs(
  value: string | readonly string[] | null | undefined,
  now: number = Date.now(),
): number | undefined {
  const text = (typeof value === 'string' ? value : value?.[0])?.trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // An HTTP-date starts with the day's name; anything else (an ISO date, a negative number) is not one.
  if (!/^[A-Za-z]{3}/.test(text)) return undefined;
  const date = Date.parse(/ GMT$/.test(text) ? text : `${text} GMT`);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * Why a request got no answer, from fetch's error and its causes (undici says only "fetch failed"
 * and puts the reason, e.g. `ECONNREFUSED 127.0.0.1:5000` or `ENOTFOUND`, in `cause`), in one line.
 * @public
 */
export function networkReason(e: unknown): string {
  const parts: string[] = [];
  let cur: unknown = e;
  for (let depth = 0; cur !== undefined && cur !== null && depth < 4; depth++) {
    const err = cur as { message?: unknown; code?: unknown; cause?: unknown };
    const message = typeof err.message === 'string' ? err.message : String(cur);
    const code = typeof err.code === 'string' ? err.code : undefined;
    if (message !== 'fetch failed') {
      parts.push(code && !message.includes(code) ? `${code}: ${message}` : message);
    }
    cur = err.cause;
  }
  return parts.length > 0 ? parts.join(': ') : 'fetch failed (no reason given)';
}

/** Options of {@link readBody}. @public */
export interface ReadBodyOptions {
  /** The most bytes accepted: a longer Content-Length fails before the body, a longer body while it arrives. */
  maxBytes: number;
  /** The error for a body over `maxBytes`; `declared` is the Content-Length when that said so. */
  tooLarge: (declared: number | undefined) => Error;
  /** Told of every chunk as it arrives (e.g. to re-arm a stall timer). */
  onChunk?: (chunk: Uint8Array) => void;
}

/**
 * A fetch `Response`'s body read whole, never more than `maxBytes` of it: the one bounded reader
 * for answers whose size the sender decides (a registry's manifest, a mirror's file). A body cut
 * off by the network rejects with the stream's error.
 * @public
 */
export async function readBody(res: Response, options: ReadBodyOptions): Promise<Uint8Array> {
  const declared = Number(res.headers.get('content-length') ?? Number.NaN);
  if (Number.isFinite(declared) && declared > options.maxBytes) {
    await res.body?.cancel().catch(() => undefined);
    throw options.tooLarge(declared);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body?.getReader();
  while (reader) {
    const { done, value } = await reader.read();
    if (done) break;
    options.onChunk?.(value);
    size += value.byteLength;
    if (size > options.maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw options.tooLarge(undefined);
    }
    chunks.push(value);
  }
  return concatByteList(chunks);
}

/** Options of {@link withRetries}. @public */
export interface RetryOptions {
  /** Attempts in all (1: no retry). */
  attempts: number;
  /** The wait before the second attempt (ms), doubling for each further one. */
  delayMs: number;
  /** The longest backoff wait (ms); default unbounded. */
  maxDelayMs?: number;
  /** Wait a random 50-100% of the backoff (spreads clients that failed together). Default false. */
  jitter?: boolean;
  /**
   * The longest Retry-After waited for (ms). A failure asking for more: `retryAfterCap` `'fail'`
   * (default) ends the retries with `tooLong(error, askedMs)`; `'clamp'` waits this long instead.
   */
  maxRetryAfterMs?: number;
  retryAfterCap?: 'fail' | 'clamp';
  /** The error for a Retry-After over `maxRetryAfterMs` (default: the failure itself). */
  tooLong?: (error: unknown, askedMs: number) => unknown;
  /** Told before each wait (e.g. to log it). */
  onRetry?: (error: unknown, attempt: number, waitMs: number) => void;
  /** Ends the waiting (and the retries: the last failure is thrown). */
  signal?: AbortSignal;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** What `transient` says of a failure: worth another attempt, after the Retry-After it gave (ms), if any. */
export type TransientFailure = { retryAfterMs?: number | undefined };

/**
 * Runs `attempt` until it succeeds, retrying the failures `transient` accepts (it returns
 * undefined for the others, which are thrown at once) with a doubling backoff, or after the
 * failure's Retry-After when that is longer. The last failure is thrown when the attempts run out.
 * The one retry loop of the registry client, the node installer's downloads and the ConfigMap store.
 * @public
 */
export async function withRetries<T>(
  attempt: (n: number) => Promise<T>,
  transient: (error: unknown) => TransientFailure | undefined,
  options: RetryOptions,
): Promise<T> {
  const sleep = options.sleep ?? delay;
  let backoffMs = options.delayMs;
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (e) {
      const t = n < options.attempts && !options.signal?.aborted ? transient(e) : undefined;
      if (!t) throw e;
      let asked = t.retryAfterMs;
      const cap = options.maxRetryAfterMs;
      if (asked !== undefined && cap !== undefined && asked > cap) {
        if ((options.retryAfterCap ?? 'fail') === 'fail')
          throw options.tooLong ? options.tooLong(e, asked) : e;
        asked = cap;
      }
      const backoff = Math.min(backoffMs, options.maxDelayMs ?? Number.POSITIVE_INFINITY);
      const waited = options.jitter ? Math.round(backoff * (0.5 + Math.random() / 2)) : backoff;
      const wait = Math.max(asked ?? 0, waited);
      options.onRetry?.(e, n, wait);
      await sleep(wait, options.signal);
      if (options.signal?.aborted) throw e;
      backoffMs *= 2;
    }
  }
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). @public */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });
}
