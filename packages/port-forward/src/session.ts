import net from 'node:net';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { ContrastError, type Logger, noopLogger } from '@contrast-cc/core';
import { ApiException, CoreV1Api, type KubeConfig, PortForward, type V1Pod } from '@kubernetes/client-node';
import { forwarderPod, forwarderPodName, RELAY_PORT, type RelayTarget } from './forwarder-pod.js';
import { describeTarget, type ForwardPorts, type ForwardTarget } from './target.js';

/** @public */
export interface PortForwardOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  target: ForwardTarget;
  ports: ForwardPorts;
  /** The port-forwarder image, pinned by digest. */
  image: string;
  /** Local address to listen on; default 127.0.0.1. */
  address?: string;
  /** How long to wait for the forwarder pod to be Ready (ms); default 120 s. */
  readyTimeoutMs?: number;
  /** How often to read the pod while waiting (ms); default 500. */
  pollIntervalMs?: number;
  /** How often to check the forwarder pod while forwarding (ms); default 5 s. */
  podCheckIntervalMs?: number;
  /** How long to wait until the deleted pod is gone (ms); default 30 s. */
  deleteTimeoutMs?: number;
  /** Deadline of each Kubernetes API request (ms); default 15 s. */
  requestTimeoutMs?: number;
  /** Aborting stops forwarding (or the set-up) and deletes the forwarder pod. */
  signal?: AbortSignal;
  logger?: Logger;
  /** Progress lines for a person (creating, waiting, deleted). */
  progress?: (line: string) => void;
  /** The forwarder pod's name; default a new unique one. */
  podName?: string;
}

/** A running forwarding. @public */
export interface PortForwardSession {
  readonly namespace: string;
  readonly podName: string;
  /** The local address and port it listens on. */
  readonly address: string;
  readonly localPort: number;
  /** What it forwards to, e.g. `svc/coordinator:1313`. */
  readonly target: string;
  /** Where the relay in the pod connects, e.g. `coordinator.default.svc:1313`. */
  readonly relay: string;
  /**
   * Settles once forwarding stopped and the forwarder pod was deleted: resolves after close() or
   * the abort signal, rejects when the forwarder pod stopped or vanished, or could not be deleted.
   */
  readonly done: Promise<void>;
  /** Stops forwarding and deletes the forwarder pod; resolves like `done`. */
  close(): Promise<void>;
}

/** The message of a Kubernetes API error (the Status object's message when there is one). */
function apiMessage(error: unknown): { status: number | undefined; message: string } {
  if (error instanceof ApiException) {
    let message = '';
    try {
      const body = typeof error.body === 'string' ? JSON.parse(error.body) : error.body;
      message = typeof body?.message === 'string' ? body.message : '';
    } catch {
      message = String(error.body ?? '').slice(0, 200);
    }
    return { status: error.code, message: message || `HTTP ${error.code}` };
  }
  const e = error as { message?: unknown; code?: unknown };
  const code = typeof e?.code === 'string' ? ` (${e.code})` : '';
  return { status: undefined, message: `${String(e?.message ?? error)}${code}` };
}

function apiFailure(what: string, error: unknown): ContrastError {
  if (error instanceof ContrastError) return error;
  const { status, message } = apiMessage(error);
  const code = status === 401 || status === 403 ? 'permission-denied' : 'unavailable';
  return new ContrastError(code, `${what}: ${message}`, { cause: error });
}

/** A pod's state in a few words: `Pending (ContainerCreating)`, `Running, not ready`, `Failed: …`. */
export function podSummary(pod: V1Pod): string {
  const phase = pod.status?.phase ?? 'Pending';
  const container = pod.status?.containerStatuses?.[0];
  const waiting = container?.state?.waiting;
  const terminated = container?.state?.terminated;
  if (pod.metadata?.deletionTimestamp) return `${phase}, terminating`;
  if (waiting?.reason) return `${phase} (${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''})`;
  if (terminated) {
    return `${phase} (exit code ${terminated.exitCode}${terminated.message ? `: ${terminated.message.trim()}` : ''})`;
  }
  if (phase === 'Running') return isReady(pod) ? 'Running, ready' : 'Running, not ready yet';
  const why = [pod.status?.reason, pod.status?.message].filter(Boolean).join(': ');
  return why ? `${phase} (${why})` : phase;
}

function isReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

class Stopped extends Error {}

/**
 * Forwards a local TCP port to a port of a pod or Service through a forwarder pod: resolves the
 * target (a Service's DNS name `<name>.<namespace>.svc` with its port checked against the
 * Service, or a pod's IP), creates the forwarder pod, waits until it is Ready (the relay reached
 * the target), then listens locally and carries every accepted connection over its own
 * Kubernetes port-forward WebSocket to the relay. The forwarder pod is deleted on close(), on the
 * abort signal and on every error, also when the set-up fails.
 * @public
 */
export async function startPortForward(options: PortForwardOptions): Promise<PortForwardSession> {
  const { kubeConfig, namespace, target, ports, image } = options;
  const address = options.address ?? '127.0.0.1';
  const logger = (options.logger ?? noopLogger).child({ component: 'port-forward' });
  const progress = options.progress ?? (() => {});
  const pollMs = options.pollIntervalMs ?? 500;
  const requestMs = options.requestTimeoutMs ?? 15_000;
  const signal = options.signal;
  const api = kubeConfig.makeApiClient(CoreV1Api);
  const targetText = `${describeTarget(target)}:${ports.remote}`;

  const call = async <T>(what: string, request: () => Promise<T>): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new ContrastError('unavailable', `${what}: no answer from the Kubernetes API in ${requestMs} ms`),
          ),
        requestMs,
      );
    });
    try {
      return await Promise.race([request(), deadline]);
    } catch (error) {
      throw apiFailure(what, error);
    } finally {
      clearTimeout(timer);
    }
  };
  const notFound = (error: unknown) =>
    error instanceof ContrastError && (error.cause as ApiException<unknown> | undefined)?.code === 404;

  if (signal?.aborted) throw new ContrastError('unavailable', 'interrupted before forwarding started');

  // 1. Where the relay connects.
  let relay: RelayTarget;
  if (target.kind === 'service') {
    let service: Awaited<ReturnType<CoreV1Api['readNamespacedService']>>;
    try {
      service = await call(`reading Service ${namespace}/${target.name}`, () =>
        api.readNamespacedService({ name: target.name, namespace }),
      );
    } catch (error) {
      if (notFound(error)) {
        throw new ContrastError(
          'not-found',
          `Service "${target.name}" not found in namespace "${namespace}"`,
          {
            field: 'target',
          },
        );
      }
      throw error;
    }
    const servicePorts = (service.spec?.ports ?? []).map((p) => p.port);
    if (servicePorts.length > 0 && !servicePorts.includes(ports.remote)) {
      throw new ContrastError(
        'invalid-argument',
        `Service "${target.name}" has no port ${ports.remote} (its ports: ${servicePorts.join(', ')})`,
        { field: 'ports' },
      );
    }
    relay = { host: `${target.name}.${namespace}.svc`, port: ports.remote };
  } else {
    let pod: V1Pod;
    try {
      pod = await call(`reading pod ${namespace}/${target.name}`, () =>
        api.readNamespacedPod({ name: target.name, namespace }),
      );
    } catch (error) {
      if (notFound(error)) {
        throw new ContrastError('not-found', `pod "${target.name}" not found in namespace "${namespace}"`, {
          field: 'target',
        });
      }
      throw error;
    }
    const ip = pod.status?.podIP;
    if (!ip || pod.status?.phase !== 'Running') {
      throw new ContrastError(
        'precondition-failed',
        `pod "${target.name}" is not running (${podSummary(pod)})${ip ? '' : ' and has no IP yet'}`,
      );
    }
    relay = { host: ip, port: ports.remote };
  }
  const relayText = `${relay.host.includes(':') ? `[${relay.host}]` : relay.host}:${relay.port}`;

  // 2. The forwarder pod; from here on every way out deletes it.
  const podName = options.podName ?? forwarderPodName();
  progress(`Creating forwarder pod ${namespace}/${podName} (relays to ${relayText}; image ${image})`);
  await call(`creating forwarder pod ${namespace}/${podName}`, () =>
    api.createNamespacedPod({
      namespace,
      body: forwarderPod({ name: podName, namespace, image, target, remotePort: ports.remote, relay }),
    }),
  );

  let deleting: Promise<void> | undefined;
  const deletePod = (): Promise<void> => {
    deleting ??= (async () => {
      try {
        await call(`deleting forwarder pod ${namespace}/${podName}`, () =>
          api.deleteNamespacedPod({ name: podName, namespace }),
        );
      } catch (error) {
        if (!notFound(error)) {
          throw new ContrastError(
            'unavailable',
            `could not delete the forwarder pod: ${(error as Error).message}; delete it with: kubectl delete pod -n ${namespace} ${podName}`,
            { cause: error },
          );
        }
      }
      // Wait until it is gone (the kubelet stops the relay within its grace period).
      const until = performance.now() + (options.deleteTimeoutMs ?? 30_000);
      for (;;) {
        try {
          await call(`reading forwarder pod ${namespace}/${podName}`, () =>
            api.readNamespacedPod({ name: podName, namespace }),
          );
        } catch (error) {
          if (notFound(error)) break;
          throw error;
        }
        if (performance.now() > until) {
          progress(
            `Forwarder pod ${namespace}/${podName} is still terminating; it was deleted and goes away on its own`,
          );
          return;
        }
        await sleep(pollMs);
      }
      progress(`Deleted forwarder pod ${namespace}/${podName}`);
    })();
    return deleting;
  };

  // 3. Wait until it is Ready.
  try {
    await waitReady();
  } catch (error) {
    await deletePod().catch((e: unknown) => progress((e as Error).message));
    if (error instanceof Stopped) {
      throw new ContrastError(
        'unavailable',
        'interrupted before forwarding started; the forwarder pod was deleted',
      );
    }
    throw error;
  }

  async function waitReady(): Promise<void> {
    const timeoutMs = options.readyTimeoutMs ?? 120_000;
    const until = performance.now() + timeoutMs;
    let last = '';
    for (;;) {
      if (signal?.aborted) throw new Stopped();
      const pod = await call(`reading forwarder pod ${namespace}/${podName}`, () =>
        api.readNamespacedPod({ name: podName, namespace }),
      );
      if (isReady(pod) && pod.status?.phase === 'Running') return;
      const summary = podSummary(pod);
      if (summary !== last) progress(`Waiting for forwarder pod ${podName}: ${summary}`);
      last = summary;
      const phase = pod.status?.phase;
      if (phase === 'Failed' || phase === 'Succeeded') {
        throw new ContrastError('unavailable', `the forwarder pod stopped: ${summary}${await logTail()}`);
      }
      if (performance.now() > until) {
        throw new ContrastError(
          'unavailable',
          `the forwarder pod was not ready within ${Math.round(timeoutMs / 1000)} s: ${summary}${await logTail()}`,
        );
      }
      try {
        await sleep(pollMs, undefined, signal ? { signal } : {});
      } catch {
        throw new Stopped();
      }
    }
  }

  /** The last log lines of the relay (why it is not ready: the target's error), for messages. */
  async function logTail(): Promise<string> {
    try {
      const text = await call('reading the forwarder log', () =>
        api.readNamespacedPodLog({ name: podName, namespace, tailLines: 5 }),
      );
      const lines = String(text)
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean)
        .map((l) => {
          try {
            const {
              msg,
              error,
              target: to,
            } = JSON.parse(l) as { msg?: string; error?: string; target?: string };
            return [msg, to, error].filter(Boolean).join(': ');
          } catch {
            return l;
          }
        });
      return lines.length > 0 ? `; its log ends with: ${lines.join(' | ')}` : '';
    } catch {
      return '';
    }
  }

  // 4. Listen locally and forward each connection over its own port-forward WebSocket.
  const portForward = new PortForward(kubeConfig, true);
  const sockets = new Set<net.Socket>();
  const webSockets = new Set<{ close(): void; terminate?: () => void }>();
  let connections = 0;
  const server = net.createServer((socket) => {
    const id = ++connections;
    sockets.add(socket);
    socket.on('error', () => socket.destroy());
    socket.on('close', () => sockets.delete(socket));
    logger.info('handling connection', {
      connection: id,
      remote: `${socket.remoteAddress}:${socket.remotePort}`,
    });
    const errors: Buffer[] = [];
    const errorChannel = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        errors.push(chunk);
        callback();
      },
    });
    portForward.portForward(namespace, podName, [RELAY_PORT], socket, errorChannel, socket).then(
      (result) => {
        const ws = result as unknown as {
          close(): void;
          terminate(): void;
          on(event: 'close', listener: () => void): void;
        };
        webSockets.add(ws);
        ws.on('close', () => {
          webSockets.delete(ws);
          const text = Buffer.concat(errors).toString('utf8').trim();
          if (text) {
            progress(`Connection ${id} failed: ${text}`);
            socket.destroy();
          } else socket.end();
        });
        if (socket.destroyed) ws.close();
        else socket.on('close', () => ws.close());
      },
      (error: unknown) => {
        progress(
          `Connection ${id} failed: the port-forward request was refused: ${apiMessage(error).message}`,
        );
        socket.destroy();
      },
    );
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(ports.local, address, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await deletePod().catch((e: unknown) => progress((e as Error).message));
    const code = (error as NodeJS.ErrnoException).code;
    throw new ContrastError(
      'io-error',
      `cannot listen on ${address}:${ports.local}: ${code === 'EADDRINUSE' ? 'the port is in use' : (code ?? (error as Error).message)}`,
      { cause: error },
    );
  }
  const localPort = (server.address() as net.AddressInfo).port;

  // 5. Until stopped: watch the forwarder pod; stop on close(), the signal, or the pod's end.
  let resolveDone!: () => void;
  let rejectDone!: (error: unknown) => void;
  const done = new Promise<void>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });
  done.catch(() => {}); // a caller that never looks at `done` must not crash the process
  let stopping: Promise<void> | undefined;
  const stop = (why?: ContrastError): Promise<void> => {
    if (!stopping) {
      stopping = (async () => {
        clearInterval(checker);
        signal?.removeEventListener('abort', onAbort);
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const ws of webSockets) ws.terminate?.() ?? ws.close();
        for (const s of sockets) s.destroy();
        await closed;
        await deletePod();
        if (why) throw why;
      })();
      stopping.then(resolveDone, rejectDone);
    }
    return stopping;
  };
  const onAbort = () => void stop().catch(() => {});
  let checking = false;
  const checker = setInterval(() => {
    if (checking || stopping) return;
    checking = true;
    call(`reading forwarder pod ${namespace}/${podName}`, () =>
      api.readNamespacedPod({ name: podName, namespace }),
    )
      .then(
        (pod) => {
          const phase = pod.status?.phase;
          if (pod.metadata?.deletionTimestamp || phase === 'Failed' || phase === 'Succeeded') {
            void stop(
              new ContrastError('unavailable', `the forwarder pod stopped: ${podSummary(pod)}`),
            ).catch(() => {});
          }
        },
        (error: unknown) => {
          if (notFound(error)) {
            void stop(
              new ContrastError(
                'unavailable',
                `the forwarder pod ${namespace}/${podName} was deleted by someone else`,
              ),
            ).catch(() => {});
          } else logger.warn('cannot read the forwarder pod', { error: (error as Error).message });
        },
      )
      .finally(() => {
        checking = false;
      });
  }, options.podCheckIntervalMs ?? 5000);
  checker.unref();
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) onAbort();

  return {
    namespace,
    podName,
    address,
    localPort,
    target: targetText,
    relay: relayText,
    done,
    close: () => stop(),
  };
}
