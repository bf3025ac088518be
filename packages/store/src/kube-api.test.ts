import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKubeApi, inCluster, inClusterConnection, KubeApiError } from './kube-api.js';

// An HTTPS stand-in for the API server with a self-signed certificate (openssl), reached the way a
// pod reaches it: $KUBERNETES_SERVICE_HOST/PORT, the service account's ca.crt and token.
let dir: string;
let server: Server;
let env: NodeJS.ProcessEnv;
const seen: { auth: string | undefined; url: string | undefined; body: string }[] = [];

function selfSigned(name: string): { key: string; cert: string } {
  const d = mkdtempSync(path.join(tmpdir(), 'kube-api-cert-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '1',
        '-subj',
        `/CN=${name}`,
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        path.join(d, 'key.pem'),
        '-out',
        path.join(d, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    return {
      key: readFileSync(path.join(d, 'key.pem'), 'utf8'),
      cert: readFileSync(path.join(d, 'cert.pem'), 'utf8'),
    };
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'kube-api-sa-'));
  const tls = selfSigned('kube-apiserver');
  writeFileSync(path.join(dir, 'ca.crt'), tls.cert);
  writeFileSync(path.join(dir, 'token'), 'sa-token-1\n');
  server = createServer(tls, (req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      seen.push({ auth: req.headers.authorization, url: req.url, body });
      const url = new URL(req.url ?? '/', 'https://x');
      if (url.pathname.endsWith('/busy')) {
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '3' });
        res.end(JSON.stringify({ kind: 'Status', code: 429, message: 'too many requests' }));
      } else if (url.pathname.endsWith('/notjson')) {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<html>a proxy page</html>');
      } else if (url.pathname.endsWith('/missing')) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ kind: 'Status', code: 404, message: 'configmaps "missing" not found' }));
      } else if (url.searchParams.get('watch') === 'true' && url.pathname.endsWith('/gone')) {
        res.writeHead(410, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ kind: 'Status', code: 410, message: 'too old resource version' }));
      } else if (url.searchParams.get('watch') === 'true') {
        res.writeHead(200, { 'content-type': 'application/json' });
        // One event split across writes, a line that is no JSON (skipped), then the end.
        res.write('{"type":"ADDED","object":{"metadata":{"name":"a","resourceVersion":"5"}}}\n{"type":"MOD');
        setTimeout(() => {
          res.write('IFIED","object":{"metadata":{"name":"a","resourceVersion":"6"}}}\nnot json\n');
          res.end('{"type":"DELETED","object":{"metadata":{"name":"a"}}}\n');
        }, 20);
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ method: req.method, echo: body ? JSON.parse(body) : null }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  env = {
    KUBERNETES_SERVICE_HOST: '127.0.0.1',
    KUBERNETES_SERVICE_PORT: String((server.address() as AddressInfo).port),
  };
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

describe('createKubeApi with the in-cluster connection', () => {
  it('knows when it is in a cluster', () => {
    expect(inCluster(env, dir)).toBe(true);
    expect(inCluster({}, dir)).toBe(false);
    expect(inCluster(env, path.join(dir, 'nothing'))).toBe(false);
  });

  it('sends the service account token over TLS checked against its CA, JSON both ways', async () => {
    const api = createKubeApi(inClusterConnection(env, dir));
    expect(api.server).toBe(`https://127.0.0.1:${env.KUBERNETES_SERVICE_PORT}`);
    const answer = await api.request<{ method: string; echo: unknown }>(
      'POST',
      '/api/v1/namespaces/ns/configmaps',
      {
        body: { metadata: { name: 'x' } },
        query: { labelSelector: 'a=b', fieldSelector: undefined },
      },
    );
    expect(answer).toEqual({ method: 'POST', echo: { metadata: { name: 'x' } } });
    const last = seen.at(-1);
    expect(last?.auth).toBe('Bearer sa-token-1');
    expect(last?.url).toBe('/api/v1/namespaces/ns/configmaps?labelSelector=a%3Db');
  });

  it('gives the status of an error answer, with the API server message', async () => {
    const api = createKubeApi(inClusterConnection(env, dir));
    const e = await api.request('GET', '/api/v1/namespaces/ns/configmaps/missing').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(KubeApiError);
    expect((e as KubeApiError).status).toBe(404);
    expect((e as KubeApiError).message).toContain('not found');
    expect((e as KubeApiError).retryAfterMs).toBeUndefined();
    const busy = await api.request('GET', '/api/v1/namespaces/ns/configmaps/busy').catch((x: unknown) => x);
    expect(busy).toMatchObject({ status: 429, retryAfterMs: 3000 });
    expect(e).toMatchObject({ reason: 'status' });
  });

  it('says why a request failed: too large an answer, no JSON, no connection', async () => {
    const api = createKubeApi(inClusterConnection(env, dir));
    // The echo answer is longer than 20 bytes.
    const big = await api
      .request('POST', '/api/v1/namespaces/ns/configmaps', {
        body: { data: 'x'.repeat(100) },
        maxResponseBytes: 20,
      })
      .catch((x: unknown) => x);
    expect(big).toBeInstanceOf(KubeApiError);
    expect(big).toMatchObject({
      status: undefined,
      reason: 'too-large',
      message: 'the answer exceeds 20 bytes',
    });
    const html = await api
      .request('GET', '/api/v1/namespaces/ns/configmaps/notjson')
      .catch((x: unknown) => x);
    expect(html).toMatchObject({ status: 200, reason: 'not-json' });
    const closed = createServer(selfSigned('closed'));
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const refused = await createKubeApi(
      inClusterConnection(
        { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(port) },
        dir,
      ),
    )
      .request('GET', '/api/v1/namespaces/ns/configmaps/x')
      .catch((x: unknown) => x);
    expect(refused).toMatchObject({ status: undefined, reason: 'connection' });
  });

  it('refuses a server whose certificate the service account CA did not sign', async () => {
    const other = mkdtempSync(path.join(tmpdir(), 'kube-api-sa-'));
    try {
      writeFileSync(path.join(other, 'ca.crt'), selfSigned('someone-else').cert);
      writeFileSync(path.join(other, 'token'), 'sa-token-1\n');
      const api = createKubeApi(inClusterConnection(env, other));
      const e = await api.request('GET', '/api/v1/namespaces/ns/configmaps/x').catch((x: unknown) => x);
      expect(e).toBeInstanceOf(KubeApiError);
      expect((e as KubeApiError).status).toBeUndefined();
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('aborts a request with the signal reason', async () => {
    const api = createKubeApi(inClusterConnection(env, dir));
    const controller = new AbortController();
    const reason = new Error('deadline');
    controller.abort(reason);
    await expect(api.request('GET', '/x', { signal: controller.signal })).rejects.toBe(reason);
  });

  it('streams watch events split across chunks, skips a line that is no JSON, and ends once', async () => {
    const api = createKubeApi(inClusterConnection(env, dir));
    const events: [string, unknown][] = [];
    const ended = new Promise<unknown>((resolve) => {
      void api.watch(
        '/api/v1/namespaces/ns/configmaps',
        { fieldSelector: 'metadata.name=a', resourceVersion: '4' },
        (t, o) => events.push([t, o]),
        resolve,
      );
    });
    expect(await ended).toBeNull();
    expect(events.map(([t]) => t)).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
    expect(seen.at(-1)?.url).toBe(
      '/api/v1/namespaces/ns/configmaps?fieldSelector=metadata.name%3Da&resourceVersion=4&watch=true',
    );
  });

  it('ends a watch the API server refuses with its status', async () => {
    const api = createKubeApi(inClusterConnection(env, dir));
    const ended = new Promise<unknown>((resolve) => {
      void api.watch('/api/v1/namespaces/ns/gone', {}, () => {}, resolve);
    });
    const e = await ended;
    expect(e).toBeInstanceOf(KubeApiError);
    expect((e as KubeApiError).status).toBe(410);
  });
});
