import { type AddressInfo, createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { delay, networkReason, readBody, retryAfterMs, withRetries } from './http.js';

describe('retryAfterMs', () => {
  const now = Date.parse('2026-12-07T10:00:00Z');

  it('reads delay-seconds and the three HTTP-date forms', () => {
    expect(retryAfterMs('3', now)).toBe(3000);
    expect(retryAfterMs(' 0 ', now)).toBe(0);
    expect(retryAfterMs('Mon, 07 Dec 2026 10:00:05 GMT', now)).toBe(5000);
    expect(retryAfterMs('Monday, 07-Dec-26 10:00:02 GMT', now)).toBe(2000);
    // asctime names no zone: it is GMT all the same, whatever the machine's zone.
    expect(retryAfterMs('Mon Dec  7 10:00:01 2026', now)).toBe(1000);
    expect(retryAfterMs('Mon, 07 Dec 2026 09:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs(['2', '9'], now)).toBe(2000);
  });

  it('gives undefined for anything else', () => {
    for (const bad of [
      undefined,
      null,
      '',
      '  ',
      '-1',
      '1.5',
      '1e3',
      '2026-12-07',
      'soon',
      'Mon, garbage',
      [],
    ]) {
      expect(retryAfterMs(bad, now)).toBeUndefined();
    }
  });
});

describe('networkReason', () => {
  it("reads the reason out of fetch's causes, in one line", () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    expect(networkReason(new TypeError('fetch failed', { cause: refused }))).toBe(
      'connect ECONNREFUSED 127.0.0.1:1',
    );
    const dns = Object.assign(new Error('getaddrinfo failed'), { code: 'ENOTFOUND' });
    expect(networkReason(new Error('outer', { cause: dns }))).toBe('outer: ENOTFOUND: getaddrinfo failed');
    expect(networkReason(new TypeError('fetch failed'))).toBe('fetch failed (no reason given)');
    expect(networkReason('plain')).toBe('plain');
  });

  it('names the error of a real refused connection', async () => {
    // A loopback port that was just free (fetch refuses well-known ports such as 1 outright).
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const e = await fetch(`http://127.0.0.1:${port}/`).catch((x: unknown) => x);
    expect(networkReason(e)).toMatch(/ECONNREFUSED/);
  });
});

describe('readBody', () => {
  const stream = (...parts: string[]) =>
    new ReadableStream<Uint8Array>({
      start(c) {
        for (const p of parts) c.enqueue(new TextEncoder().encode(p));
        c.close();
      },
    });
  const tooLarge = (declared: number | undefined) => new Error(`too large (declared ${declared})`);

  it('reads a body whole, telling of each chunk', async () => {
    const seen: number[] = [];
    const body = await readBody(new Response(stream('ab', 'cde', 'f')), {
      maxBytes: 6,
      tooLarge,
      onChunk: (c) => seen.push(c.byteLength),
    });
    expect(new TextDecoder().decode(body)).toBe('abcdef');
    expect(seen).toEqual([2, 3, 1]);
  });

  it('refuses a longer Content-Length before the body, and a longer body while it arrives', async () => {
    const declared = new Response(stream('x'), { headers: { 'content-length': '100' } });
    await expect(readBody(declared, { maxBytes: 10, tooLarge })).rejects.toThrow('too large (declared 100)');
    let chunks = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(c) {
        chunks++;
        c.enqueue(new Uint8Array(4));
      },
    });
    await expect(readBody(new Response(endless), { maxBytes: 10, tooLarge })).rejects.toThrow(
      'too large (declared undefined)',
    );
    // Stopped at the chunk that went over, not read on.
    expect(chunks).toBeLessThan(6);
  });
});

describe('withRetries', () => {
  class Busy extends Error {
    constructor(readonly retryAfterMs?: number) {
      super('busy');
    }
  }
  const transient = (e: unknown) => (e instanceof Busy ? { retryAfterMs: e.retryAfterMs } : undefined);
  function failing(failures: unknown[]) {
    let calls = 0;
    return {
      run: async (n: number) => {
        calls++;
        if (n !== calls) throw new Error('attempt numbers out of order');
        const f = failures.shift();
        if (f !== undefined) throw f;
        return `ok after ${calls}`;
      },
      calls: () => calls,
    };
  }
  const recorder = () => {
    const waits: number[] = [];
    return { waits, sleep: async (ms: number) => void waits.push(ms) };
  };

  it('retries transient failures with a doubling backoff, longer when Retry-After says so', async () => {
    const r = recorder();
    const retried: string[] = [];
    const f = failing([new Busy(), new Busy(5000), new Busy()]);
    expect(
      await withRetries(f.run, transient, {
        attempts: 4,
        delayMs: 100,
        sleep: r.sleep,
        onRetry: (e, n, ms) => retried.push(`${(e as Error).message} ${n} ${ms}`),
      }),
    ).toBe('ok after 4');
    expect(r.waits).toEqual([100, 5000, 400]);
    expect(retried).toEqual(['busy 1 100', 'busy 2 5000', 'busy 3 400']);
  });

  it('throws other failures at once and the last one when the attempts run out', async () => {
    const r = recorder();
    const other = new Error('not found');
    await expect(
      withRetries(failing([other]).run, transient, { attempts: 3, delayMs: 1, sleep: r.sleep }),
    ).rejects.toBe(other);
    const last = new Busy();
    const f = failing([new Busy(), new Busy(), last, new Busy()]);
    await expect(withRetries(f.run, transient, { attempts: 3, delayMs: 1, sleep: r.sleep })).rejects.toBe(
      last,
    );
    expect(f.calls()).toBe(3);
  });

  it('caps backoff, jitters it, and fails or clamps a Retry-After over the cap', async () => {
    const r = recorder();
    await withRetries(failing([new Busy(), new Busy(), new Busy()]).run, transient, {
      attempts: 4,
      delayMs: 100,
      maxDelayMs: 150,
      jitter: true,
      sleep: r.sleep,
    });
    expect(r.waits).toHaveLength(3);
    expect(r.waits[0]).toBeGreaterThanOrEqual(50);
    expect(r.waits[0]).toBeLessThanOrEqual(100);
    for (const w of r.waits.slice(1)) {
      expect(w).toBeGreaterThanOrEqual(75);
      expect(w).toBeLessThanOrEqual(150);
    }
    const tooLong = await withRetries(failing([new Busy(3_600_000)]).run, transient, {
      attempts: 3,
      delayMs: 1,
      maxRetryAfterMs: 60_000,
      tooLong: (_e, asked) => new Error(`asked for ${asked} ms`),
      sleep: r.sleep,
    }).catch((e: Error) => e.message);
    expect(tooLong).toBe('asked for 3600000 ms');
    const c = recorder();
    await withRetries(failing([new Busy(3_600_000)]).run, transient, {
      attempts: 3,
      delayMs: 1,
      maxRetryAfterMs: 5000,
      retryAfterCap: 'clamp',
      sleep: c.sleep,
    });
    expect(c.waits).toEqual([5000]);
  });

  it('stops waiting and retrying when its signal aborts', async () => {
    const stop = new AbortController();
    const f = failing([new Busy(), new Busy()]);
    const first = new Busy();
    const run = async (n: number) => {
      if (n === 1) {
        setTimeout(() => stop.abort(), 10);
        throw first;
      }
      return f.run(n);
    };
    // A 1-hour backoff, cut short by the abort: the failure comes back, no second attempt.
    await expect(
      withRetries(run, transient, { attempts: 3, delayMs: 3_600_000, signal: stop.signal }),
    ).rejects.toBe(first);
    expect(f.calls()).toBe(0);
    await delay(1);
  });
});
