import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMemoryLogger } from '@contrast-cc/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DownloadOptions, downloadFile } from './download.js';

// A loopback file server whose routes misbehave the way a download mirror can: answers 503 for a
// while, asks to come back later, stalls mid-body, ends early, serves more than a runtime file may
// have. Retry waits are recorded instead of slept; only the stall detection runs on real timers.
const BODY = new Uint8Array(64 * 1024).map((_, i) => (i * 7) & 0xff);
let server: Server;
let base: string;
const hits = new Map<string, number>();

/** Answers one request (what it returns is not used). */
function route(path: string, n: number, res: ServerResponse): unknown {
  const full = () => res.writeHead(200, { 'content-length': BODY.length }).end(BODY);
  switch (path) {
    case '/ok':
      return full();
    case '/flaky':
      if (n <= 2) return res.writeHead(503).end('busy');
      return full();
    case '/later':
      if (n === 1) return res.writeHead(429, { 'retry-after': '7' }).end('slow down');
      return full();
    case '/much-later':
      return res.writeHead(429, { 'retry-after': '3600' }).end('slow down');
    case '/stall':
      if (n === 1) {
        // Half the body, then nothing: the attempt must be given up, not waited on forever.
        res.writeHead(200, { 'content-length': BODY.length });
        res.write(BODY.subarray(0, BODY.length / 2));
        return;
      }
      return full();
    case '/short':
      if (n === 1) {
        res.writeHead(200, { 'content-length': BODY.length });
        res.end(BODY.subarray(0, 100));
        res.socket?.destroy();
        return;
      }
      return full();
    case '/declared-huge':
      res.writeHead(200, { 'content-length': 10 * 1024 * 1024 });
      res.write(BODY);
      return;
    case '/endless': {
      // Chunked, no length: bytes until the client stops reading.
      res.writeHead(200);
      const more = () => {
        while (res.write(BODY)) {
          if (res.writableLength > 1024 * 1024) break;
        }
      };
      res.on('drain', more);
      more();
      return;
    }
    case '/forbidden':
      return res.writeHead(403).end('no');
    case '/down':
      return res.writeHead(500).end('down');
    default:
      return res.writeHead(404).end('not found');
  }
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const n = (hits.get(path) ?? 0) + 1;
    hits.set(path, n);
    route(path, n, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function recorded(extra: DownloadOptions = {}) {
  const sleeps: number[] = [];
  const options: DownloadOptions = {
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    ...extra,
  };
  return { sleeps, options };
}

describe('downloadFile', () => {
  it('downloads a file whole', async () => {
    expect(await downloadFile(`${base}/ok`)).toEqual(BODY);
  });

  it('retries 503 with a doubling backoff, and waits a Retry-After when it is longer', async () => {
    const log = createMemoryLogger();
    const { sleeps, options } = recorded({ logger: log.logger, retryDelayMs: 100 });
    expect(await downloadFile(`${base}/flaky`, options)).toEqual(BODY);
    expect(hits.get('/flaky')).toBe(3);
    expect(sleeps).toEqual([100, 200]);
    expect(log.records.filter((r) => r.level === 'warn').map((r) => r.fields?.error)).toEqual([
      'HTTP 503',
      'HTTP 503',
    ]);
    const later = recorded({ retryDelayMs: 100 });
    expect(await downloadFile(`${base}/later`, later.options)).toEqual(BODY);
    expect(later.sleeps).toEqual([7000]);
  });

  it('refuses a Retry-After longer than it waits for, without waiting', async () => {
    const { sleeps, options } = recorded();
    await expect(downloadFile(`${base}/much-later`, options)).rejects.toMatchObject({
      code: 'unavailable',
      message: `${base}/much-later: HTTP 429, asked to retry in 3600 s (more than the 60 s waited for)`,
    });
    expect(sleeps).toEqual([]);
  });

  it('gives up an attempt that stalls mid-body and one that ends early, and tries again', async () => {
    const stalled = recorded({ stallTimeoutMs: 1000 });
    expect(await downloadFile(`${base}/stall`, stalled.options)).toEqual(BODY);
    expect(hits.get('/stall')).toBe(2);
    const cut = recorded();
    expect(await downloadFile(`${base}/short`, cut.options)).toEqual(BODY);
    expect(hits.get('/short')).toBe(2);
  });

  it('never holds more than maxBytes: a longer Content-Length is refused, an endless body cut off', async () => {
    const { options } = recorded({ maxBytes: 1024 * 1024 });
    await expect(downloadFile(`${base}/declared-huge`, options)).rejects.toMatchObject({
      code: 'invalid-argument',
      message: `${base}/declared-huge: 10.0 MiB is more than the 1.0 MiB a runtime file may have`,
    });
    await expect(downloadFile(`${base}/endless`, options)).rejects.toMatchObject({
      code: 'invalid-argument',
      message: `${base}/endless: more than the 1.0 MiB a runtime file may have`,
    });
    // Not retried: another attempt gets the same file.
    expect(hits.get('/declared-huge')).toBe(1);
    expect(hits.get('/endless')).toBe(1);
  });

  it('does not retry what another attempt cannot change, and stops after the attempts', async () => {
    const { sleeps, options } = recorded({ attempts: 3 });
    await expect(downloadFile(`${base}/missing`, options)).rejects.toMatchObject({
      code: 'not-found',
      message: `${base}/missing: HTTP 404 (not found)`,
    });
    await expect(downloadFile(`${base}/forbidden`, options)).rejects.toMatchObject({
      code: 'unavailable',
      message: `${base}/forbidden: HTTP 403`,
    });
    expect([hits.get('/missing'), hits.get('/forbidden')]).toEqual([1, 1]);
    expect(sleeps).toEqual([]);
    await expect(downloadFile(`${base}/down`, options)).rejects.toMatchObject({
      code: 'unavailable',
      message: `${base}/down: HTTP 500 (after 3 attempts)`,
    });
    expect(hits.get('/down')).toBe(3);
  });

  it('retries a refused connection and names the network error', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const { sleeps, options } = recorded({ attempts: 2, retryDelayMs: 5 });
    await expect(downloadFile(`http://127.0.0.1:${port}/x`, options)).rejects.toMatchObject({
      code: 'unavailable',
      message: expect.stringContaining('ECONNREFUSED'),
    });
    expect(sleeps).toEqual([5]);
  });

  it('never shows credentials or a presigned query of a URL in errors or logs', async () => {
    const log = createMemoryLogger();
    const { options } = recorded({ attempts: 2, logger: log.logger });
    const presigned = `${base}/down?X-Amz-Credential=AKIDEXAMPLE&X-Amz-Signature=0123456789abcdef`;
    const failed = await downloadFile(presigned, options).catch((e: Error) => e);
    expect((failed as Error).message).toBe(`${base}/down?…: HTTP 500 (after 2 attempts)`);
    const withUser = `http://mirror-user:s3cret-token@127.0.0.1:${new URL(base).port}/ok`;
    await expect(downloadFile(withUser, options)).rejects.toMatchObject({
      code: 'invalid-argument',
      message: `${base}/ok: a download URL cannot carry credentials (user:password@); serve the file without them`,
    });
    const everything = `${(failed as Error).message}\n${log.text()}`;
    for (const secret of ['0123456789abcdef', 'AKIDEXAMPLE', 's3cret-token', 'mirror-user']) {
      expect(everything).not.toContain(secret);
    }
    expect(log.records.length).toBeGreaterThan(0);
  });
});
