// startPortForward against the loopback fake Kubernetes API, whose kubelet runs the real relay
// program (image/port-forwarder.mjs) for each forwarder pod and whose port-forward endpoint
// speaks v4.channel.k8s.io like the API server: bytes round-trip, and the forwarder pod is gone
// after close(), after the abort signal, and after every error.
import { type FakeKubeApiServer, startFakeKubeApiServer } from '@contrast-cc/store/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FORWARDER_NAME_VALUE, RELAY_PORT } from './forwarder-pod.js';
import { startPortForward } from './session.js';
import { closedPort, roundTrip, startEcho } from './testing/echo.js';
import { type RelayKubelet, relayKubelet } from './testing/relay-kubelet.js';

const IMAGE = `ghcr.io/contrast-cc/port-forwarder@sha256:${'ab'.repeat(32)}`;
const NS = 'shop';

let fake: FakeKubeApiServer;
let echo: Awaited<ReturnType<typeof startEcho>>;
let kubelet: RelayKubelet;
let refused: number;

const forwarders = () => fake.podNames(NS).filter((n) => n.startsWith(FORWARDER_NAME_VALUE));

beforeEach(async () => {
  fake = await startFakeKubeApiServer({ probeIntervalMs: 50 });
  echo = await startEcho();
  refused = await closedPort();
  kubelet = relayKubelet((target) => {
    if (target === `coordinator.${NS}.svc:1313` || target === '10.12.0.7:8080') {
      return { host: '127.0.0.1', port: echo.port };
    }
    if (target === `refuser.${NS}.svc:80`) return { host: '127.0.0.1', port: refused };
    return undefined;
  });
  fake.setKubelet(kubelet);
  fake.setService(NS, {
    metadata: { name: 'coordinator' },
    spec: { ports: [{ port: 1313 }, { port: 7777 }] },
  });
  fake.setService(NS, { metadata: { name: 'refuser' }, spec: { ports: [{ port: 80 }] } });
});

afterEach(async () => {
  await kubelet.stopAll();
  await fake.close();
  await echo.close();
});

const base = () => ({
  kubeConfig: fake.kubeConfig(),
  namespace: NS,
  image: IMAGE,
  pollIntervalMs: 50,
  podCheckIntervalMs: 100,
  readyTimeoutMs: 30_000,
});

describe('startPortForward', () => {
  it('forwards several connections with large payloads to a Service and deletes the pod on close()', async () => {
    const lines: string[] = [];
    const session = await startPortForward({
      ...base(),
      target: { kind: 'service', name: 'coordinator' },
      ports: { local: 0, remote: 1313 },
      progress: (l) => lines.push(l),
    });
    expect(session.address).toBe('127.0.0.1');
    expect(session.target).toBe('svc/coordinator:1313');
    expect(session.relay).toBe(`coordinator.${NS}.svc:1313`);
    expect(forwarders()).toEqual([session.podName]);

    // The pod as the CLI created it: plain runtime, our image, labels, relay target.
    const pod = fake.getPod(NS, session.podName)!;
    expect(pod.spec.runtimeClassName).toBeUndefined();
    expect(pod.spec.containers[0]!.image).toBe(IMAGE);
    expect(pod.metadata.labels).toMatchObject({
      'app.kubernetes.io/name': 'contrast-port-forward',
      'app.kubernetes.io/managed-by': 'contrast',
    });
    expect(kubelet.started.map((s) => s.target)).toEqual([`coordinator.${NS}.svc:1313`]);

    const sizes = [1, 5000, 1024 * 1024, 3 * 1024 * 1024 + 7];
    const results = await Promise.all(sizes.map((n) => roundTrip(session.localPort, n)));
    for (const { sent, received } of results) expect(received.equals(sent)).toBe(true);
    // One WebSocket per connection, to the relay's port, with the protocol the API server picks.
    expect(fake.portForwards).toHaveLength(sizes.length);
    for (const pf of fake.portForwards) {
      expect(pf).toEqual({
        namespace: NS,
        pod: session.podName,
        ports: [RELAY_PORT],
        protocol: 'v4.channel.k8s.io',
      });
    }
    expect(echo.connections()).toBeGreaterThanOrEqual(sizes.length); // + the relay's reachability check

    await session.close();
    await expect(session.done).resolves.toBeUndefined();
    expect(forwarders()).toEqual([]);
    expect(lines.some((l) => l.startsWith(`Deleted forwarder pod ${NS}/${session.podName}`))).toBe(true);
    expect(lines.some((l) => l.startsWith('Waiting for forwarder pod'))).toBe(true);
  }, 60_000);

  it('forwards to a pod by its IP and deletes the forwarder when the signal aborts', async () => {
    fake.setPod(NS, {
      metadata: { name: 'shop-api-0' },
      spec: {
        containers: [{ name: 'api', image: 'shop-api' }],
        runtimeClassName: 'contrast-cc-metal-qemu-snp-1234abcd',
      },
      status: { phase: 'Running', podIP: '10.12.0.7' },
    });
    const controller = new AbortController();
    const session = await startPortForward({
      ...base(),
      target: { kind: 'pod', name: 'shop-api-0' },
      ports: { local: 0, remote: 8080 },
      signal: controller.signal,
    });
    expect(session.relay).toBe('10.12.0.7:8080');
    const { sent, received } = await roundTrip(session.localPort, 200_000);
    expect(received.equals(sent)).toBe(true);
    expect(forwarders()).toHaveLength(1);
    controller.abort();
    await expect(session.done).resolves.toBeUndefined();
    expect(forwarders()).toEqual([]);
  }, 60_000);

  it('gives up when the target refuses (pod never ready), with the relay log, and deletes the pod', async () => {
    const attempt = startPortForward({
      ...base(),
      target: { kind: 'service', name: 'refuser' },
      ports: { local: 0, remote: 80 },
      readyTimeoutMs: 2500,
    });
    await expect(attempt).rejects.toThrow(/not ready within 3 s: Running, not ready yet.*ECONNREFUSED/);
    expect(kubelet.started).toHaveLength(1);
    expect(forwarders()).toEqual([]);
  }, 60_000);

  it('deletes the pod when interrupted while waiting (a pod that stays Pending)', async () => {
    fake.setKubelet(undefined);
    const controller = new AbortController();
    const lines: string[] = [];
    const attempt = startPortForward({
      ...base(),
      target: { kind: 'service', name: 'coordinator' },
      ports: { local: 0, remote: 1313 },
      signal: controller.signal,
      progress: (l) => {
        lines.push(l);
        if (l.includes('Pending (ContainerCreating)')) controller.abort();
      },
    });
    await expect(attempt).rejects.toThrow(/interrupted before forwarding started/);
    expect(forwarders()).toEqual([]);
  }, 60_000);

  it('stops with an error when the forwarder pod is deleted by someone else', async () => {
    const session = await startPortForward({
      ...base(),
      target: { kind: 'service', name: 'coordinator' },
      ports: { local: 0, remote: 1313 },
    });
    const api = fake.kubeConfig();
    const { CoreV1Api } = await import('@kubernetes/client-node');
    await api.makeApiClient(CoreV1Api).deleteNamespacedPod({ name: session.podName, namespace: NS });
    await expect(session.done).rejects.toThrow(/forwarder pod (stopped|shop\/.* was deleted)/);
    expect(forwarders()).toEqual([]);
  }, 60_000);

  it('refuses an unknown Service or port before creating any pod', async () => {
    await expect(
      startPortForward({
        ...base(),
        target: { kind: 'service', name: 'nope' },
        ports: { local: 0, remote: 1 },
      }),
    ).rejects.toMatchObject({ code: 'not-found', message: 'Service "nope" not found in namespace "shop"' });
    await expect(
      startPortForward({
        ...base(),
        target: { kind: 'service', name: 'coordinator' },
        ports: { local: 0, remote: 1314 },
      }),
    ).rejects.toMatchObject({
      code: 'invalid-argument',
      message: 'Service "coordinator" has no port 1314 (its ports: 1313, 7777)',
    });
    await expect(
      startPortForward({
        ...base(),
        target: { kind: 'pod', name: 'missing' },
        ports: { local: 0, remote: 1 },
      }),
    ).rejects.toMatchObject({ code: 'not-found' });
    expect(fake.podNames(NS)).toEqual([]);
    expect(fake.requests.filter((r) => r.method === 'POST')).toEqual([]);
  });

  it('deletes the pod when the local port is taken', async () => {
    const attempt = startPortForward({
      ...base(),
      target: { kind: 'service', name: 'coordinator' },
      ports: { local: echo.port, remote: 1313 },
    });
    await expect(attempt).rejects.toMatchObject({ code: 'io-error' });
    await expect(attempt).rejects.toThrow(`cannot listen on 127.0.0.1:${echo.port}: the port is in use`);
    expect(forwarders()).toEqual([]);
  }, 60_000);
});
