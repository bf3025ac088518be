// Where a stale Coordinator looks for active peers in Kubernetes: the EndpointSlices of the
// Coordinator's headless Service. The address types and the static source are in peers/peer-list.ts
// (the kube-free `@contrast-cc/authority/peers` entry).
import { ContrastError, isContrastError, type Logger, noopLogger } from '@contrast-cc/core';
import { type KubeApi, kubeApiFromConfig } from '@contrast-cc/store';
import type { KubeConfig, V1EndpointSliceList } from '@kubernetes/client-node';
import type { PeerAddress, PeerSource } from './peers/peer-list.js';

/** Options of {@link kubernetesPeers}. @public */
export interface KubernetesPeerOptions {
  /** The API server (no @kubernetes/client-node at run time), or a KubeConfig's current context: one of the two. */
  kube?: KubeApi;
  kubeConfig?: KubeConfig;
  namespace: string;
  /** The Coordinator's headless Service (default `coordinator`, `publishNotReadyAddresses`). */
  service?: string;
  /** The name of the API port in the Service (default `api`). */
  portName?: string;
  /** The port when the slice names none (default 1314, upstream's HTTP API port). */
  defaultPort?: number;
  /** This replica's pod name (`HOSTNAME`): its own endpoint is skipped. */
  selfPodName?: string;
  /** This replica's own addresses (pod IP): skipped too. */
  selfAddresses?: readonly string[];
  /** Deadline of the EndpointSlice list request (default 10 s; then `unavailable`). */
  requestTimeoutMs?: number;
  logger?: Logger;
}

/** `work`, or an `unavailable` rejection at the deadline or when `signal` aborts. */
function bounded<T>(work: Promise<T>, ms: number, signal: AbortSignal | undefined, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const stop = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ContrastError('unavailable', `${what}: no answer in ${ms} ms`)), ms);
    onAbort = () => reject(new ContrastError('unavailable', `${what}: aborted`));
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([work, stop]).finally(() => {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  });
}

/**
 * The peers behind the Coordinator's Service, from its EndpointSlices (discovery.k8s.io/v1, label
 * `kubernetes.io/service-name=<service>`): every IPv4/IPv6 address of every endpoint that is not
 * terminating and not this replica, with the Service's `api` port. Stale replicas are listed too
 * (the headless Service publishes not-ready addresses); they answer `needs_recovery` and the
 * round moves on. Needs RBAC `list` on `endpointslices` in `discovery.k8s.io`.
 * @public
 */
export function kubernetesPeers(options: KubernetesPeerOptions): PeerSource {
  if (!options.kube && !options.kubeConfig) {
    throw new ContrastError('invalid-argument', 'a KubeApi or a KubeConfig is required', { field: 'kube' });
  }
  const api = options.kube ?? kubeApiFromConfig(options.kubeConfig as KubeConfig);
  const service = options.service ?? 'coordinator';
  const portName = options.portName ?? 'api';
  const log = (options.logger ?? noopLogger).child({ component: 'peer-discovery' });
  const self = new Set(options.selfAddresses ?? []);
  return {
    kind: 'kubernetes',
    async peers(signal?: AbortSignal) {
      let list: V1EndpointSliceList;
      const controller = new AbortController();
      try {
        list = await bounded(
          api.request<V1EndpointSliceList>(
            'GET',
            `/apis/discovery.k8s.io/v1/namespaces/${encodeURIComponent(options.namespace)}/endpointslices`,
            { query: { labelSelector: `kubernetes.io/service-name=${service}` }, signal: controller.signal },
          ),
          options.requestTimeoutMs ?? 10_000,
          signal,
          `listing the EndpointSlices of service ${service}`,
        );
      } catch (e) {
        controller.abort(); // a request the deadline or the signal abandoned is not left running
        if (isContrastError(e)) throw e;
        const code = (e as { status?: number }).status;
        throw new ContrastError(
          'unavailable',
          `listing the EndpointSlices of service ${service} failed${code ? ` (HTTP ${code})` : ''}`,
          { cause: e },
        );
      }
      const out: PeerAddress[] = [];
      const seen = new Set<string>();
      for (const slice of list.items ?? []) {
        if (slice.addressType !== 'IPv4' && slice.addressType !== 'IPv6') continue;
        const port =
          slice.ports?.find((p) => p.name === portName)?.port ??
          (slice.ports?.length === 1 ? slice.ports[0]?.port : undefined) ??
          options.defaultPort ??
          1314;
        for (const ep of slice.endpoints ?? []) {
          if (ep.conditions?.terminating === true) continue;
          const name = ep.targetRef?.name ?? ep.hostname;
          if (options.selfPodName && (name === options.selfPodName || ep.hostname === options.selfPodName))
            continue;
          for (const host of ep.addresses ?? []) {
            if (self.has(host) || seen.has(`${host}:${port}`)) continue;
            seen.add(`${host}:${port}`);
            out.push({ host, port, ...(name ? { name } : {}) });
          }
        }
      }
      log.debug('discovered peers', { service, count: out.length });
      return out;
    },
  };
}
