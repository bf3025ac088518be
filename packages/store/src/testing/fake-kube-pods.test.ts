// The fake's pods and its port-forward endpoint, seen through @kubernetes/client-node: the pod
// lifecycle a kubelet would drive, and the WebSocket port-forward protocol byte for byte
// (subprotocol v4.channel.k8s.io, a data and an error channel per port, each opened by the port
// as 2 bytes little-endian, messages prefixed by their channel number).
import { createRequire } from 'node:module';
import net from 'node:net';
import { type ApiException, CoreV1Api } from '@kubernetes/client-node';
import { WebSocketHandler } from '@kubernetes/client-node/dist/web-socket-handler.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../test-support/conformance.js';
import { type FakeKubeApiServer, startFakeKubeApiServer } from './index.js';

const NS = 'pods-test';

/** How long a pod, Service or port-forward event may take to show (a loaded machine). */
const SETTLE_MS = 10_000;

describe('the fake API: pods, Services and port-forward', () => {
  let fake: FakeKubeApiServer;
  let api: CoreV1Api;
  let echo: net.Server;
  let echoPort: number;
  beforeAll(async () => {
    fake = await startFakeKubeApiServer({ probeIntervalMs: 20 });
    api = fake.kubeConfig().makeApiClient(CoreV1Api);
    echo = net.createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
    echoPort = (echo.address() as net.AddressInfo).port;
    fake.setKubelet({
      run: (pod) =>
        pod.metadata.name === 'never'
          ? new Promise(() => {})
          : { ports: { 8000: { host: '127.0.0.1', port: echoPort } }, log: () => 'line 1\nline 2\nline 3\n' },
    });
  });
  afterAll(async () => {
    await fake.close();
    await new Promise<void>((r) => echo.close(() => r()));
  });

  const pod = (name: string, probePort?: number) => ({
    metadata: { name, labels: { app: 'x' } },
    spec: {
      containers: [
        {
          name: 'c',
          image: 'img',
          ...(probePort ? { readinessProbe: { tcpSocket: { port: probePort } } } : {}),
        },
      ],
    },
  });

  it('runs created pods through the kubelet: Pending, then Running and Ready (tcpSocket probe)', async () => {
    await api.createNamespacedPod({ namespace: NS, body: pod('web', 8000) });
    await api.createNamespacedPod({ namespace: NS, body: pod('never') });
    await api.createNamespacedPod({ namespace: NS, body: pod('unprobed', 9999) });
    await eventually(async () => {
      const p = await api.readNamespacedPod({ name: 'web', namespace: NS });
      expect(p.status?.phase).toBe('Running');
      expect(p.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    }, SETTLE_MS);
    expect((await api.readNamespacedPod({ name: 'never', namespace: NS })).status?.phase).toBe('Pending');
    // The probe dials an unmapped port: running, never ready.
    const unprobed = await api.readNamespacedPod({ name: 'unprobed', namespace: NS });
    expect(unprobed.status?.phase).toBe('Running');
    expect(unprobed.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('False');
    const list = await api.listNamespacedPod({ namespace: NS, labelSelector: 'app=x' });
    expect(list.items.map((p) => p.metadata?.name)).toEqual(['never', 'unprobed', 'web']);
    const named = await api.listNamespacedPod({ namespace: NS, fieldSelector: 'metadata.name!=never' });
    expect(named.items.map((p) => p.metadata?.name)).toEqual(['unprobed', 'web']);
    expect(await api.readNamespacedPodLog({ name: 'web', namespace: NS, tailLines: 2 })).toBe(
      'line 2\nline 3\n',
    );
    const conflict = await api.createNamespacedPod({ namespace: NS, body: pod('web') }).catch((e) => e);
    expect((conflict as ApiException<unknown>).code).toBe(409);
  });

  it('serves Services read-only', async () => {
    fake.setService(NS, { metadata: { name: 'svc' }, spec: { ports: [{ port: 80 }] } });
    const svc = await api.readNamespacedService({ name: 'svc', namespace: NS });
    expect(svc.spec?.ports?.[0]?.port).toBe(80);
    const missing = await api.readNamespacedService({ name: 'nope', namespace: NS }).catch((e) => e);
    expect((missing as ApiException<unknown>).code).toBe(404);
  });

  /** Opens a port-forward WebSocket and records every message as [channel, bytes]. */
  async function open(podName: string, query: string) {
    const messages: [number, Buffer][] = [];
    const handler = new WebSocketHandler(fake.kubeConfig());
    const ws = await handler.connect(
      `/api/v1/namespaces/${NS}/pods/${podName}/portforward?${query}`,
      null,
      (ch, buf) => {
        messages.push([ch, Buffer.from(buf)]);
        return true;
      },
    );
    const closed = new Promise<void>((r) => ws.on('close', () => r()));
    return { ws, messages, closed };
  }

  it('port-forward: v4.channel.k8s.io, port headers on both channels, data both ways', async () => {
    const { ws, messages, closed } = await open('web', 'ports=8000');
    expect(ws.protocol).toBe('v4.channel.k8s.io');
    await eventually(() => expect(messages.length).toBeGreaterThanOrEqual(2), SETTLE_MS);
    // 8000 = 0x1f40, little-endian
    expect(messages.slice(0, 2)).toEqual([
      [0, Buffer.from([0x40, 0x1f])],
      [1, Buffer.from([0x40, 0x1f])],
    ]);
    const payload = Buffer.alloc(200_000, 7);
    ws.send(Buffer.concat([Buffer.from([0]), payload]));
    await eventually(() => {
      const data = Buffer.concat(
        messages
          .slice(2)
          .filter(([ch]) => ch === 0)
          .map(([, b]) => b),
      );
      expect(data.equals(payload)).toBe(true);
    }, SETTLE_MS);
    ws.close();
    await closed;
  });

  it('port-forward: a refused port is reported on the error channel, then the WebSocket closes', async () => {
    const refused = await open('web', 'ports=9000');
    await refused.closed;
    // 9000 = 0x2328
    expect(refused.messages.slice(0, 2)).toEqual([
      [0, Buffer.from([0x28, 0x23])],
      [1, Buffer.from([0x28, 0x23])],
    ]);
    const text = refused.messages.filter(([ch]) => ch === 1).map(([, b]) => b.toString());
    expect(text.join('')).toMatch(/error forwarding port 9000 to pod web, uid .*connection refused/);
  });

  it('port-forward: two ports, two channels each, in order', async () => {
    const { ws, messages, closed } = await open('web', 'ports=8000,9000');
    await eventually(
      () => expect(messages.filter(([ch]) => ch === 3).length).toBeGreaterThanOrEqual(2),
      SETTLE_MS,
    );
    expect(messages.slice(0, 4)).toEqual([
      [0, Buffer.from([0x40, 0x1f])],
      [1, Buffer.from([0x40, 0x1f])],
      [2, Buffer.from([0x28, 0x23])],
      [3, Buffer.from([0x28, 0x23])],
    ]);
    ws.close();
    await closed;
  });

  it('port-forward: v4.base64.channel.k8s.io when a client asks for it first (text frames, ASCII channel digit)', async () => {
    // client-node's own `ws` dependency, with a protocol list client-node does not send.
    const WebSocket = createRequire(createRequire(import.meta.url).resolve('@kubernetes/client-node'))(
      'ws',
    ) as new (
      url: string,
      protocols: string[],
    ) => {
      protocol: string;
      on(event: string, listener: (...args: unknown[]) => void): void;
      send(data: string): void;
      close(): void;
    };
    const ws = new WebSocket(
      `${fake.url.replace('http', 'ws')}/api/v1/namespaces/${NS}/pods/web/portforward?ports=8000`,
      ['v4.base64.channel.k8s.io', 'v4.channel.k8s.io'],
    );
    const texts: string[] = [];
    ws.on('message', (data, isBinary) => {
      expect(isBinary).toBe(false);
      texts.push(String(data));
    });
    await new Promise((resolve, reject) => {
      ws.on('open', resolve);
      ws.on('error', reject);
    });
    expect(ws.protocol).toBe('v4.base64.channel.k8s.io');
    await eventually(() => expect(texts.length).toBeGreaterThanOrEqual(2), SETTLE_MS);
    const port = Buffer.from([0x40, 0x1f]).toString('base64');
    expect(texts.slice(0, 2)).toEqual([`0${port}`, `1${port}`]);
    ws.send(`0${Buffer.from('hello base64').toString('base64')}`);
    await eventually(
      () =>
        expect(
          texts
            .slice(2)
            .filter((t) => t.startsWith('0'))
            .map((t) => Buffer.from(t.slice(1), 'base64').toString())
            .join(''),
        ).toBe('hello base64'),
      SETTLE_MS,
    );
    ws.close();
    // Only protocols the kubelet does not serve: refused before the upgrade.
    const refused = new WebSocket(
      `${fake.url.replace('http', 'ws')}/api/v1/namespaces/${NS}/pods/web/portforward?ports=8000`,
      ['v5.channel.k8s.io'],
    );
    await expect(
      new Promise((resolve, reject) => {
        refused.on('open', resolve);
        refused.on('error', reject);
      }),
    ).rejects.toThrow(/400/);
  });

  it('port-forward is refused like the API server: unknown pod, pod not running, no ports', async () => {
    await expect(open('nope', 'ports=1')).rejects.toThrow(/404/);
    await expect(open('never', 'ports=1')).rejects.toThrow(/400/);
    await expect(open('web', '')).rejects.toThrow(/400/);
    const records = fake.requests.filter((r) => r.path.endsWith('/portforward')).map((r) => r.status);
    expect(records.slice(-3)).toEqual([404, 400, 400]);
  });

  it('deletes pods: gone once the kubelet stopped them', async () => {
    await api.deleteNamespacedPod({ name: 'web', namespace: NS });
    await eventually(() => expect(fake.podNames(NS)).not.toContain('web'), SETTLE_MS);
    const gone = await api.readNamespacedPod({ name: 'web', namespace: NS }).catch((e) => e);
    expect((gone as ApiException<unknown>).code).toBe(404);
  });
});
