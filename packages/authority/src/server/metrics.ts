import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The Coordinator's Prometheus metrics (names as upstream where upstream has them). */
export interface CoordinatorMetrics {
  registry: Registry;
  requests: Counter<'route' | 'method' | 'code'>;
  latency: Histogram<'route' | 'method'>;
  attestationFailures: Counter<'reason'>;
  peerRecoveries: Counter<'result'>;
  rollbacks: Counter;
}

export function createMetrics(source: { generation(): number; status(): string }): CoordinatorMetrics {
  const registry = new Registry();
  const requests = new Counter({
    name: 'contrast_http_server_handled_total',
    help: 'API requests handled, by route, method and HTTP status.',
    labelNames: ['route', 'method', 'code'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'contrast_http_server_handling_seconds',
    help: 'API request handling time in seconds.',
    labelNames: ['route', 'method'] as const,
    buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const attestationFailures = new Counter({
    name: 'contrast_meshapi_attestation_failures_total',
    help: 'Evidence refused by the mesh API, by reason code.',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const peerRecoveries = new Counter({
    name: 'contrast_peer_recoveries_total',
    help: 'Peer recovery attempts of this replica while stale, by result.',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  const rollbacks = new Counter({
    name: 'contrast_coordinator_rollbacks_total',
    help: 'Times the store went back to an older latest pointer while this replica was active (written back).',
    registers: [registry],
  });
  new Gauge({
    name: 'contrast_coordinator_manifest_generation',
    help: 'Number of manifests in the active history (0 when not active).',
    registers: [registry],
    collect() {
      this.set(source.generation());
    },
  });
  new Gauge({
    name: 'contrast_coordinator_status',
    help: 'The Coordinator state (1 for the current one).',
    labelNames: ['status'] as const,
    registers: [registry],
    collect() {
      const now = source.status();
      for (const s of ['uninitialized', 'active', 'stale']) this.set({ status: s }, s === now ? 1 : 0);
    },
  });
  return { registry, requests, latency, attestationFailures, peerRecoveries, rollbacks };
}
