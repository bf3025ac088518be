import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { coordinatorStateDigest } from '@contrast-cc/api';
import { createAttestedServer } from '@contrast-cc/atls';
import { type Issuer, type Logger, noopLogger, type PlatformRegistry } from '@contrast-cc/core';
import type { HistoryStore } from '@contrast-cc/store';
import { Authority } from '../authority.js';
import {
  findActivePeer,
  type PeerRecoveryLoop,
  type PeerRecoveryLoopOptions,
  startPeerRecovery,
} from '../peer-recovery.js';
import type { PeerSource } from '../peers/peer-list.js';
import { createApiHandler, stateToWire } from './http.js';
import { createMetrics } from './metrics.js';
import { createTlsIdentity, type TlsIdentity } from './tls.js';
import {
  type CoordinatorTransit,
  type CoordinatorTransitOptions,
  startCoordinatorTransit,
} from './transit.js';

/** Options of {@link startCoordinator}. */
export interface CoordinatorOptions {
  /** The history store (a directory or ConfigMaps); shared by all replicas. */
  store: HistoryStore;
  /** Platforms whose verifiers check workload evidence against the manifest. */
  platforms: PlatformRegistry;
  /** The Coordinator's own evidence issuer (configfs-tsm in a guest, the simulator in the demo). */
  issuer: Issuer;
  /** API listen address (default 127.0.0.1) and port (default 0: any free port; upstream 1314). */
  host?: string;
  port?: number;
  /** Probes and metrics listen address (default the API host) and port (default 0); `null` disables. */
  metricsHost?: string;
  metricsPort?: number | null;
  /** Accept evidence from insecure (simulated) platforms. */
  allowInsecure?: boolean;
  /** The TLS identity; a fresh one per process when absent. */
  tls?: TlsIdentity;
  /**
   * Peer recovery: where the other replicas are. When given, a stale Coordinator recovers itself
   * from an active peer in the background (see the README). Absent: off (one replica, or
   * recovery by a seed-share owner only).
   */
  peers?: PeerSource;
  /**
   * Tuning of the peer recovery loop (delays in ms), and `onRecovered`: called each time the loop
   * recovered this replica from a peer (see {@link PeerRecoveryLoopOptions.onRecovered}).
   */
  peerRecovery?: Pick<
    PeerRecoveryLoopOptions,
    'minDelayMs' | 'maxDelayMs' | 'idleCheckMs' | 'timeoutMs' | 'attemptTimeoutMs' | 'onRecovered'
  >;
  /**
   * Limits against hostile clients: request body bytes buffered at once over all requests
   * (default 17 MiB), outstanding challenge nonces in all and per client address, idle
   * connections (closed after `idleTimeoutMs`, default 30 s) and open connections (default 1024).
   */
  limits?: {
    maxBufferedBytes?: number;
    nonces?: { max?: number; maxPerClient?: number };
    idleTimeoutMs?: number;
    maxConnections?: number;
  };
  /**
   * The transit API for Vault/OpenBao auto-unseal (see @contrast-cc/transit): served once the
   * Coordinator is active, over mutual TLS with the current mesh CA. Absent or null: off.
   */
  transit?: CoordinatorTransitOptions | null;
  logger?: Logger;
}

/** A running Coordinator. */
export interface RunningCoordinator {
  host: string;
  port: number;
  /** Port of `/metrics` and `/probe/*`, when enabled. */
  metricsPort: number | undefined;
  /** Port of the transit API, once it listens (enabled and the Coordinator active). */
  readonly transitPort: number | undefined;
  authority: Authority;
  /** Stops accepting, closes connections and the servers; leaves the store open. */
  close(): Promise<void>;
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/**
 * Starts the Coordinator in this process: the authority on the store (uninitialized, or stale
 * when the store has a history), the attested HTTPS API, and the probes/metrics server.
 */
export async function startCoordinator(options: CoordinatorOptions): Promise<RunningCoordinator> {
  const log = (options.logger ?? noopLogger).child({ component: 'coordinator' });
  const tls = options.tls ?? (await createTlsIdentity());
  let authority: Authority | undefined;
  const metrics = createMetrics({
    generation: () => authority?.generation ?? 0,
    status: () => authority?.status ?? 'uninitialized',
  });
  const peers = options.peers;
  const peerOptions = () => ({
    authority: auth,
    store: options.store,
    issuer: options.issuer,
    platforms: options.platforms,
    allowInsecure: options.allowInsecure ?? false,
    peers: peers as PeerSource,
    ...(options.peerRecovery?.timeoutMs ? { timeoutMs: options.peerRecovery.timeoutMs } : {}),
    ...(options.peerRecovery?.attemptTimeoutMs
      ? { attemptTimeoutMs: options.peerRecovery.attemptTimeoutMs }
      : {}),
    logger: log,
  });
  const limits = options.limits ?? {};
  authority = await Authority.open({
    ...(limits.nonces ? { nonceLimits: limits.nonces } : {}),
    store: options.store,
    platforms: options.platforms,
    channelKey: tls.key,
    allowInsecure: options.allowInsecure ?? false,
    logger: log,
    onAttestationFailure: (reason) => metrics.attestationFailures.inc({ reason: reason.code }),
    onRollback: () => metrics.rollbacks.inc(),
    ...(options.peers
      ? {
          // Runs while a `recover` request waits for its answer: bounded well below the API's
          // idle timeout (30 s) and the CLI's request timeout (30 s), whatever the attempt deadline.
          hasActivePeer: async () =>
            (await findActivePeer({
              ...peerOptions(),
              attemptTimeoutMs: Math.min(options.peerRecovery?.attemptTimeoutMs ?? 20_000, 20_000),
            })) !== undefined,
        }
      : {}),
  });
  const auth = authority;
  // From here on, a failure (a port in use) must not leave the authority's watch or a
  // listening server behind.
  const opened: (() => Promise<void> | void)[] = [() => auth.close()];
  const undo = async () => {
    for (const close of opened.reverse()) await close();
  };
  const api = createAttestedServer({
    issuer: options.issuer,
    key: tls.key,
    cert: tls.certPem,
    // One snapshot: its digest is bound into the evidence, its fields travel in the same answer.
    state: async () => {
      const snapshot = await auth.state();
      const { version: _v, ...fields } = stateToWire(snapshot);
      return { digest: coordinatorStateDigest(snapshot), fields };
    },
    handler: createApiHandler(auth, metrics, log, {
      ...(limits.maxBufferedBytes !== undefined ? { maxBufferedBytes: limits.maxBufferedBytes } : {}),
    }),
    ...(limits.idleTimeoutMs !== undefined ? { idleTimeoutMs: limits.idleTimeoutMs } : {}),
    ...(limits.maxConnections !== undefined ? { maxConnections: limits.maxConnections } : {}),
    logger: log,
  });
  const host = options.host ?? '127.0.0.1';
  let bound: { port: number };
  let probes: Server | undefined;
  let metricsPort: number | undefined;
  try {
    bound = await api.listen(options.port ?? 0, host);
    opened.push(() => api.close());

    if (options.metricsPort !== null) {
      probes = createServer((req, res) => {
        const path = (req.url ?? '').split('?')[0];
        const reply = (status: number, text: string, type = 'text/plain') => {
          res.writeHead(status, { 'content-type': type });
          res.end(text);
        };
        if (path === '/probe/startup' || path === '/probe/liveness') return reply(200, 'ok\n');
        if (path === '/probe/readiness') {
          return auth.status === 'active' ? reply(200, 'ok\n') : reply(503, `${auth.status}\n`);
        }
        if (path === '/metrics') {
          metrics.registry.metrics().then(
            (text) => reply(200, text, metrics.registry.contentType),
            () => reply(500, 'metrics failed\n'),
          );
          return;
        }
        reply(404, 'not found\n');
      });
      metricsPort = await listen(probes, options.metricsPort ?? 0, options.metricsHost ?? host);
      const p = probes;
      opened.push(() => new Promise<void>((resolve) => p.close(() => resolve())));
    }
  } catch (e) {
    await undo();
    throw e;
  }
  let peerLoop: PeerRecoveryLoop | undefined;
  if (options.peers) {
    peerLoop = startPeerRecovery({
      ...peerOptions(),
      ...options.peerRecovery,
      onResult: (result) => metrics.peerRecoveries.inc({ result }),
    });
  }
  let transit: CoordinatorTransit | undefined;
  if (options.transit) {
    transit = startCoordinatorTransit(auth, { ...options.transit, host: options.transit.host ?? host }, log);
  }
  log.info('coordinator started', { host, port: bound.port, metricsPort, status: auth.status });

  return {
    host,
    port: bound.port,
    metricsPort,
    get transitPort() {
      return transit?.port;
    },
    authority: auth,
    async close() {
      await transit?.close();
      await peerLoop?.stop();
      auth.close();
      await api.close();
      if (probes) {
        const p = probes;
        await new Promise<void>((resolve) => {
          p.closeAllConnections();
          p.close(() => resolve());
        });
      }
      log.info('coordinator stopped');
    },
  };
}
