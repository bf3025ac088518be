// For the opt-in real-cluster suites: an echo pod (the port-forwarder image, `node -e` as its
// command, so the cluster needs no other image) behind a Service, plus a Service without
// endpoints (a target that refuses), in a namespace of a real cluster.
import { randomBytes } from 'node:crypto';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';

export interface ClusterEcho {
  /** The echo pod and its Service (port 1313 -> 8080). */
  name: string;
  /** A Service (port 80) that selects no pod. */
  deadService: string;
  /** Resolves with the HTTP status of reading a pod (404 when it is gone). */
  podStatus(name: string): Promise<number | undefined>;
  delete(): Promise<void>;
}

export async function startClusterEcho(
  kubeConfig: KubeConfig,
  namespace: string,
  image: string,
): Promise<ClusterEcho> {
  const api = kubeConfig.makeApiClient(CoreV1Api);
  const id = randomBytes(4).toString('hex');
  const name = `contrast-pf-echo-${id}`;
  const deadService = `contrast-pf-dead-${id}`;
  const cleanup = async () => {
    await api.deleteNamespacedPod({ name, namespace }).catch(() => {});
    await api.deleteNamespacedService({ name, namespace }).catch(() => {});
    await api.deleteNamespacedService({ name: deadService, namespace }).catch(() => {});
  };
  try {
    await api.createNamespacedPod({
      namespace,
      body: {
        metadata: { name, labels: { 'contrast-pf-test': id } },
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          containers: [
            {
              name: 'echo',
              image,
              command: ['node', '-e', "require('net').createServer((s) => s.pipe(s)).listen(8080)"],
              ports: [{ containerPort: 8080 }],
              readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
            },
          ],
        },
      },
    });
    await api.createNamespacedService({
      namespace,
      body: {
        metadata: { name },
        spec: { selector: { 'contrast-pf-test': id }, ports: [{ port: 1313, targetPort: 8080 }] },
      },
    });
    await api.createNamespacedService({
      namespace,
      body: {
        metadata: { name: deadService },
        spec: { selector: { 'contrast-pf-test': `${id}-nobody` }, ports: [{ port: 80 }] },
      },
    });
    const until = Date.now() + 180_000;
    for (;;) {
      const pod = await api.readNamespacedPod({ name, namespace });
      if (pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) break;
      if (Date.now() > until)
        throw new Error(`the echo pod did not get ready: ${JSON.stringify(pod.status)}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  } catch (error) {
    await cleanup();
    throw error;
  }
  return {
    name,
    deadService,
    podStatus: (pod) =>
      api.readNamespacedPod({ name: pod, namespace }).then(
        () => 200,
        (e: { code?: number }) => e.code,
      ),
    delete: cleanup,
  };
}
