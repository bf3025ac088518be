// A small Kubernetes REST client: the few calls the Coordinator makes (ConfigMaps, one pod,
// EndpointSlices, one watch) over node:http(s). @kubernetes/client-node costs the Coordinator about
// 75 MB of RSS just by being imported (its generated models and APIs), a third of the pod's 256Mi
// limit; in a pod this client needs none of it (in-cluster service account). A KubeConfig (a
// kubeconfig file, exec/OIDC auth, ...) is still accepted: the caller loads client-node for that.
import { readFileSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from 'node:https';
import { ContrastError, retryAfterMs } from '@contrast-cc/core';
import type { KubeConfig } from '@kubernetes/client-node';

/**
 * Why a Kubernetes API request failed: the API server answered with an error `status`; the
 * `connection` was refused, dropped or cut off before a whole answer (worth another attempt); the
 * answer was `too-large` for the request's limit; or it was `not-json`. @public
 */
export type KubeApiErrorReason = 'status' | 'connection' | 'too-large' | 'not-json';

/**
 * A failed Kubernetes API request: an answer other than 2xx (`status`), a dropped connection (no
 * status), or an answer refused as too large or not JSON; `reason` says which. @public
 */
export class KubeApiError extends Error {
  readonly status: number | undefined;
  /** The answer's `Retry-After`, in ms (429 and 503 carry it), when it had a valid one. */
  readonly retryAfterMs: number | undefined;
  /** Why it failed; by default `status` when there is one, else `connection`. */
  readonly reason: KubeApiErrorReason;
  constructor(
    status: number | undefined,
    message: string,
    options?: { cause?: unknown; retryAfterMs?: number | undefined; reason?: KubeApiErrorReason },
  ) {
    super(message, options);
    this.name = 'KubeApiError';
    this.status = status;
    this.retryAfterMs = options?.retryAfterMs;
    this.reason = options?.reason ?? (status === undefined ? 'connection' : 'status');
  }
}

/** @public */
export interface KubeRequestOptions {
  query?: Record<string, string | undefined>;
  /** Sent as JSON. */
  body?: unknown;
  /** Aborts the request (it rejects with the signal's reason). */
  signal?: AbortSignal;
  /** Largest answer accepted (default 64 MiB). */
  maxResponseBytes?: number;
}

/**
 * The Kubernetes REST calls the Coordinator makes: JSON requests and a watch stream
 * (newline-delimited JSON events).
 * @public
 */
export interface KubeApi {
  /** The API server's URL. */
  readonly server: string;
  /** One request; the parsed JSON answer, or a {@link KubeApiError}. */
  request<T = unknown>(method: string, path: string, options?: KubeRequestOptions): Promise<T>;
  /**
   * Opens a watch (`?watch=true`). Resolves once the API server answered (200: events follow;
   * otherwise `onDone` gets a {@link KubeApiError} right away). `onDone` is called once, when the
   * stream ends, fails or is aborted through the returned controller.
   */
  watch(
    path: string,
    query: Record<string, string | undefined>,
    onEvent: (type: string, object: unknown) => void,
    onDone: (error: unknown) => void,
  ): Promise<AbortController>;
}

/** How to reach the API server: its URL and the TLS/auth options of each request. @public */
export interface KubeConnection {
  server: string;
  /** ca, cert, key, rejectUnauthorized, servername, headers (Authorization), ... */
  requestOptions(): Promise<RequestOptions>;
}

const SERVICE_ACCOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';

/** Whether the in-cluster service account and API address are present. @public */
export function inCluster(env: NodeJS.ProcessEnv = process.env, dir = SERVICE_ACCOUNT): boolean {
  if (!env.KUBERNETES_SERVICE_HOST || !env.KUBERNETES_SERVICE_PORT) return false;
  try {
    readFileSync(`${dir}/token`);
    return true;
  } catch {
    return false;
  }
}

/**
 * The in-cluster connection (as client-node's `loadFromCluster`): `https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT`,
 * the service account's CA, and its token as bearer (re-read every 60 s: the kubelet rotates
 * bound tokens).
 * @public
 */
export function inClusterConnection(
  env: NodeJS.ProcessEnv = process.env,
  dir = SERVICE_ACCOUNT,
): KubeConnection {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) {
    throw new ContrastError(
      'precondition-failed',
      'not in a cluster: KUBERNETES_SERVICE_HOST/PORT are not set',
      {
        field: 'KUBERNETES_SERVICE_HOST',
      },
    );
  }
  const server = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const ca = readFileSync(`${dir}/ca.crt`);
  let token = '';
  let readAt = Number.NEGATIVE_INFINITY;
  return {
    server,
    async requestOptions() {
      const now = performance.now();
      if (now - readAt > 60_000) {
        token = readFileSync(`${dir}/token`, 'utf8').trim();
        readAt = now;
      }
      return { ca, headers: { authorization: `Bearer ${token}` } };
    },
  };
}

/** The connection of a KubeConfig's current context (every auth it supports). @public */
export function kubeConfigConnection(kc: KubeConfig): KubeConnection {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new ContrastError('precondition-failed', 'the KubeConfig has no current cluster');
  return {
    server: cluster.server,
    async requestOptions() {
      const opts: RequestOptions = {};
      await kc.applyToHTTPSOptions(opts);
      return opts;
    },
  };
}

const DEFAULT_MAX_RESPONSE = 64 * 1024 * 1024;

/** A {@link KubeApi} over a connection (node:http for `http://` servers, e.g. a loopback fake). @public */
export function createKubeApi(connection: KubeConnection): KubeApi {
  const base = new URL(connection.server);
  const secure = base.protocol === 'https:';
  if (!secure && base.protocol !== 'http:') {
    throw new ContrastError('invalid-argument', `not an http(s) API server URL: ${connection.server}`, {
      field: 'server',
    });
  }
  const agent = secure ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
  const prefix = base.pathname.replace(/\/+$/, '');

  const open = async (
    method: string,
    path: string,
    query: Record<string, string | undefined>,
    body: string | undefined,
    signal: AbortSignal | undefined,
    streaming: boolean,
  ): Promise<IncomingMessage> => {
    const url = new URL(prefix + path, base);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, v);
    const opts = await connection.requestOptions();
    signal?.throwIfAborted();
    const headers: Record<string, string | number> = {
      ...(opts.headers as Record<string, string> | undefined),
      accept: 'application/json',
    };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(body);
    }
    const send = secure ? httpsRequest : httpRequest;
    return new Promise<IncomingMessage>((resolve, reject) => {
      const req = send(url, {
        ...opts,
        method,
        headers,
        agent: streaming ? false : agent,
        ...(signal ? { signal } : {}),
      });
      req.once('error', (e) =>
        reject(signal?.aborted ? signal.reason : new KubeApiError(undefined, e.message, { cause: e })),
      );
      req.once('response', resolve);
      req.end(body);
    });
  };

  const readAll = (res: IncomingMessage, max: number, signal: AbortSignal | undefined) =>
    new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > max) {
          // Rejected before the destroy: that emits 'aborted' at once, which would say "cut off".
          reject(new KubeApiError(undefined, `the answer exceeds ${max} bytes`, { reason: 'too-large' }));
          res.destroy();
          return;
        }
        chunks.push(c);
      });
      res.once('end', () => resolve(Buffer.concat(chunks)));
      res.once('error', (e) =>
        reject(signal?.aborted ? signal.reason : new KubeApiError(undefined, e.message, { cause: e })),
      );
      res.once('aborted', () =>
        reject(signal?.aborted ? signal.reason : new KubeApiError(undefined, 'the answer was cut off')),
      );
    });

  const failure = (status: number, text: string, res: IncomingMessage): KubeApiError => {
    let message = `HTTP ${status}`;
    try {
      const s = JSON.parse(text) as { message?: unknown };
      if (typeof s?.message === 'string') message = `HTTP ${status}: ${s.message.slice(0, 300)}`;
    } catch {
      // not a Status object
    }
    return new KubeApiError(status, message, { retryAfterMs: retryAfterMs(res.headers['retry-after']) });
  };

  return {
    server: connection.server,
    async request<T>(method: string, path: string, options: KubeRequestOptions = {}): Promise<T> {
      const body = options.body === undefined ? undefined : JSON.stringify(options.body);
      const res = await open(method, path, options.query ?? {}, body, options.signal, false);
      const bytes = await readAll(res, options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE, options.signal);
      const status = res.statusCode ?? 0;
      const text = bytes.toString('utf8');
      if (status < 200 || status > 299) throw failure(status, text, res);
      try {
        return JSON.parse(text) as T;
      } catch (e) {
        throw new KubeApiError(status, 'the API server answered no JSON', { cause: e, reason: 'not-json' });
      }
    },
    async watch(path, query, onEvent, onDone) {
      const controller = new AbortController();
      let done = false;
      const finish = (error: unknown) => {
        if (done) return;
        done = true;
        controller.abort();
        onDone(error);
      };
      let res: IncomingMessage;
      try {
        res = await open('GET', path, { ...query, watch: 'true' }, undefined, controller.signal, true);
      } catch (e) {
        finish(controller.signal.aborted ? null : e);
        return controller;
      }
      controller.signal.addEventListener('abort', () => res.destroy(), { once: true });
      if (res.statusCode !== 200) {
        const status = res.statusCode ?? 0;
        readAll(res, 64 * 1024, undefined).then(
          (b) => finish(failure(status, b.toString('utf8'), res)),
          () => finish(new KubeApiError(status, `HTTP ${status}`)),
        );
        return controller;
      }
      res.socket?.setKeepAlive(true, 30_000);
      let buffered = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffered += chunk;
        if (buffered.length > 16 * 1024 * 1024) {
          finish(new KubeApiError(undefined, 'a watch event exceeds 16 MiB', { reason: 'too-large' }));
          return;
        }
        let nl = buffered.indexOf('\n');
        while (nl >= 0 && !done) {
          const line = buffered.slice(0, nl).trim();
          buffered = buffered.slice(nl + 1);
          nl = buffered.indexOf('\n');
          if (line === '') continue;
          let event: { type?: unknown; object?: unknown };
          try {
            event = JSON.parse(line) as { type?: unknown; object?: unknown };
          } catch {
            continue; // as client-node: a line that is no JSON is skipped
          }
          if (typeof event?.type === 'string') onEvent(event.type, event.object);
        }
      });
      res.once('end', () => finish(null));
      res.once('close', () => finish(null));
      res.once('error', (e) => finish(controller.signal.aborted ? null : e));
      return controller;
    },
  };
}

/** A {@link KubeApi} for a KubeConfig's current context. @public */
export function kubeApiFromConfig(kc: KubeConfig): KubeApi {
  return createKubeApi(kubeConfigConnection(kc));
}
