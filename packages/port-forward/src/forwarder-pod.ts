import { randomBytes } from 'node:crypto';
import type { V1Pod } from '@kubernetes/client-node';
import { describeTarget, type ForwardTarget } from './target.js';

/** The label every forwarder pod carries (value `contrast-port-forward`): find leftovers with it. @public */
export const FORWARDER_NAME_LABEL = 'app.kubernetes.io/name';
/** @public */
export const FORWARDER_NAME_VALUE = 'contrast-port-forward';
/** @public */
export const FORWARDER_MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
/** @public */
export const FORWARDER_MANAGED_BY_VALUE = 'contrast';
/** The annotation that names what a forwarder pod relays to (`svc/<name>:<port>`). @public */
export const FORWARDER_TARGET_ANNOTATION = 'contrast.edgeless.systems/port-forward-target';
/**
 * The label selector of every forwarder pod, for `kubectl get pods -l …` / `kubectl delete pods -l …`.
 * @public
 */
export const FORWARDER_SELECTOR = `${FORWARDER_NAME_LABEL}=${FORWARDER_NAME_VALUE},${FORWARDER_MANAGED_BY_LABEL}=${FORWARDER_MANAGED_BY_VALUE}`;

/** The port the relay listens on inside the forwarder pod (loopback only). @public */
export const RELAY_PORT = 8000;
/** The port the relay opens once the target answered; the readiness probe dials it. @public */
export const HEALTH_PORT = 8001;
/** The user the port-forwarder image runs as. */
const RELAY_USER = 65532;

/** Where the relay connects: a Service's cluster DNS name or a pod IP, and the port. @public */
export interface RelayTarget {
  host: string;
  port: number;
}

/** A unique forwarder pod name: `contrast-port-forward-<10 random base-36 chars>`. @public */
export function forwarderPodName(random: () => Uint8Array = () => randomBytes(10)): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const suffix = [...random()].map((b) => alphabet[b % alphabet.length]).join('');
  return `${FORWARDER_NAME_VALUE}-${suffix}`;
}

/**
 * The forwarder pod: the port-forwarder image in a plain pod (no runtimeClassName: the cluster's
 * default runtime, which serves port-forward), relaying RELAY_PORT to `relay`; Ready once the
 * relay reached its target (tcpSocket probe on HEALTH_PORT). It never restarts, mounts no
 * service account token, runs as a non-root user with no capabilities and a read-only root
 * file system.
 * @public
 */
export function forwarderPod(options: {
  name: string;
  namespace: string;
  image: string;
  target: ForwardTarget;
  remotePort: number;
  relay: RelayTarget;
}): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: options.name,
      namespace: options.namespace,
      labels: {
        [FORWARDER_NAME_LABEL]: FORWARDER_NAME_VALUE,
        [FORWARDER_MANAGED_BY_LABEL]: FORWARDER_MANAGED_BY_VALUE,
      },
      annotations: {
        [FORWARDER_TARGET_ANNOTATION]: `${describeTarget(options.target)}:${options.remotePort}`,
      },
    },
    spec: {
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      terminationGracePeriodSeconds: 2,
      securityContext: {
        runAsNonRoot: true,
        runAsUser: RELAY_USER,
        runAsGroup: RELAY_USER,
        seccompProfile: { type: 'RuntimeDefault' },
      },
      containers: [
        {
          name: 'port-forwarder',
          image: options.image,
          env: [
            { name: 'FORWARD_TARGET_HOST', value: options.relay.host },
            { name: 'FORWARD_TARGET_PORT', value: String(options.relay.port) },
            { name: 'FORWARD_LISTEN_PORT', value: String(RELAY_PORT) },
            { name: 'FORWARD_HEALTH_PORT', value: String(HEALTH_PORT) },
          ],
          ports: [
            { name: 'relay', containerPort: RELAY_PORT, protocol: 'TCP' },
            { name: 'health', containerPort: HEALTH_PORT, protocol: 'TCP' },
          ],
          readinessProbe: { tcpSocket: { port: HEALTH_PORT }, periodSeconds: 1, failureThreshold: 1 },
          resources: {
            requests: { cpu: '10m', memory: '32Mi' },
            limits: { memory: '96Mi' },
          },
          securityContext: {
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ['ALL'] },
          },
        },
      ],
    },
  };
}
