import { ContrastError, isDnsLabel, type KubeObject } from '@contrast-cc/core';

/** Options of {@link coordinatorResources}. */
export interface CoordinatorResourceOptions {
  /** Namespace of every object; omitted (the apply namespace) when absent. */
  namespace?: string;
  /** The Coordinator image, pinned by digest in releases. */
  image: string;
  /** StatefulSet replicas; all share the ConfigMap history. Default 1. */
  replicas?: number;
  /** Expose the `coordinator` Service as a LoadBalancer (upstream annotation). Default true. */
  expose?: boolean;
  apiPort?: number;
  metricsPort?: number;
  /** RuntimeClass; `contrast generate` replaces it with the hashed handler. Default `contrast-cc`. */
  runtimeClassName?: string;
}

const NAME = 'coordinator';

/**
 * The Coordinator's V8 heap, sized to its 256Mi memory limit: node would otherwise size it from
 * the limit itself (about 272 MB of heap in a 256Mi cgroup, more than the limit) and grow toward
 * it lazily, so the kernel would kill the pod before V8 collected hard. Old space 128 MB (the live
 * data, an in-flight 16 MiB manifest included) and young generation semi-spaces of 4 MB (default
 * 16: the young generation alone grew by about 50 MB under load). `pnpm --silent bench
 * coordinator-load` runs the Coordinator with these flags inside a 256Mi memory cgroup.
 */
export const COORDINATOR_NODE_OPTIONS = '--max-old-space-size=128 --max-semi-space-size=4';
const LABELS = { 'app.kubernetes.io/name': NAME };
const ROLE_ANNOTATION = { 'contrast.edgeless.systems/pod-role': 'coordinator' };

/**
 * The Coordinator's Kubernetes resources, as upstream's `coordinator.yml`: ServiceAccount, Role and
 * RoleBinding (ConfigMaps for the history, pods to find the owning StatefulSet), the StatefulSet
 * `coordinator`, the Service `coordinator` (all pods, also not-ready ones: users reach a stale
 * Coordinator to recover it) and `coordinator-ready` (ready pods only: initializers).
 */
export function coordinatorResources(options: CoordinatorResourceOptions): KubeObject[] {
  if (options.namespace !== undefined && !isDnsLabel(options.namespace)) {
    throw new ContrastError('invalid-argument', 'not a valid namespace name', { field: 'namespace' });
  }
  if (typeof options.image !== 'string' || !/^[^\s@]+(@sha256:[0-9a-f]{64}|:[\w.-]+)?$/.test(options.image)) {
    throw new ContrastError('invalid-argument', 'not an image reference', { field: 'image' });
  }
  const replicas = options.replicas ?? 1;
  if (!Number.isInteger(replicas) || replicas < 1) {
    throw new ContrastError('invalid-argument', 'replicas must be a positive integer', { field: 'replicas' });
  }
  const apiPort = options.apiPort ?? 1314;
  const metricsPort = options.metricsPort ?? 9102;
  const transitPort = 8200;
  const meta = (name: string, extra: Record<string, unknown> = {}) => ({
    name,
    ...(options.namespace ? { namespace: options.namespace } : {}),
    ...extra,
  });
  const probe = (path: string, extra: Record<string, unknown>) => ({
    httpGet: { path, port: metricsPort },
    ...extra,
  });

  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(NAME) },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: meta(NAME),
      rules: [
        {
          apiGroups: [''],
          resources: ['configmaps'],
          verbs: ['get', 'list', 'watch', 'create', 'update'],
        },
        { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] },
        // Peer recovery finds the other replicas through the EndpointSlices of the `coordinator` Service.
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: meta(NAME),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: NAME },
      subjects: [
        {
          kind: 'ServiceAccount',
          name: NAME,
          ...(options.namespace ? { namespace: options.namespace } : {}),
        },
      ],
    },
    {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: meta(NAME, { labels: LABELS }),
      spec: {
        replicas,
        serviceName: NAME,
        selector: { matchLabels: LABELS },
        template: {
          metadata: { labels: LABELS, annotations: ROLE_ANNOTATION },
          spec: {
            runtimeClassName: options.runtimeClassName ?? 'contrast-cc',
            serviceAccountName: NAME,
            affinity: {
              podAntiAffinity: {
                preferredDuringSchedulingIgnoredDuringExecution: [
                  {
                    weight: 100,
                    podAffinityTerm: {
                      labelSelector: { matchLabels: LABELS },
                      topologyKey: 'kubernetes.io/hostname',
                    },
                  },
                ],
              },
            },
            containers: [
              {
                name: NAME,
                image: options.image,
                env: [
                  { name: 'NODE_OPTIONS', value: COORDINATOR_NODE_OPTIONS },
                  { name: 'CONTRAST_STORE', value: 'configmap' },
                  { name: 'CONTRAST_API_PORT', value: String(apiPort) },
                  { name: 'CONTRAST_METRICS_PORT', value: String(metricsPort) },
                  { name: 'CONTRAST_TRANSIT_PORT', value: String(transitPort) },
                  {
                    name: 'CONTRAST_NAMESPACE',
                    valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } },
                  },
                ],
                ports: [
                  { name: 'api', containerPort: apiPort },
                  { name: 'metrics', containerPort: metricsPort },
                  { name: 'transit', containerPort: transitPort },
                ],
                startupProbe: probe('/probe/startup', { periodSeconds: 1, failureThreshold: 60 }),
                livenessProbe: probe('/probe/liveness', { periodSeconds: 10 }),
                readinessProbe: probe('/probe/readiness', { periodSeconds: 5 }),
                resources: { requests: { memory: '256Mi' }, limits: { memory: '256Mi' } },
              },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(NAME, {
        ...(options.expose === false
          ? {}
          : { annotations: { 'contrast.edgeless.systems/expose-service': 'true' } }),
      }),
      spec: {
        ...(options.expose === false ? {} : { type: 'LoadBalancer' }),
        selector: LABELS,
        publishNotReadyAddresses: true,
        ports: [{ name: 'api', port: apiPort, targetPort: apiPort }],
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta('coordinator-ready'),
      spec: {
        selector: LABELS,
        ports: [
          { name: 'api', port: apiPort, targetPort: apiPort },
          // In-cluster only (mutual TLS with mesh certificates): Vault/OpenBao auto-unseal.
          { name: 'transit', port: transitPort, targetPort: transitPort },
        ],
      },
    },
  ];
}
