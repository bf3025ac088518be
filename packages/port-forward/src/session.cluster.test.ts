// Opt-in: contrast port-forward against a real cluster (KUBECONFIG) with the real port-forwarder
// image (CONTRAST_PORT_FORWARDER_IMAGE, pushed where the cluster pulls from: `pnpm --silent images
// build --only port-forwarder --push <registry>`). In CONTRAST_PORT_FORWARD_TEST_NAMESPACE
// (default: the context's namespace) it starts an echo pod (the same image, `node -e` as its
// command) behind a Service, forwards to the Service and to the pod, round-trips bytes, and checks
// that the forwarder pod is gone after close(), after the abort signal and after an error (a
// Service without endpoints: the pod never gets ready). Everything it created is deleted.
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FORWARDER_SELECTOR } from './forwarder-pod.js';
import { startPortForward } from './session.js';
import { type ClusterEcho, startClusterEcho } from './testing/cluster-echo.js';
import { roundTrip } from './testing/echo.js';

const kubeconfig = process.env.KUBECONFIG;
const image = process.env.CONTRAST_PORT_FORWARDER_IMAGE;

if (!kubeconfig || !image) {
  console.warn(
    `!!! SKIPPING the real-cluster port-forward suite: set ${[!kubeconfig && 'KUBECONFIG', !image && 'CONTRAST_PORT_FORWARDER_IMAGE'].filter(Boolean).join(' and ')}`,
  );
  describe('port-forward on a real cluster', () => {
    it.skip('needs KUBECONFIG and CONTRAST_PORT_FORWARDER_IMAGE', () => {});
  });
} else {
  describe('port-forward on a real cluster', () => {
    const kc = new KubeConfig();
    kc.loadFromDefault();
    const namespace =
      process.env.CONTRAST_PORT_FORWARD_TEST_NAMESPACE ??
      kc.getContextObject(kc.getCurrentContext())?.namespace ??
      'default';
    const api = kc.makeApiClient(CoreV1Api);
    const base = { kubeConfig: kc, namespace, image, readyTimeoutMs: 180_000 };
    let echo: ClusterEcho;
    let echoName = '';
    let deadName = '';

    const gone = async (name: string) => expect(await echo.podStatus(name)).toBe(404);

    beforeAll(async () => {
      echo = await startClusterEcho(kc, namespace, image);
      echoName = echo.name;
      deadName = echo.deadService;
    }, 240_000);

    afterAll(async () => {
      await echo?.delete();
    });

    it('svc/<name>: bytes round-trip; the forwarder pod is gone after close()', async () => {
      const session = await startPortForward({
        ...base,
        target: { kind: 'service', name: echoName },
        ports: { local: 0, remote: 1313 },
      });
      const results = await Promise.all(
        [100, 1024 * 1024, 3 * 1024 * 1024].map((n) => roundTrip(session.localPort, n)),
      );
      for (const { sent, received } of results) expect(received.equals(sent)).toBe(true);
      await session.close();
      await gone(session.podName);
    }, 300_000);

    it('pod/<name>: bytes round-trip; the forwarder pod is gone after the abort signal', async () => {
      const controller = new AbortController();
      const session = await startPortForward({
        ...base,
        target: { kind: 'pod', name: echoName },
        ports: { local: 0, remote: 8080 },
        signal: controller.signal,
      });
      const { sent, received } = await roundTrip(session.localPort, 512 * 1024);
      expect(received.equals(sent)).toBe(true);
      controller.abort();
      await session.done;
      await gone(session.podName);
    }, 300_000);

    it('a target that refuses: not ready in time, the forwarder pod is gone', async () => {
      let podName = '';
      await expect(
        startPortForward({
          ...base,
          target: { kind: 'service', name: deadName },
          ports: { local: 0, remote: 80 },
          readyTimeoutMs: 45_000,
          progress: (line) => {
            podName ||= /forwarder pod \S+\/(contrast-port-forward-[a-z0-9]+)/.exec(line)?.[1] ?? '';
          },
        }),
      ).rejects.toThrow(/not ready within 45 s/);
      expect(podName).not.toBe('');
      await gone(podName);
      const left = await api.listNamespacedPod({ namespace, labelSelector: FORWARDER_SELECTOR });
      expect(left.items.map((p) => p.metadata?.name)).not.toContain(podName);
    }, 300_000);
  });
}
