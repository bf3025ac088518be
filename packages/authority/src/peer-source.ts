// Where a stale Coordinator looks for active peers: a static list (tests, embedded setups) or the
// EndpointSlices of the Coordinator's headless Service in Kubernetes.
import { isIP } from 'node:net';
import { ContrastError, type Logger, noopLogger } from '@contrast-cc/core';
import { DiscoveryV1Api, type KubeConfig } from '@kubernetes/client-node';

/** One peer Coordinator's API address. @public */
export interface PeerAddress {
  host: string;
  port: number;
  /** A name for logs (the pod name in Kubernetes). */
  name?: string;
}

/** Finds the other Coordinator replicas. Called once per recovery round. @public */
export interface PeerSource {
  /** What the source is, for logs (`static`, `kubernetes`). */
  readonly kind: string;
  /** The current peers (not this replica). Throws (e.g. `unavailable`) when discovery fails. */
  peers(signal?: AbortSignal): Promise<PeerAddress[]>;
}

function parseOne(text: string, field: string): PeerAddress {
  const t = text.trim();
  const m = t.match(/^\[([0-9a-fA-F:.]+)\]:(\d+)$/) ?? t.match(/^([^:\s[\]]+):(\d+)$/);
  const host = m?.[1];
  const port = Number(m?.[2]);
  if (!host || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ContrastError(
      'invalid-argument',
      `${JSON.stringify(t)} is not host:port (IPv6 as [addr]:port, port 1-65535)`,
      { field },
    );
  }
  if (host.includes(':') && isIP(host) !== 6) {
    throw new ContrastError('invalid-argument', `${JSON.stringify(host)} is not an IPv6 address`, { field });
  }
  return { host, port };
}

/**
 * Parses a comma-separated peer list: `host:port`, `[ipv6]:port`. Throws `invalid-argument`
 * naming the entry (`peers[i]`).
 * @public
 */
export function parsePeerList(text: string): PeerAddress[] {
  const parts = text
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  if (parts.length === 0) {
    throw new ContrastError('invalid-argument', 'the peer list is empty', { field: 'peers' });
  }
  return parts.map((p, i) => parseOne(p, `peers[${i}]`));
}

/**
 * A fixed list of peers (`host:port` strings or addresses).
 * @public
 */
export function staticPeers(list: readonly (string | PeerAddress)[]): PeerSource {
  const peers = list.map((p, i) => {
    if (typeof p === 'string') return parseOne(p, `peers[${i}]`);
    if (!p?.host || !Number.isInteger(p.port) || p.port < 1 || p.port > 65535) {
      throw new ContrastError('invalid-argument', 'a peer needs a host and a port 1-65535', {
        field: `peers[${i}]`,
      });
    }
    return { ...p };
  });
  return {
    kind: 'static',
    peers: async () => peers.map((p) => ({ ...p })),
  };
}

/** Options of {@link kubernetesPeers}. @public */
export interface KubernetesPeerOptions {
  kubeConfig: KubeConfig;
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
  logger?: Logger;
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
  const api = options.kubeConfig.makeApiClient(DiscoveryV1Api);
  const service = options.service ?? 'coordinator';
  const portName = options.portName ?? 'api';
  const log = (options.logger ?? noopLogger).child({ component: 'peer-discovery' });
  const self = new Set(options.selfAddresses ?? []);
  return {
    kind: 'kubernetes',
    async peers() {
      let list: Awaited<ReturnType<DiscoveryV1Api['listNamespacedEndpointSlice']>>;
      try {
        list = await api.listNamespacedEndpointSlice({
          namespace: options.namespace,
          labelSelector: `kubernetes.io/service-name=${service}`,
        });
      } catch (e) {
        const code = (e as { code?: number }).code;
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
