import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isDnsSubdomain } from '@contrast-cc/core';
import { KubeConfig } from '@kubernetes/client-node';
import {
  checkBodyNamespace,
  copy,
  type FakeObjectMeta,
  type FakePublishedMeta,
  type FieldRequirement,
  HttpError,
  kubeTimestamp,
  matchesFields,
  matchesLabels,
  methodNotAllowed,
  parseFieldSelector,
  parseLabelSelector,
  type Requirement,
  readObjectBody,
  selectObjects,
  sendJson,
  sendList,
  statusBody,
} from './fake-kube-common.js';
import {
  type FakeKubelet,
  type FakePod,
  FakePods,
  type FakePortForwardRecord,
  type FakeRunningPod,
  type FakeService,
} from './fake-kube-pods.js';
import { refuseUpgrade } from './websocket-server.js';

/** A ConfigMap as the fake keeps it (plain JSON, as on the wire). @public */
export interface FakeConfigMap {
  apiVersion?: string;
  kind?: string;
  metadata: FakeObjectMeta & { ownerReferences?: unknown[] };
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
  immutable?: boolean;
}

/**
 * An EndpointSlice (discovery.k8s.io/v1) as the fake keeps it: what the EndpointSlice controller
 * would publish for a Service (label `kubernetes.io/service-name`). Tests set them directly.
 * @public
 */
export interface FakeEndpointSlice {
  metadata: FakePublishedMeta;
  addressType: 'IPv4' | 'IPv6' | 'FQDN';
  endpoints: {
    addresses: string[];
    conditions?: { ready?: boolean; serving?: boolean; terminating?: boolean };
    hostname?: string;
    targetRef?: { kind?: string; name?: string; namespace?: string; uid?: string };
    nodeName?: string;
  }[];
  ports?: { name?: string; port?: number; protocol?: string; appProtocol?: string }[];
}

/** The label the EndpointSlice controller sets to the Service name. @public */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/** One request as the fake saw it. @public */
export interface FakeRequestRecord {
  method: string;
  path: string;
  query: Record<string, string>;
  status: number;
}

/** @public */
export interface FakeKubeApiOptions {
  /** Loopback address to bind: `127.0.0.1` (default) or `::1`. */
  host?: '127.0.0.1' | '::1';
  /** How many past events a watch with a resourceVersion can resume from. Default 1000. */
  eventHistory?: number;
  /** How often pods' readiness probes run (ms); default 100. */
  probeIntervalMs?: number;
  /** The port to listen on (e.g. an API server coming back where it was); default any free one. */
  port?: number;
}

/**
 * Fault injection for the next `count` requests matching `method` (any when absent): answered
 * with `status`, or, with `delayMs`, served normally but only after that delay.
 * @public
 */
export interface FakeFailure {
  count: number;
  status?: number;
  delayMs?: number;
  method?: string;
  /** Only watch requests (true) or only other requests (false). */
  watch?: boolean;
  /** Sent as the failure's `Retry-After` header (seconds or an HTTP date). */
  retryAfter?: string;
  /**
   * Carry the request out, then answer `status` instead of its result: a write whose
   * acknowledgement was lost (an API server that timed out on etcd after the commit).
   */
  afterApply?: boolean;
  /** Runs before the failure is answered (e.g. another client's write meanwhile). */
  during?: () => void | Promise<void>;
}

/**
 * A loopback fake of the Kubernetes ConfigMap REST endpoints (core/v1): get, list, create,
 * replace, delete, deletecollection and watch, with cluster-wide increasing resourceVersions, 409 Conflict on a stale
 * resourceVersion, 409 AlreadyExists, 404 NotFound, 422 Invalid (names, keys, the 1 MiB size
 * limit, immutable ConfigMaps), label and field selectors, and watch streams (newline-delimited
 * JSON events, resumable from a resourceVersion within the kept event history, 410 Gone beyond);
 * plus read-only EndpointSlices (discovery.k8s.io/v1 get and list) that tests publish with
 * {@link FakeKubeApiServer.setEndpointSlice}; Pods (create, get, list, delete, log) run by a
 * test-provided kubelet, read-only Services, and the pod port-forward endpoint over WebSocket
 * (v4.channel.k8s.io) relaying to loopback TCP servers (see fake-kube-pods.ts).
 * @public
 */
export interface FakeKubeApiServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** A KubeConfig whose current context points at this server. */
  kubeConfig(): KubeConfig;
  /** A deep copy of a stored ConfigMap. */
  get(namespace: string, name: string): FakeConfigMap | undefined;
  /** Names of the stored ConfigMaps of a namespace, sorted. */
  names(namespace: string): string[];
  /**
   * Changes a stored ConfigMap behind the clients' backs (like `kubectl edit`): bumps its
   * resourceVersion and notifies watches.
   */
  edit(namespace: string, name: string, mutate: (cm: FakeConfigMap) => void): void;
  /**
   * Creates or replaces an EndpointSlice (as the EndpointSlice controller would when pods of a
   * Service come and go). Served read-only at `/apis/discovery.k8s.io/v1/.../endpointslices`
   * (get, list with label and field selectors). Returns its new resourceVersion.
   */
  setEndpointSlice(namespace: string, slice: FakeEndpointSlice): string;
  /** Removes an EndpointSlice; false when there was none. */
  deleteEndpointSlice(namespace: string, name: string): boolean;
  /** Fails the next matching requests with `status`. */
  failNext(failure: FakeFailure): void;
  /** Ends every open watch stream (as an API server restart or timeout would). */
  dropWatches(): void;
  /** Number of open watch streams. */
  readonly openWatches: number;
  /** Every request served, in order. */
  readonly requests: readonly FakeRequestRecord[];
  /**
   * The test's kubelet: started for every pod created through the API (see FakeKubelet). Without
   * one, created pods stay Pending.
   */
  setKubelet(kubelet: FakeKubelet | undefined): void;
  /** Publishes a pod as given (status included, e.g. a running workload with its podIP). */
  setPod(
    namespace: string,
    pod: Omit<FakePod, 'metadata'> & { metadata: Partial<FakePod['metadata']> },
  ): void;
  /** Makes a pod published with setPod serve its ports (port-forward target) at loopback endpoints. */
  runPod(namespace: string, name: string, running: FakeRunningPod): void;
  /** A deep copy of a stored pod. */
  getPod(namespace: string, name: string): FakePod | undefined;
  /** Names of the stored pods of a namespace (terminating ones included until they are gone), sorted. */
  podNames(namespace: string): string[];
  /** Creates or replaces a Service (served read-only: get, list). */
  setService(namespace: string, service: FakeService): void;
  /** Every port-forward WebSocket served, in order. */
  readonly portForwards: readonly FakePortForwardRecord[];
  close(): Promise<void>;
}

const MAX_CONFIGMAP_BYTES = 1024 * 1024;
const KEY = /^[-._a-zA-Z0-9]+$/;
const BASE64_CHARS = /^[A-Za-z0-9+/]*={0,2}$/;
const isBase64 = (v: string) => v.length % 4 === 0 && BASE64_CHARS.test(v);
const COLLECTION = /^\/api\/v1\/(?:namespaces\/([^/]+)\/)?configmaps(?:\/([^/]+))?$/;

export { parseLabelSelector } from './fake-kube-common.js';

const SLICES = /^\/apis\/discovery\.k8s\.io\/v1\/(?:namespaces\/([^/]+)\/)?endpointslices(?:\/([^/]+))?$/;

interface Watcher {
  namespace: string | undefined;
  labels: Requirement[];
  fields: FieldRequirement[];
  res: ServerResponse;
}

interface StoredEvent {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: FakeConfigMap;
  previous: FakeConfigMap | undefined;
}

/** Starts the fake on a loopback port. @public */
export async function startFakeKubeApiServer(options: FakeKubeApiOptions = {}): Promise<FakeKubeApiServer> {
  const host = options.host ?? '127.0.0.1';
  const keep = options.eventHistory ?? 1000;
  const objects = new Map<string, FakeConfigMap>();
  const slices = new Map<string, FakeEndpointSlice>();
  const events: StoredEvent[] = [];
  const watchers = new Set<Watcher>();
  const requests: FakeRequestRecord[] = [];
  const failures: FakeFailure[] = [];
  let rv = 1000;
  const pods = new FakePods({
    nextResourceVersion: () => String(++rv),
    ...(options.probeIntervalMs !== undefined ? { probeIntervalMs: options.probeIntervalMs } : {}),
  });

  const keyOf = (ns: string, name: string) => `${ns}/${name}`;

  const send = (w: Watcher, type: string, object: unknown) => {
    w.res.write(`${JSON.stringify({ type, object })}\n`);
  };

  const emit = (type: StoredEvent['type'], object: FakeConfigMap, previous?: FakeConfigMap) => {
    const ev: StoredEvent = {
      rv: Number(object.metadata.resourceVersion),
      type,
      object: copy(object),
      previous,
    };
    events.push(ev);
    if (events.length > keep) events.shift();
    for (const w of watchers) dispatch(w, ev);
  };

  const visible = (w: Watcher, cm: FakeConfigMap | undefined) =>
    cm !== undefined &&
    (w.namespace === undefined || cm.metadata.namespace === w.namespace) &&
    matchesLabels(w.labels, cm.metadata.labels) &&
    matchesFields(w.fields, cm);

  const dispatch = (w: Watcher, ev: StoredEvent) => {
    const now = visible(w, ev.object);
    const before = ev.type === 'ADDED' ? false : visible(w, ev.previous ?? ev.object);
    const obj = { kind: 'ConfigMap', apiVersion: 'v1', ...ev.object };
    if (ev.type === 'DELETED') {
      if (before) send(w, 'DELETED', obj);
    } else if (now && !before) send(w, 'ADDED', obj);
    else if (now && before) send(w, 'MODIFIED', obj);
    else if (!now && before) send(w, 'DELETED', obj);
  };

  const validate = (cm: FakeConfigMap) => {
    const name = cm.metadata.name;
    const invalid = (msg: string) => new HttpError(422, 'Invalid', `ConfigMap "${name}" is invalid: ${msg}`);
    if (!isDnsSubdomain(name)) throw invalid(`metadata.name: Invalid value: "${name}"`);
    let size = 0;
    for (const [field, map] of [
      ['data', cm.data],
      ['binaryData', cm.binaryData],
    ] as const) {
      if (map === undefined || map === null) continue;
      if (typeof map !== 'object') throw invalid(`${field}: must be an object`);
      for (const [k, v] of Object.entries(map)) {
        if (!KEY.test(k) || k.length > 253) throw invalid(`${field}[${k}]: Invalid value: "${k}"`);
        if (typeof v !== 'string') throw invalid(`${field}[${k}]: must be a string`);
        if (field === 'binaryData') {
          if (!isBase64(v)) throw invalid(`${field}[${k}]: illegal base64 data`);
          size += k.length + Buffer.from(v, 'base64').length;
        } else {
          if (cm.binaryData && Object.hasOwn(cm.binaryData, k)) {
            throw invalid(`data[${k}]: Invalid value: "${k}": duplicate of key present in binaryData`);
          }
          size += k.length + Buffer.byteLength(v);
        }
      }
    }
    if (size > MAX_CONFIGMAP_BYTES)
      throw invalid(`[]: Too long: must have at most ${MAX_CONFIGMAP_BYTES} bytes`);
  };

  const readBody = (req: IncomingMessage) => readObjectBody<FakeConfigMap>(req, 'ConfigMap');

  const json = sendJson;

  /** Stores a created (no `current`) or replaced ConfigMap under the next resourceVersion and tells the watches. */
  const put = (key: string, cm: FakeConfigMap, namespace: string, current: FakeConfigMap | undefined) => {
    rv++;
    const stored: FakeConfigMap = {
      ...copy(cm),
      metadata: {
        ...copy(cm.metadata),
        namespace,
        uid: current?.metadata.uid ?? randomUUID(),
        creationTimestamp: current?.metadata.creationTimestamp ?? kubeTimestamp(),
        resourceVersion: String(rv),
      },
    };
    delete stored.apiVersion;
    delete stored.kind;
    objects.set(key, stored);
    if (current) emit('MODIFIED', stored, current);
    else emit('ADDED', stored);
    return stored;
  };

  const startWatch = (
    req: IncomingMessage,
    res: ServerResponse,
    namespace: string | undefined,
    query: URLSearchParams,
  ) => {
    const w: Watcher = {
      namespace,
      labels: parseLabelSelector(query.get('labelSelector') ?? ''),
      fields: parseFieldSelector(query.get('fieldSelector') ?? ''),
      res,
    };
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    const from = query.get('resourceVersion');
    if (from && from !== '0') {
      const since = Number(from);
      const oldest = events[0]?.rv;
      if (!Number.isInteger(since) || (oldest !== undefined && since < oldest - 1)) {
        send(w, 'ERROR', statusBody(410, 'Expired', `too old resource version: ${from} (${rv})`));
        res.end();
        return;
      }
      for (const ev of events) if (ev.rv > since) dispatch(w, ev);
    } else {
      const current = [...objects.values()].filter((cm) => visible(w, cm));
      current.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
      for (const cm of current) send(w, 'ADDED', { kind: 'ConfigMap', apiVersion: 'v1', ...copy(cm) });
    }
    watchers.add(w);
    const timeout = Number(query.get('timeoutSeconds') ?? '0');
    const timer = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : undefined;
    const done = () => {
      watchers.delete(w);
      if (timer) clearTimeout(timer);
    };
    res.on('close', done);
    req.on('close', done);
  };

  const serveEndpointSlices = (
    res: ServerResponse,
    method: string,
    query: URLSearchParams,
    rawNamespace: string | undefined,
    rawName: string | undefined,
  ): number => {
    if (method !== 'GET') {
      throw new HttpError(405, 'MethodNotAllowed', 'the fake serves EndpointSlices read-only');
    }
    if (['true', '1'].includes(query.get('watch') ?? '')) {
      throw new HttpError(400, 'BadRequest', 'the fake does not watch EndpointSlices');
    }
    const namespace = rawNamespace === undefined ? undefined : decodeURIComponent(rawNamespace);
    const wire = (e: FakeEndpointSlice) => ({
      kind: 'EndpointSlice',
      apiVersion: 'discovery.k8s.io/v1',
      ...copy(e),
    });
    if (rawName !== undefined) {
      const name = decodeURIComponent(rawName);
      const found = namespace === undefined ? undefined : slices.get(keyOf(namespace, name));
      if (!found) throw new HttpError(404, 'NotFound', `endpointslices.discovery.k8s.io "${name}" not found`);
      json(res, 200, wire(found));
      return 200;
    }
    const items = selectObjects(slices.values(), namespace, query).map(wire);
    sendList(res, 'EndpointSlice', 'discovery.k8s.io/v1', items, String(rv));
    return 200;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<number> => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const method = req.method ?? 'GET';
    const isWatch = ['true', '1'].includes(url.searchParams.get('watch') ?? '');
    const failure = failures.find(
      (f) =>
        f.count > 0 &&
        (f.method === undefined || f.method === method) &&
        (f.watch === undefined || f.watch === isWatch),
    );
    if (failure) {
      failure.count--;
      if (failure.delayMs !== undefined) {
        await new Promise((resolve) => setTimeout(resolve, failure.delayMs));
      } else {
        const status = failure.status ?? 500;
        if (failure.afterApply) {
          // Carried out, its answer lost: what the handler writes goes nowhere.
          const swallow = res as unknown as { writeHead?: unknown; end?: unknown };
          swallow.writeHead = () => res;
          swallow.end = () => res;
          try {
            await serve(req, res, url, method);
          } catch {
            // failed anyway: the injected answer says so just the same
          } finally {
            delete swallow.writeHead;
            delete swallow.end;
          }
        }
        await failure.during?.();
        if (failure.retryAfter !== undefined) res.setHeader('retry-after', failure.retryAfter);
        json(res, status, statusBody(status, 'InternalError', 'injected failure'));
        return status;
      }
    }
    return serve(req, res, url, method);
  };

  const serve = async (
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    method: string,
  ): Promise<number> => {
    const podStatus = await pods.handle(req, res, url);
    if (podStatus !== undefined) return podStatus;
    const slice = url.pathname.match(SLICES);
    if (slice) return serveEndpointSlices(res, method, url.searchParams, slice[1], slice[2]);
    const m = url.pathname.match(COLLECTION);
    if (!m) throw new HttpError(404, 'NotFound', `the server could not find the requested resource`);
    const namespace = m[1] === undefined ? undefined : decodeURIComponent(m[1]);
    const name = m[2] === undefined ? undefined : decodeURIComponent(m[2]);
    const query = url.searchParams;

    if (name === undefined && method === 'GET') {
      const w = query.get('watch');
      if (w === 'true' || w === '1') {
        startWatch(req, res, namespace, query);
        return 200;
      }
      const items = selectObjects(objects.values(), namespace, query).map(copy);
      sendList(res, 'ConfigMap', 'v1', items, String(rv));
      return 200;
    }
    if (namespace === undefined)
      throw new HttpError(405, 'MethodNotAllowed', 'the server does not allow this method');

    if (name === undefined && method === 'POST') {
      const cm = await readBody(req);
      checkBodyNamespace(cm.metadata, namespace);
      if (typeof cm.metadata.name !== 'string' || cm.metadata.name === '') {
        throw new HttpError(
          422,
          'Invalid',
          'ConfigMap is invalid: metadata.name: Required value: name or generateName is required',
        );
      }
      if (cm.metadata.resourceVersion) {
        throw new HttpError(
          500,
          'InternalError',
          'resourceVersion should not be set on objects to be created',
        );
      }
      validate(cm);
      const key = keyOf(namespace, cm.metadata.name);
      if (objects.has(key)) {
        throw new HttpError(409, 'AlreadyExists', `configmaps "${cm.metadata.name}" already exists`);
      }
      const stored = put(key, cm, namespace, undefined);
      json(res, 201, { kind: 'ConfigMap', apiVersion: 'v1', ...copy(stored) });
      return 201;
    }
    if (name === undefined && method === 'DELETE') {
      // deletecollection
      const labels = parseLabelSelector(query.get('labelSelector') ?? '');
      const fields = parseFieldSelector(query.get('fieldSelector') ?? '');
      for (const [key, cm] of [...objects]) {
        if (cm.metadata.namespace !== namespace || !matchesLabels(labels, cm.metadata.labels)) continue;
        if (!matchesFields(fields, cm)) continue;
        objects.delete(key);
        rv++;
        emit('DELETED', { ...copy(cm), metadata: { ...copy(cm.metadata), resourceVersion: String(rv) } }, cm);
      }
      json(res, 200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success' });
      return 200;
    }
    if (name === undefined)
      throw new HttpError(405, 'MethodNotAllowed', 'the server does not allow this method');

    const key = keyOf(namespace, name);
    const current = objects.get(key);
    const notFound = () => new HttpError(404, 'NotFound', `configmaps "${name}" not found`);

    if (method === 'GET') {
      if (!current) throw notFound();
      json(res, 200, { kind: 'ConfigMap', apiVersion: 'v1', ...copy(current) });
      return 200;
    }
    if (method === 'PUT') {
      const cm = await readBody(req);
      if (cm.metadata.name !== name) {
        throw new HttpError(400, 'BadRequest', 'the name of the object does not match the name on the URL');
      }
      checkBodyNamespace(cm.metadata, namespace);
      if (!current) throw notFound();
      const expected = cm.metadata.resourceVersion;
      if (expected !== undefined && expected !== '' && expected !== current.metadata.resourceVersion) {
        throw new HttpError(
          409,
          'Conflict',
          `Operation cannot be fulfilled on configmaps "${name}": the object has been modified; please apply your changes to the latest version and try again`,
        );
      }
      validate(cm);
      if (current.immutable === true) {
        const same =
          JSON.stringify(cm.data ?? {}) === JSON.stringify(current.data ?? {}) &&
          JSON.stringify(cm.binaryData ?? {}) === JSON.stringify(current.binaryData ?? {});
        if (!same || cm.immutable !== true) {
          throw new HttpError(
            422,
            'Invalid',
            `ConfigMap "${name}" is invalid: data: Forbidden: field is immutable when \`immutable\` is set`,
          );
        }
      }
      const stored = put(key, cm, namespace, current);
      json(res, 200, { kind: 'ConfigMap', apiVersion: 'v1', ...copy(stored) });
      return 200;
    }
    if (method === 'DELETE') {
      if (!current) throw notFound();
      let pre: { resourceVersion?: string; uid?: string } | undefined;
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      if (chunks.length > 0) {
        try {
          pre = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { preconditions?: typeof pre })
            .preconditions;
        } catch {
          throw new HttpError(400, 'BadRequest', 'the body is not valid JSON');
        }
      }
      if (
        (pre?.resourceVersion && pre.resourceVersion !== current.metadata.resourceVersion) ||
        (pre?.uid && pre.uid !== current.metadata.uid)
      ) {
        throw new HttpError(
          409,
          'Conflict',
          `Operation cannot be fulfilled on configmaps "${name}": precondition failed`,
        );
      }
      objects.delete(key);
      rv++;
      const gone = { ...copy(current), metadata: { ...copy(current.metadata), resourceVersion: String(rv) } };
      emit('DELETED', gone, current);
      json(res, 200, {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Success',
        details: { name, kind: 'configmaps', uid: current.metadata.uid },
      });
      return 200;
    }
    throw methodNotAllowed();
  };

  const recordRequest = (req: IncomingMessage): { url: URL; record: FakeRequestRecord } => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const record: FakeRequestRecord = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      status: 0,
    };
    requests.push(record);
    return { url, record };
  };

  const server = createServer((req, res) => {
    const { url, record } = recordRequest(req);
    handle(req, res).then(
      (status) => {
        record.status = status;
      },
      (error: unknown) => {
        const e =
          error instanceof HttpError
            ? error
            : new HttpError(500, 'InternalError', `internal error: ${String(error)}`);
        record.status = e.status;
        if (res.headersSent) {
          res.end();
          return;
        }
        const details = url.pathname.match(COLLECTION)?.[2];
        json(
          res,
          e.status,
          statusBody(
            e.status,
            e.reason,
            e.message,
            details ? { name: details, kind: 'configmaps' } : undefined,
          ),
        );
      },
    );
  });
  server.on('upgrade', (req, socket, head: Buffer) => {
    const { record } = recordRequest(req);
    socket.on('error', () => socket.destroy());
    const handled = pods.upgrade(req, socket, head, (status) => {
      record.status = status;
    });
    if (!handled) {
      record.status = 404;
      refuseUpgrade(
        socket,
        404,
        statusBody(404, 'NotFound', 'the server could not find the requested resource'),
      );
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = host === '::1' ? `http://[::1]:${port}` : `http://127.0.0.1:${port}`;

  return {
    url,
    kubeConfig() {
      const kc = new KubeConfig();
      kc.loadFromOptions({
        clusters: [{ name: 'fake', server: url, skipTLSVerify: true }],
        users: [{ name: 'fake', token: 'fake-token' }],
        contexts: [{ name: 'fake', cluster: 'fake', user: 'fake', namespace: 'default' }],
        currentContext: 'fake',
      });
      return kc;
    },
    get(namespace, name) {
      const cm = objects.get(keyOf(namespace, name));
      return cm === undefined ? undefined : copy(cm);
    },
    names(namespace) {
      return [...objects.values()]
        .filter((cm) => cm.metadata.namespace === namespace)
        .map((cm) => cm.metadata.name)
        .sort();
    },
    edit(namespace, name, mutate) {
      const key = keyOf(namespace, name);
      const current = objects.get(key);
      if (!current) throw new Error(`no ConfigMap ${key}`);
      const next = copy(current);
      mutate(next);
      rv++;
      next.metadata.resourceVersion = String(rv);
      objects.set(key, next);
      emit('MODIFIED', next, current);
    },
    setEndpointSlice(namespace, slice) {
      if (!isDnsSubdomain(slice.metadata?.name ?? '')) {
        throw new Error(`invalid EndpointSlice name ${JSON.stringify(slice.metadata?.name)}`);
      }
      rv++;
      const stored = copy(slice);
      stored.metadata = { ...stored.metadata, namespace, resourceVersion: String(rv) };
      slices.set(keyOf(namespace, slice.metadata.name), stored);
      return String(rv);
    },
    deleteEndpointSlice(namespace, name) {
      const had = slices.delete(keyOf(namespace, name));
      if (had) rv++;
      return had;
    },
    failNext(failure) {
      failures.push({ ...failure });
    },
    dropWatches() {
      for (const w of [...watchers]) {
        watchers.delete(w);
        w.res.end();
      }
    },
    get openWatches() {
      return watchers.size;
    },
    requests,
    setKubelet: (kubelet) => pods.setKubelet(kubelet),
    setPod: (namespace, pod) => pods.setPod(namespace, pod),
    runPod: (namespace, name, running) => pods.runPod(namespace, name, running),
    getPod: (namespace, name) => pods.getPod(namespace, name),
    podNames: (namespace) => pods.podNames(namespace),
    setService: (namespace, service) => pods.setService(namespace, service),
    portForwards: pods.portForwards,
    async close() {
      await pods.close();
      for (const w of watchers) w.res.destroy();
      watchers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
