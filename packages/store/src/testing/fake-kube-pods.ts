// Pods, Services and the pod port-forward endpoint of the fake Kubernetes API (core/v1).
//
// Pods are stored as posted; what a kubelet would do is up to the test, through a FakeKubelet:
// `run` is called for every created pod and says where its container ports are served on
// loopback (what the kubelet's port-forward dials "inside the pod's network namespace"). The fake
// then plays the kubelet's part: phase Pending -> Running (or Failed when `run` throws, Succeeded/
// Failed when the process exits), container statuses, and the Ready condition from each
// container's tcpSocket readiness probe, dialled at the mapped endpoint. Without a kubelet, pods
// stay Pending.
//
// Port-forward is served as the API server and kubelet serve it to WebSocket clients:
// GET /api/v1/namespaces/{ns}/pods/{name}/portforward?ports=N[,M] with `Upgrade: websocket`,
// subprotocol chosen in the client's order of preference among `v4.channel.k8s.io`,
// `v4.base64.channel.k8s.io` and none (kubelet's portforward/websocket.go); two channels per
// port, data (2i) and error (2i+1); each message is the channel number (one byte; in the base64
// protocol one ASCII digit) followed by the payload; the server's first message on each channel
// is the port, 2 bytes little-endian. One TCP connection per port and WebSocket; a dial failure is
// written as text on the error channel; the WebSocket closes when every port's connection ended.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { isDnsSubdomain } from '@contrast-cc/core';
import {
  checkBodyNamespace,
  copy,
  type FakeObjectMeta,
  type FakePublishedMeta,
  HttpError,
  kubeTimestamp,
  methodNotAllowed,
  readJsonObject,
  readObjectBody,
  selectObjects,
  sendJson,
  sendList,
  statusBody,
} from './fake-kube-common.js';
import {
  acceptWebSocket,
  isWebSocketUpgrade,
  offeredProtocols,
  refuseUpgrade,
  type ServerWebSocket,
  UpgradeRefusal,
} from './websocket-server.js';

/** A container as the fake reads it from a pod spec. @public */
export interface FakeContainer {
  name: string;
  image: string;
  env?: { name: string; value?: string }[];
  ports?: { containerPort: number; name?: string; protocol?: string }[];
  readinessProbe?: { tcpSocket?: { port: number | string }; periodSeconds?: number };
  [key: string]: unknown;
}

/** A Pod as the fake keeps it (plain JSON, as on the wire). @public */
export interface FakePod {
  apiVersion?: string;
  kind?: string;
  metadata: FakeObjectMeta & { deletionTimestamp?: string; deletionGracePeriodSeconds?: number };
  spec: { containers: FakeContainer[]; runtimeClassName?: string; [key: string]: unknown };
  status?: {
    phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';
    podIP?: string;
    message?: string;
    reason?: string;
    conditions?: { type: string; status: 'True' | 'False'; reason?: string }[];
    containerStatuses?: {
      name: string;
      ready: boolean;
      restartCount: number;
      image: string;
      state: Record<string, Record<string, unknown>>;
    }[];
    [key: string]: unknown;
  };
}

/** A Service as the fake keeps it (tests publish them with setService). @public */
export interface FakeService {
  metadata: FakePublishedMeta;
  spec: {
    ports?: { name?: string; port: number; targetPort?: number | string; protocol?: string }[];
    clusterIP?: string;
    selector?: Record<string, string>;
    [key: string]: unknown;
  };
}

/** Where a running pod's container port is served: a loopback TCP endpoint. @public */
export interface FakeEndpoint {
  host: string;
  port: number;
}

/** What a FakeKubelet reports for a pod it started. @public */
export interface FakeRunningPod {
  /** containerPort -> the loopback endpoint that serves it. An unmapped port refuses connections. */
  ports: Record<number, FakeEndpoint>;
  /** The pod IP the status shows (default 10.244.0.<n>). */
  podIP?: string;
  /** The container log (served at .../log). */
  log?: () => string;
  /** Resolves when the container exited (restartPolicy Never: the pod Succeeded or Failed). */
  exited?: Promise<{ exitCode: number; message?: string }>;
  /** Called when the pod is deleted; the pod is gone from the API once it resolved. */
  stop?: () => void | Promise<void>;
}

/** The test's stand-in for the kubelet: starts created pods. @public */
export interface FakeKubelet {
  /** Starts a created pod; throw to make it Failed, never resolve to keep it Pending. */
  run(pod: FakePod): FakeRunningPod | Promise<FakeRunningPod>;
}

/** One port-forward WebSocket the fake served. @public */
export interface FakePortForwardRecord {
  namespace: string;
  pod: string;
  ports: number[];
  /** The subprotocol chosen ('' for none). */
  protocol: string;
}

const PODS = /^\/api\/v1\/namespaces\/([^/]+)\/pods(?:\/([^/]+)(?:\/(log|portforward))?)?$/;
const ALL_PODS = /^\/api\/v1\/pods$/;
const SERVICES = /^\/api\/v1\/namespaces\/([^/]+)\/services(?:\/([^/]+))?$/;
/** kubelet's portforward/websocket.go: the protocols it serves, '' meaning none requested. */
const PORT_FORWARD_PROTOCOLS = ['', 'v4.channel.k8s.io', 'v4.base64.channel.k8s.io'];

interface PodState {
  pod: FakePod;
  running?: FakeRunningPod;
  probeTimer?: NodeJS.Timeout;
}

export interface FakePodsOptions {
  nextResourceVersion: () => string;
  /** How often the fake runs readiness probes (ms); default 100 (a real kubelet: periodSeconds). */
  probeIntervalMs?: number;
}

/** The pods part of the fake; the server routes its requests here. */
export class FakePods {
  readonly #pods = new Map<string, PodState>();
  readonly #services = new Map<string, FakeService>();
  readonly #sockets = new Set<net.Socket>();
  readonly #webSockets = new Set<ServerWebSocket>();
  readonly #nextRv: () => string;
  readonly #probeMs: number;
  #kubelet: FakeKubelet | undefined;
  #ipCounter = 10;
  readonly portForwards: FakePortForwardRecord[] = [];

  constructor(options: FakePodsOptions) {
    this.#nextRv = options.nextResourceVersion;
    this.#probeMs = options.probeIntervalMs ?? 100;
  }

  setKubelet(kubelet: FakeKubelet | undefined): void {
    this.#kubelet = kubelet;
  }

  setPod(
    namespace: string,
    pod: Omit<FakePod, 'metadata'> & { metadata: Partial<FakePod['metadata']> },
  ): void {
    const name = pod.metadata.name ?? '';
    if (!isDnsSubdomain(name)) throw new Error(`invalid pod name ${JSON.stringify(name)}`);
    const stored = this.#normalize(namespace, copy(pod) as FakePod, undefined);
    this.#pods.set(`${namespace}/${name}`, { pod: stored });
  }

  /** Serves a pod that already runs (e.g. a workload) at the given loopback ports. */
  runPod(namespace: string, name: string, running: FakeRunningPod): void {
    const state = this.#pods.get(`${namespace}/${name}`);
    if (!state) throw new Error(`no pod ${namespace}/${name}`);
    this.#started(state, running);
  }

  getPod(namespace: string, name: string): FakePod | undefined {
    const s = this.#pods.get(`${namespace}/${name}`);
    return s ? copy(s.pod) : undefined;
  }

  podNames(namespace: string): string[] {
    return [...this.#pods.values()]
      .filter((s) => s.pod.metadata.namespace === namespace)
      .map((s) => s.pod.metadata.name)
      .sort();
  }

  setService(namespace: string, service: FakeService): void {
    if (!isDnsSubdomain(service.metadata?.name ?? '')) {
      throw new Error(`invalid Service name ${JSON.stringify(service.metadata?.name)}`);
    }
    const stored = copy(service);
    stored.metadata = { ...stored.metadata, namespace, resourceVersion: this.#nextRv(), uid: randomUUID() };
    this.#services.set(`${namespace}/${service.metadata.name}`, stored);
  }

  /** Handles a pods or services request; undefined when the path is not ours. */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<number | undefined> {
    const method = req.method ?? 'GET';
    if (ALL_PODS.test(url.pathname) && method === 'GET') return this.#list(res, undefined, url.searchParams);
    const svc = url.pathname.match(SERVICES);
    if (svc) return this.#serveService(res, method, decodeURIComponent(svc[1]!), svc[2]);
    const m = url.pathname.match(PODS);
    if (!m) return undefined;
    const namespace = decodeURIComponent(m[1]!);
    const name = m[2] === undefined ? undefined : decodeURIComponent(m[2]);
    const sub = m[3];
    if (name === undefined) {
      if (method === 'GET') return this.#list(res, namespace, url.searchParams);
      if (method === 'POST') return this.#create(req, res, namespace);
      throw methodNotAllowed();
    }
    const state = this.#pods.get(`${namespace}/${name}`);
    const notFound = () => new HttpError(404, 'NotFound', `pods "${name}" not found`);
    if (sub === 'portforward') {
      // A plain request (no WebSocket upgrade) — SPDY is not served by the fake.
      if (!state) throw notFound();
      throw new HttpError(400, 'BadRequest', 'Upgrade request required');
    }
    if (sub === 'log') {
      if (method !== 'GET')
        throw new HttpError(405, 'MethodNotAllowed', 'the server does not allow this method');
      if (!state) throw notFound();
      if (!state.running) {
        const container = state.pod.spec.containers[0]?.name ?? '';
        throw new HttpError(
          400,
          'BadRequest',
          `container "${container}" in pod "${name}" is waiting to start: ContainerCreating`,
        );
      }
      let text = state.running.log?.() ?? '';
      const tail = Number(url.searchParams.get('tailLines') ?? 'NaN');
      if (Number.isInteger(tail) && tail >= 0) {
        const lines = text.split('\n');
        if (lines.at(-1) === '') lines.pop();
        text = lines.slice(Math.max(0, lines.length - tail)).join('\n') + (lines.length > 0 ? '\n' : '');
      }
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(text) });
      res.end(text);
      return 200;
    }
    if (method === 'GET') {
      if (!state) throw notFound();
      this.#json(res, 200, this.#wire(state.pod));
      return 200;
    }
    if (method === 'DELETE') {
      if (!state) throw notFound();
      return this.#delete(req, res, state, url.searchParams);
    }
    throw methodNotAllowed();
  }

  /** Handles an HTTP upgrade; false when the path is not a port-forward. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, record: (status: number) => void): boolean {
    const url = new URL(req.url ?? '/', 'http://fake');
    const m = url.pathname.match(PODS);
    if (m?.[3] !== 'portforward' || !m) return false;
    const namespace = decodeURIComponent(m[1]!);
    const name = decodeURIComponent(m[2]!);
    const refuse = (status: number, reason: string, message: string) => {
      record(status);
      refuseUpgrade(socket, status, statusBody(status, reason, message));
    };
    if (req.method !== 'GET' || !isWebSocketUpgrade(req)) {
      refuse(400, 'BadRequest', 'the fake serves port-forward over WebSocket only');
      return true;
    }
    const state = this.#pods.get(`${namespace}/${name}`);
    if (!state) {
      refuse(404, 'NotFound', `pods "${name}" not found`);
      return true;
    }
    if (state.pod.status?.phase !== 'Running' || !state.running || state.pod.metadata.deletionTimestamp) {
      refuse(400, 'BadRequest', `unable to upgrade connection: pod ${name} is not running`);
      return true;
    }
    let ports: number[];
    try {
      ports = parsePorts(url.searchParams.getAll('ports'));
    } catch (error) {
      refuse(400, 'BadRequest', (error as Error).message);
      return true;
    }
    const offered = offeredProtocols(req);
    const protocol = (offered.length === 0 ? [''] : offered).find((p) => PORT_FORWARD_PROTOCOLS.includes(p));
    if (protocol === undefined) {
      refuse(
        400,
        'BadRequest',
        `requested protocol(s) are not supported: [${offered.join(' ')}]; supports [${PORT_FORWARD_PROTOCOLS.join(' ')}]`,
      );
      return true;
    }
    let ws: ServerWebSocket;
    try {
      ws = acceptWebSocket(req, socket, head, protocol);
    } catch (error) {
      const status = error instanceof UpgradeRefusal ? error.status : 400;
      refuse(status, 'BadRequest', (error as Error).message);
      return true;
    }
    record(101);
    this.portForwards.push({ namespace, pod: name, ports, protocol });
    this.#forward(ws, state, ports);
    return true;
  }

  #forward(ws: ServerWebSocket, state: PodState, ports: number[]): void {
    this.#webSockets.add(ws);
    const base64 = ws.protocol === 'v4.base64.channel.k8s.io';
    const send = (channel: number, data: Uint8Array) => {
      if (base64) ws.send(String.fromCharCode(48 + channel) + Buffer.from(data).toString('base64'));
      else ws.send(Buffer.concat([Buffer.from([channel]), data]));
    };
    const sockets: (net.Socket | undefined)[] = [];
    let open = ports.length;
    const streamDone = () => {
      open--;
      if (open === 0) ws.close();
    };
    ports.forEach((port, i) => {
      const portBytes = Buffer.alloc(2);
      portBytes.writeUInt16LE(port, 0);
      send(2 * i, portBytes);
      send(2 * i + 1, portBytes);
    });
    ports.forEach((port, i) => {
      const endpoint = state.running?.ports[port];
      const uid = state.pod.metadata.uid;
      const fail = (why: string) => {
        send(
          2 * i + 1,
          Buffer.from(
            `error forwarding port ${port} to pod ${state.pod.metadata.name}, uid ${uid}: failed to connect to localhost:${port} inside the pod's network namespace: ${why}`,
          ),
        );
        streamDone();
      };
      if (!endpoint) {
        fail(`dial tcp4 127.0.0.1:${port}: connect: connection refused`);
        return;
      }
      const socket = net.connect({ host: endpoint.host, port: endpoint.port, allowHalfOpen: true });
      this.#sockets.add(socket);
      sockets[i] = socket;
      let connected = false;
      socket.on('connect', () => {
        connected = true;
      });
      socket.on('data', (chunk: Buffer) => send(2 * i, chunk));
      socket.on('end', () => socket.end());
      socket.on('error', (error: NodeJS.ErrnoException) => {
        if (!connected) fail(`dial tcp4 127.0.0.1:${port}: connect: ${error.code ?? error.message}`);
      });
      socket.on('close', () => {
        this.#sockets.delete(socket);
        if (connected) streamDone();
      });
    });
    ws.onMessage((data, binary) => {
      let channel: number;
      let payload: Buffer;
      if (base64) {
        if (binary || data.length === 0) return;
        const text = data.toString('utf8');
        channel = text.charCodeAt(0) - 48;
        payload = Buffer.from(text.slice(1), 'base64');
      } else {
        if (data.length === 0) return;
        channel = data[0]!;
        payload = data.subarray(1);
      }
      // Only data channels are read from the client; the error channels are write-only.
      if (channel % 2 !== 0 || channel >= 2 * ports.length) return;
      const socket = sockets[channel / 2];
      if (socket && !socket.destroyed && payload.length > 0) socket.write(payload);
    });
    ws.onClose(() => {
      this.#webSockets.delete(ws);
      for (const s of sockets) s?.destroy();
    });
  }

  #list(res: ServerResponse, namespace: string | undefined, query: URLSearchParams): number {
    const pods = [...this.#pods.values()].map((s) => s.pod);
    const items = selectObjects(pods, namespace, query).map((p) => copy(p));
    sendList(res, 'Pod', 'v1', items, this.#nextRv());
    return 200;
  }

  async #create(req: IncomingMessage, res: ServerResponse, namespace: string): Promise<number> {
    const pod = await readObjectBody<FakePod>(req, 'Pod');
    checkBodyNamespace(pod.metadata, namespace);
    const name = pod.metadata.name;
    const invalid = (msg: string) => new HttpError(422, 'Invalid', `Pod "${name}" is invalid: ${msg}`);
    if (typeof name !== 'string' || !isDnsSubdomain(name))
      throw invalid(`metadata.name: Invalid value: "${name}"`);
    const containers = pod.spec?.containers;
    if (!Array.isArray(containers) || containers.length === 0)
      throw invalid('spec.containers: Required value');
    for (const [i, c] of containers.entries()) {
      if (typeof c?.name !== 'string' || c.name === '')
        throw invalid(`spec.containers[${i}].name: Required value`);
      if (typeof c.image !== 'string' || c.image === '')
        throw invalid(`spec.containers[${i}].image: Required value`);
    }
    const key = `${namespace}/${name}`;
    if (this.#pods.has(key)) throw new HttpError(409, 'AlreadyExists', `pods "${name}" already exists`);
    const stored = this.#normalize(namespace, pod, { phase: 'Pending' });
    const state: PodState = { pod: stored };
    this.#pods.set(key, state);
    this.#json(res, 201, this.#wire(stored));
    const kubelet = this.#kubelet;
    if (kubelet) {
      Promise.resolve()
        .then(() => kubelet.run(copy(stored)))
        .then(
          (running) => {
            if (this.#pods.get(key) === state && !state.pod.metadata.deletionTimestamp)
              this.#started(state, running);
            else void running.stop?.();
          },
          (error: unknown) => {
            if (this.#pods.get(key) !== state) return;
            this.#update(state, {
              ...state.pod.status,
              phase: 'Failed',
              reason: 'Error',
              message: error instanceof Error ? error.message : String(error),
            });
          },
        );
    }
    return 201;
  }

  #normalize(namespace: string, pod: FakePod, status: FakePod['status']): FakePod {
    const stored: FakePod = {
      ...pod,
      metadata: {
        ...pod.metadata,
        namespace,
        uid: pod.metadata.uid ?? randomUUID(),
        resourceVersion: this.#nextRv(),
        creationTimestamp: kubeTimestamp(),
      },
      spec: pod.spec,
      status: pod.status ?? {
        ...status,
        conditions: [{ type: 'PodScheduled', status: 'True' }],
        containerStatuses: pod.spec.containers.map((c) => ({
          name: c.name,
          image: c.image,
          ready: false,
          restartCount: 0,
          state: { waiting: { reason: 'ContainerCreating' } },
        })),
      },
    };
    delete stored.apiVersion;
    delete stored.kind;
    return stored;
  }

  #wire(pod: FakePod): unknown {
    return { kind: 'Pod', apiVersion: 'v1', ...copy(pod) };
  }

  #update(state: PodState, status: FakePod['status']): void {
    state.pod = {
      ...state.pod,
      status,
      metadata: { ...state.pod.metadata, resourceVersion: this.#nextRv() },
    };
  }

  #started(state: PodState, running: FakeRunningPod): void {
    state.running = running;
    const containers = state.pod.spec.containers;
    const podIP = running.podIP ?? `10.244.0.${this.#ipCounter++}`;
    const setReady = (ready: boolean[]) => {
      const all = ready.every(Boolean);
      this.#update(state, {
        phase: 'Running',
        podIP,
        podIPs: [{ ip: podIP }],
        conditions: [
          { type: 'PodScheduled', status: 'True' },
          { type: 'Initialized', status: 'True' },
          { type: 'ContainersReady', status: all ? 'True' : 'False' },
          { type: 'Ready', status: all ? 'True' : 'False' },
        ],
        containerStatuses: containers.map((c, i) => ({
          name: c.name,
          image: c.image,
          ready: ready[i]!,
          restartCount: 0,
          state: { running: { startedAt: kubeTimestamp() } },
        })),
      });
    };
    // Containers without a readiness probe are ready once running (as the kubelet does).
    const readiness = containers.map((c) => !c.readinessProbe);
    setReady(readiness);
    const probed = containers
      .map((c, i) => ({ i, port: probePort(c) }))
      .filter((p): p is { i: number; port: number } => p.port !== undefined);
    if (probed.length > 0) {
      let probing = false;
      state.probeTimer = setInterval(() => {
        if (probing) return;
        probing = true;
        void Promise.all(
          probed.map(async ({ i, port }) => {
            const endpoint = running.ports[port];
            readiness[i] = endpoint !== undefined && (await tcpProbe(endpoint));
          }),
        ).then(() => {
          probing = false;
          if (this.#pods.get(`${state.pod.metadata.namespace}/${state.pod.metadata.name}`) !== state) return;
          if (state.pod.status?.phase !== 'Running') return;
          const now = state.pod.status.containerStatuses?.map((c) => c.ready) ?? [];
          if (now.some((r, i) => r !== readiness[i])) setReady(readiness);
        });
      }, this.#probeMs);
      state.probeTimer.unref();
    }
    running.exited?.then(({ exitCode, message }) => {
      if (state.probeTimer) clearInterval(state.probeTimer);
      if (state.pod.status?.phase !== 'Running') return;
      this.#update(state, {
        ...state.pod.status,
        phase: exitCode === 0 ? 'Succeeded' : 'Failed',
        conditions: state.pod.status.conditions?.map((c) =>
          c.type === 'Ready' || c.type === 'ContainersReady' ? { ...c, status: 'False' } : c,
        ),
        containerStatuses: state.pod.status.containerStatuses?.map((c) => ({
          ...c,
          ready: false,
          state: { terminated: { exitCode, ...(message ? { message } : {}) } },
        })),
      });
    });
  }

  async #delete(
    req: IncomingMessage,
    res: ServerResponse,
    state: PodState,
    query: URLSearchParams,
  ): Promise<number> {
    const body = (await readJsonObject(req, true)) as { gracePeriodSeconds?: number } | undefined;
    const grace = Number(query.get('gracePeriodSeconds') ?? body?.gracePeriodSeconds ?? 30);
    const key = `${state.pod.metadata.namespace}/${state.pod.metadata.name}`;
    if (!state.pod.metadata.deletionTimestamp) {
      state.pod = {
        ...state.pod,
        metadata: {
          ...state.pod.metadata,
          deletionTimestamp: kubeTimestamp(),
          deletionGracePeriodSeconds: grace,
          resourceVersion: this.#nextRv(),
        },
      };
      if (state.probeTimer) clearInterval(state.probeTimer);
      const gone = () => {
        if (this.#pods.get(key) === state) this.#pods.delete(key);
      };
      // A pod that never ran, or a forced deletion, is gone at once; else after its container stopped.
      if (!state.running || grace === 0) {
        gone();
        void Promise.resolve(state.running?.stop?.()).catch(() => {});
      } else {
        void Promise.resolve()
          .then(() => state.running?.stop?.())
          .catch(() => {})
          .then(gone);
      }
    }
    this.#json(res, 200, this.#wire(state.pod));
    return 200;
  }

  #serveService(res: ServerResponse, method: string, namespace: string, rawName: string | undefined): number {
    if (method !== 'GET') throw new HttpError(405, 'MethodNotAllowed', 'the fake serves Services read-only');
    const wire = (s: FakeService) => ({ kind: 'Service', apiVersion: 'v1', ...copy(s) });
    if (rawName === undefined) {
      const items = [...this.#services.values()].filter((s) => s.metadata.namespace === namespace).map(wire);
      sendList(res, 'Service', 'v1', items);
      return 200;
    }
    const name = decodeURIComponent(rawName);
    const found = this.#services.get(`${namespace}/${name}`);
    if (!found) throw new HttpError(404, 'NotFound', `services "${name}" not found`);
    this.#json(res, 200, wire(found));
    return 200;
  }

  #json(res: ServerResponse, status: number, body: unknown): void {
    sendJson(res, status, body);
  }

  /** Stops every pod's probes and kubelet process and ends open port-forwards. */
  async close(): Promise<void> {
    for (const ws of this.#webSockets) ws.destroy();
    for (const s of this.#sockets) s.destroy();
    const stops: Promise<unknown>[] = [];
    for (const state of this.#pods.values()) {
      if (state.probeTimer) clearInterval(state.probeTimer);
      if (state.running?.stop) stops.push(Promise.resolve(state.running.stop()).catch(() => {}));
    }
    await Promise.all(stops);
  }
}

/** The ports of a port-forward request (`ports`, repeated or comma-separated, as the API server converts them). */
function parsePorts(values: string[]): number[] {
  if (values.length === 0) throw new Error('query parameter "ports" is required');
  const ports: number[] = [];
  for (const value of values) {
    if (value === '') throw new Error('query parameter "ports" cannot be empty');
    for (const p of value.split(',')) {
      const n = /^\d+$/.test(p) ? Number(p) : Number.NaN;
      if (!Number.isInteger(n) || n > 65535) throw new Error(`unable to parse "${value}" as a port`);
      if (n < 1) throw new Error(`port "${value}" must be > 0`);
      ports.push(n);
    }
  }
  return ports;
}

function probePort(c: FakeContainer): number | undefined {
  const port = c.readinessProbe?.tcpSocket?.port;
  if (typeof port === 'number') return port;
  if (typeof port === 'string') return c.ports?.find((p) => p.name === port)?.containerPort;
  return undefined;
}

function tcpProbe(endpoint: FakeEndpoint): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: endpoint.host, port: endpoint.port });
    s.setTimeout(1000, () => {
      s.destroy();
      resolve(false);
    });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
