import {
  bytesEqual,
  ContrastError,
  isDnsSubdomain,
  type Logger,
  noopLogger,
  withRetries,
} from '@contrast-cc/core';
import type { KubeConfig, V1ConfigMap, V1OwnerReference } from '@kubernetes/client-node';
import {
  assertBytes,
  assertHash,
  assertKind,
  assertSignedLatest,
  checkBlob,
  decodeSignedLatest,
  encodeSignedLatest,
  sha256Hex,
  storeIntegrityError,
} from './hash.js';
import {
  DEFAULT_STORE_PREFIX,
  KIND_SEGMENT,
  LATEST_KEY,
  LATEST_SEGMENT,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  STORE_LABEL,
  storeConfigMap,
} from './history-file.js';
import { type KubeApi, KubeApiError, kubeApiFromConfig } from './kube-api.js';
import { callListener } from './listener.js';
import type { BlobKind, HistoryStore, LatestListener, SignedLatest, VersionedLatest } from './types.js';

export { KEY_KIND_LABEL, MANAGED_BY_LABEL, MANAGED_BY_VALUE, STORE_LABEL } from './history-file.js';

/** @public */
export interface ConfigMapStoreOptions {
  /**
   * The API server: a {@link KubeApi} (e.g. `createKubeApi(inClusterConnection())`, which needs
   * no @kubernetes/client-node at run time) or a KubeConfig's current context. One of the two.
   */
  kube?: KubeApi;
  kubeConfig?: KubeConfig;
  namespace: string;
  /** ConfigMap name prefix; default `contrast-store` (as upstream). */
  prefix?: string;
  /** Set on every ConfigMap created, e.g. the Coordinator StatefulSet, so deleting it collects the history. */
  ownerReference?: V1OwnerReference;
  logger?: Logger;
  /** Delay before re-establishing a watch that ended (ms); doubles up to 30 s. Default 200. */
  watchRetryMs?: number;
  /**
   * Deadline of each API request (ms); default 10 s, as upstream. A request that misses it fails
   * with `unavailable` (for setLatest: outcome unknown, re-read the pointer).
   */
  requestTimeoutMs?: number;
  /**
   * Attempts per API request (default 4; 1 turns retries off). Retried: 429, 500, 502, 503, 504
   * and dropped or refused connections (an API server restarting, etcd electing a leader), after
   * 100, 200, 400 ms (see `retryDelayMs`, with jitter) or the answer's `Retry-After` when longer
   * (at most 5 s). A request that missed its deadline is not retried. A write retried after an
   * answer that leaves its outcome open (5xx, a dropped connection) and then refused as a
   * conflict is checked against what the API server holds: the same value there means it was
   * carried out.
   */
  maxAttempts?: number;
  /** The first retry's delay (ms), doubling for each further one up to 2 s. Default 100. */
  retryDelayMs?: number;
}

class RequestTimeout extends Error {}

/** Statuses that say "try again": too many requests, or a server side that failed on its way. */
const TRANSIENT_STATUS = new Set([429, 500, 502, 503, 504]);
const MAX_RETRY_DELAY_MS = 2000;
const MAX_RETRY_AFTER_MS = 5000;

/** Whether a failed API request is worth another attempt. */
function isTransient(error: unknown): boolean {
  if (!(error instanceof KubeApiError)) return false;
  if (error.reason === 'connection') return true;
  return error.reason === 'status' && error.status !== undefined && TRANSIENT_STATUS.has(error.status);
}

/** What the retries of one request saw: whether an attempt that may have been carried out failed. */
interface Attempts {
  outcomeOpen: boolean;
}

function statusOf(error: unknown): number | undefined {
  if (error instanceof KubeApiError) return error.status;
  const e = error as { code?: unknown; statusCode?: unknown } | null;
  if (e && typeof e.statusCode === 'number') return e.statusCode;
  return undefined;
}

function positiveInteger(value: number | undefined, fallback: number, field: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new ContrastError('invalid-argument', `${field} must be a positive integer`, { field });
  }
  return value;
}

function decodeBase64(text: string | undefined, field: string): Uint8Array {
  if (typeof text !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) {
    throw storeIntegrityError('validation-failed', 'the ConfigMap value is missing or not base64', field);
  }
  return new Uint8Array(Buffer.from(text, 'base64'));
}

/**
 * The history store in Kubernetes ConfigMaps (the production backend), compatible with
 * upstream's layout: one ConfigMap per key, named `<prefix>-<segment>-<last key segment>`
 * (`contrast-store-manifests-<sha256>`, `contrast-store-transitions-latest`), the value in
 * `binaryData[<last key segment>]`. The latest pointer moves by `replace` with the read
 * `resourceVersion` (the API server answers 409 when another writer got there first).
 * @public
 */
export class ConfigMapHistoryStore implements HistoryStore {
  readonly namespace: string;
  readonly prefix: string;
  readonly #api: KubeApi;
  readonly #owner: V1OwnerReference | undefined;
  readonly #logger: Logger;
  readonly #retryMs: number;
  readonly #timeoutMs: number;
  readonly #maxAttempts: number;
  readonly #retryDelayMs: number;
  readonly #closers = new Set<() => void>();
  #closed = false;

  constructor(options: ConfigMapStoreOptions) {
    if (!options || typeof options !== 'object' || !(options.kube || options.kubeConfig)) {
      throw new ContrastError('invalid-argument', 'a KubeApi or a KubeConfig is required', { field: 'kube' });
    }
    if (typeof options.namespace !== 'string' || !isDnsSubdomain(options.namespace)) {
      throw new ContrastError('invalid-argument', 'not a valid Kubernetes namespace name', {
        field: 'namespace',
      });
    }
    const prefix = options.prefix ?? DEFAULT_STORE_PREFIX;
    if (!isDnsSubdomain(`${prefix}-transitions-${'0'.repeat(64)}`) || prefix.length > 100) {
      throw new ContrastError('invalid-argument', 'the prefix does not make valid ConfigMap names', {
        field: 'prefix',
      });
    }
    this.namespace = options.namespace;
    this.prefix = prefix;
    this.#api = options.kube ?? kubeApiFromConfig(options.kubeConfig as KubeConfig);
    this.#owner = options.ownerReference;
    this.#logger = (options.logger ?? noopLogger).child({ component: 'store', backend: 'configmap' });
    this.#retryMs = options.watchRetryMs ?? 200;
    this.#timeoutMs = options.requestTimeoutMs ?? 10_000;
    this.#maxAttempts = positiveInteger(options.maxAttempts, 4, 'maxAttempts');
    this.#retryDelayMs = positiveInteger(options.retryDelayMs, 100, 'retryDelayMs');
  }

  /**
   * Runs an API request, retrying transient failures (see `maxAttempts`); `attempts` learns
   * whether a failed attempt may still have been carried out.
   */
  async #call<T>(method: string, path: string, body?: unknown, attempts?: Attempts): Promise<T> {
    return withRetries(
      (n) => {
        if (n > 1) this.#check();
        return this.#attempt<T>(method, path, body);
      },
      (error) => {
        if (this.#closed || !isTransient(error)) return undefined;
        // A 429 was refused before any work; anything else may have reached etcd.
        if (attempts && statusOf(error) !== 429) attempts.outcomeOpen = true;
        return { retryAfterMs: (error as KubeApiError).retryAfterMs };
      },
      {
        attempts: this.#maxAttempts,
        delayMs: this.#retryDelayMs,
        maxDelayMs: MAX_RETRY_DELAY_MS,
        jitter: true,
        maxRetryAfterMs: MAX_RETRY_AFTER_MS,
        retryAfterCap: 'clamp',
        onRetry: (error, attempt, delayMs) =>
          this.#logger.info('retrying a Kubernetes API request', {
            method,
            path,
            status: statusOf(error) ?? 'no answer',
            attempt,
            delayMs,
          }),
      },
    );
  }

  /** Runs one API request under the deadline (the request is aborted when it passes). */
  async #attempt<T>(method: string, path: string, body?: unknown): Promise<T> {
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new RequestTimeout(`no answer in ${this.#timeoutMs} ms`)),
      this.#timeoutMs,
    );
    try {
      return await this.#api.request<T>(method, path, {
        signal: controller.signal,
        ...(body !== undefined ? { body } : {}),
      });
    } finally {
      clearTimeout(timer);
    }
  }

  /** The REST path of the namespace's ConfigMaps, or of one of them. */
  #path(name?: string): string {
    const base = `/api/v1/namespaces/${encodeURIComponent(this.namespace)}/configmaps`;
    return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
  }

  /** The ConfigMap name of a blob. */
  blobName(kind: BlobKind, hash: string): string {
    return `${this.prefix}-${KIND_SEGMENT[kind]}-${hash}`;
  }

  /** The ConfigMap name of the latest pointer. */
  get latestName(): string {
    return `${this.prefix}-${LATEST_SEGMENT}-${LATEST_KEY}`;
  }

  /** The label selector matching every ConfigMap of this store. */
  get labelSelector(): string {
    return `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE},${STORE_LABEL}=${this.prefix}`;
  }

  #check(): void {
    if (this.#closed) throw new ContrastError('precondition-failed', 'the store is closed');
  }

  #unavailable(what: string, cause: unknown): ContrastError {
    const status = statusOf(cause);
    const code = status === 403 || status === 401 ? 'permission-denied' : 'unavailable';
    const detail =
      cause instanceof RequestTimeout ? `timed out (${cause.message})` : String(status ?? 'unreachable');
    return new ContrastError(code, `${what}: Kubernetes API ${detail}`, { cause });
  }

  #body(
    name: string,
    segment: string,
    key: string,
    bytes: Uint8Array,
    resourceVersion?: string,
  ): V1ConfigMap {
    return storeConfigMap({
      name,
      prefix: this.prefix,
      segment,
      key,
      bytes,
      namespace: this.namespace,
      ...(this.#owner ? { ownerReference: this.#owner } : {}),
      ...(resourceVersion !== undefined ? { resourceVersion } : {}),
    }) as V1ConfigMap;
  }

  async #read(name: string): Promise<V1ConfigMap | null> {
    try {
      return await this.#call<V1ConfigMap>('GET', this.#path(name));
    } catch (error) {
      if (statusOf(error) === 404) return null;
      throw this.#unavailable(`cannot read ConfigMap ${name}`, error);
    }
  }

  async putBlob(kind: BlobKind, bytes: Uint8Array): Promise<string> {
    this.#check();
    assertKind(kind);
    assertBytes(bytes, 'bytes');
    const hash = sha256Hex(bytes);
    const name = this.blobName(kind, hash);
    const segment = KIND_SEGMENT[kind];
    try {
      await this.#call('POST', this.#path(), this.#body(name, segment, hash, bytes));
      return hash;
    } catch (error) {
      const status = statusOf(error);
      if (status === 422 || status === 413) {
        throw new ContrastError('invalid-argument', `the ${kind} is too large for a ConfigMap`, {
          field: 'bytes',
          cause: error,
        });
      }
      if (status !== 409) throw this.#unavailable(`cannot create ConfigMap ${name}`, error);
    }
    // It exists (another replica, or an earlier attempt): fine if intact, else repair it.
    const existing = await this.#read(name);
    if (existing !== null) {
      try {
        checkBlob(kind, hash, decodeBase64(existing.binaryData?.[hash], `${kind}/${hash}`));
        return hash;
      } catch {
        this.#logger.warn('replacing a corrupted blob', { kind, hash });
      }
    }
    try {
      if (existing === null) {
        await this.#call('POST', this.#path(), this.#body(name, segment, hash, bytes));
      } else {
        await this.#call(
          'PUT',
          this.#path(name),
          this.#body(name, segment, hash, bytes, existing.metadata?.resourceVersion),
        );
      }
    } catch (error) {
      // A concurrent writer repaired or created it with the same content: check once more.
      if (statusOf(error) === 409) {
        await this.getBlob(kind, hash);
        return hash;
      }
      throw this.#unavailable(`cannot write ConfigMap ${name}`, error);
    }
    return hash;
  }

  async getBlob(kind: BlobKind, hash: string): Promise<Uint8Array> {
    this.#check();
    assertKind(kind);
    assertHash(hash, 'hash');
    const cm = await this.#read(this.blobName(kind, hash));
    if (cm === null) {
      throw storeIntegrityError('not-found', `no ${kind} with hash ${hash}`, `${kind}/${hash}`);
    }
    return checkBlob(kind, hash, decodeBase64(cm.binaryData?.[hash], `${kind}/${hash}`));
  }

  async hasBlob(kind: BlobKind, hash: string): Promise<boolean> {
    this.#check();
    assertKind(kind);
    assertHash(hash, 'hash');
    return (await this.#read(this.blobName(kind, hash))) !== null;
  }

  #parseLatest(cm: V1ConfigMap): VersionedLatest {
    const field = `ConfigMap ${this.latestName}`;
    const version = cm.metadata?.resourceVersion;
    if (!version) {
      throw new ContrastError('validation-failed', 'the latest pointer has no resourceVersion', { field });
    }
    const bytes = decodeBase64(cm.binaryData?.[LATEST_KEY], `${field}.binaryData.${LATEST_KEY}`);
    return { value: decodeSignedLatest(bytes, field), version };
  }

  async getLatest(): Promise<VersionedLatest | null> {
    this.#check();
    const cm = await this.#read(this.latestName);
    return cm === null ? null : this.#parseLatest(cm);
  }

  async setLatest(value: SignedLatest, expectedVersion: string | null): Promise<string> {
    this.#check();
    assertSignedLatest(value);
    if (expectedVersion !== null && (typeof expectedVersion !== 'string' || expectedVersion === '')) {
      throw new ContrastError('invalid-argument', 'not a version of this store', {
        field: 'expectedVersion',
      });
    }
    const name = this.latestName;
    const bytes = encodeSignedLatest(value);
    const attempts: Attempts = { outcomeOpen: false };
    let written: V1ConfigMap;
    try {
      written =
        expectedVersion === null
          ? await this.#call<V1ConfigMap>(
              'POST',
              this.#path(),
              this.#body(name, LATEST_KEY, LATEST_KEY, bytes),
              attempts,
            )
          : await this.#call<V1ConfigMap>(
              'PUT',
              this.#path(name),
              this.#body(name, LATEST_KEY, LATEST_KEY, bytes, expectedVersion),
              attempts,
            );
    } catch (error) {
      const status = statusOf(error);
      if (status === 409 || status === 404) {
        // An earlier attempt whose answer was lost may be what moved the pointer: ours if the
        // pointer now holds exactly this value.
        const current = attempts.outcomeOpen ? await this.#read(name) : null;
        const version = current?.metadata?.resourceVersion;
        if (
          current &&
          version &&
          bytesEqual(decodeBase64(current.binaryData?.[LATEST_KEY], `ConfigMap ${name}`), bytes)
        ) {
          this.#logger.info('a retried write of the latest pointer had been carried out', { version });
          return version;
        }
        throw new ContrastError(
          'conflict',
          expectedVersion === null
            ? 'the latest pointer already exists'
            : `the latest pointer is no longer at version ${expectedVersion}`,
          { field: 'expectedVersion', cause: error },
        );
      }
      throw this.#unavailable('cannot write the latest pointer', error);
    }
    const version = written.metadata?.resourceVersion;
    if (!version) throw new ContrastError('internal', 'the API server returned no resourceVersion');
    this.#logger.debug('moved the latest pointer', { version, transitionHash: value.transitionHash });
    return version;
  }

  /**
   * Watches the pointer ConfigMap (field selector on its name). Each (re)connection reads the
   * pointer and then watches from its resourceVersion (410 Gone or a dropped stream: read again),
   * so nothing is missed across reconnects; repeated versions are suppressed.
   */
  async watchLatest(onChange: LatestListener, signal: AbortSignal): Promise<void> {
    this.#check();
    if (signal.aborted) return;
    const path = this.#path();
    let last: string | null | undefined;
    let controller: AbortController | undefined;
    let timer: NodeJS.Timeout | undefined;
    let delay = this.#retryMs;
    let stopped = false;

    const deliver = (latest: VersionedLatest | null) => {
      const version = latest?.version ?? null;
      if (stopped || version === last) return;
      last = version;
      callListener(onChange, latest, this.#logger);
    };
    const stop = () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      controller?.abort();
      this.#closers.delete(stop);
    };
    this.#closers.add(stop);
    signal.addEventListener('abort', stop, { once: true });

    const connect = async (): Promise<void> => {
      if (stopped) return;
      let ended = false;
      const reconnect = (err: unknown) => {
        ended = true;
        if (stopped) return;
        if (err) this.#logger.debug('watch ended; reconnecting', { error: String(err), delayMs: delay });
        timer = setTimeout(() => void connect(), delay);
        timer.unref();
        delay = Math.min(delay * 2, 30_000);
      };
      // List-then-watch: read the pointer, then stream the events after the version read, so no
      // change in between (a deletion included) is missed. Without a pointer, the stream starts
      // at "now" and a pointer created meanwhile arrives as its initial ADDED event.
      let from: string | undefined;
      try {
        const cm = await this.#read(this.latestName);
        from = cm?.metadata?.resourceVersion;
        if (cm === null) deliver(null);
        else {
          try {
            deliver(this.#parseLatest(cm));
          } catch (error) {
            this.#logger.warn('watch: malformed latest pointer', { error: String(error) });
          }
        }
      } catch (error) {
        this.#logger.warn('watch: cannot read the latest pointer', { error: String(error) });
        reconnect(error);
        return;
      }
      controller = await this.#api.watch(
        path,
        {
          fieldSelector: `metadata.name=${this.latestName}`,
          allowWatchBookmarks: 'false',
          ...(from !== undefined ? { resourceVersion: from } : {}),
        },
        (phase, obj) => {
          if (phase === 'DELETED') return deliver(null);
          if (phase !== 'ADDED' && phase !== 'MODIFIED') {
            if (phase === 'ERROR')
              this.#logger.debug('watch error event', { status: (obj as { code?: unknown })?.code });
            return;
          }
          try {
            deliver(this.#parseLatest(obj as V1ConfigMap));
          } catch (error) {
            this.#logger.warn('watch: malformed latest pointer', { error: String(error) });
          }
        },
        reconnect,
      );
      if (stopped) controller.abort();
      // The stream is open (the API server answered 200): the next drop retries quickly again.
      else if (!ended) delay = this.#retryMs;
    };
    await connect();
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const stop of [...this.#closers]) stop();
  }
}
