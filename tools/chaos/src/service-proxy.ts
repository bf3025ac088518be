// A Kubernetes Service on loopback, as far as the initializers can tell: one TCP address in front
// of the replicas, new connections spread round-robin over the endpoints that are ready (what
// kube-proxy does for the `coordinator-ready` Service once the endpoints controller dropped a pod
// whose readiness probe failed), connections refused when there is none. Bytes are relayed
// unchanged (TLS ends in the replica), and a connection dies with its replica.
import { connect, createServer, type Socket } from 'node:net';

/** One endpoint of the Service: a replica's API port on 127.0.0.1. */
export interface Endpoint {
  name: string;
  port: number;
}

/** @public */
export interface ServiceProxy {
  readonly port: number;
  /** Connections accepted, and how many of them reached a replica, per replica name. */
  readonly stats: {
    accepted: number;
    refused: number;
    upstreamErrors: number;
    routed: Record<string, number>;
  };
  close(): Promise<void>;
}

/**
 * Starts the proxy on 127.0.0.1 (port chosen by the system). `endpoints()` is asked for each new
 * connection: the replicas that are ready now (the readiness probes decide, see
 * `ReadinessProber`). A connection to an endpoint that has died meanwhile fails like it would in a
 * cluster before the endpoints controller noticed: the client's connection is reset.
 */
export async function startServiceProxy(endpoints: () => readonly Endpoint[]): Promise<ServiceProxy> {
  const open = new Set<Socket>();
  const stats = { accepted: 0, refused: 0, upstreamErrors: 0, routed: {} as Record<string, number> };
  let next = 0;
  const server = createServer((client) => {
    stats.accepted++;
    open.add(client);
    client.on('close', () => open.delete(client));
    client.on('error', () => {});
    const ready = endpoints();
    if (ready.length === 0) {
      stats.refused++;
      client.resetAndDestroy();
      return;
    }
    const target = ready[next++ % ready.length]!;
    stats.routed[target.name] = (stats.routed[target.name] ?? 0) + 1;
    const upstream = connect({ host: '127.0.0.1', port: target.port });
    open.add(upstream);
    upstream.on('close', () => {
      open.delete(upstream);
      client.destroy();
    });
    upstream.on('error', () => {
      stats.upstreamErrors++;
      if (!client.destroyed) client.resetAndDestroy();
    });
    client.on('close', () => upstream.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    port,
    stats,
    close() {
      for (const s of open) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
